package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

var heartbeatCommand = &cli.Command{
	Name:      "heartbeat",
	Usage:     "heartbeat as one node on OCFS2 volumes in the foreground, printing who is live",
	ArgsUsage: "DEVICE...",
	Description: "Runs one heartbeat region per device without the daemon, until interrupted,\n" +
		"then writes the clean-stop block. For trying out and diagnosing a setup.",
	Flags: []cli.Flag{
		&cli.IntFlag{Name: "node", Usage: fmt.Sprintf("this node's number (0..%d)", hbdisk.MaxNodes-1), Required: true},
		&cli.StringFlag{Name: "nodes", Usage: "configured node numbers, e.g. 1,2,3 (default: every slot)"},
		intervalMS, threshold,
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print transitions only, not the engine's log"},
	},
	Action: runHeartbeat,
}

// parseNodes parses "1,2,3" or "1-3,7".
func parseNodes(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("--nodes: %q is not a node number", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("--nodes: %q is not a range of node numbers", part)
			}
		}
		for n := a; n <= b; n++ {
			if n < 0 || n >= hbdisk.MaxNodes {
				return nil, fmt.Errorf("--nodes: node %d is outside 0..%d", n, hbdisk.MaxNodes-1)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

func runHeartbeat(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.Exit("heartbeat: give at least one device or image", 2)
	}
	nodes, err := parseNodes(c.String("nodes"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	interval := time.Duration(c.Int("interval-ms")) * time.Millisecond
	out := &lineWriter{w: c.App.Writer}
	logOut := io.Writer(c.App.ErrWriter)
	if c.Bool("quiet") {
		logOut = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var src backend.Userspace
	var regions []backend.Engine
	for _, path := range c.Args().Slice() {
		spec, err := backend.Inspect(path)
		if err != nil {
			return err
		}
		short := spec.UUID[:8]
		r, err := src.Run(spec, backend.Params{
			Node: c.Int("node"), Nodes: nodes, Interval: interval, DeadThreshold: c.Int("dead-threshold"),
			Logger: logger,
			OnEvent: func(e hbdisk.Event) {
				switch e.Kind {
				case hbdisk.NodeUp, hbdisk.NodeDown:
					out.printf("%s region %s: %s\n", time.Now().Format("15:04:05.000"), short, e)
				}
			},
		})
		if err != nil {
			return err
		}
		regions = append(regions, r)
	}

	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(regions))
	for i, r := range regions {
		wg.Go(func() {
			begin := time.Now()
			if errs[i] = r.Start(ctx); errs[i] != nil {
				return
			}
			st := r.Status()
			out.printf("%s region %s on %s: steady after %.2f intervals as node %d, live nodes %v\n",
				time.Now().Format("15:04:05.000"), st.UUID[:8], st.Device,
				float64(time.Since(begin))/float64(interval), st.Node, st.LiveNodes)
		})
	}
	wg.Wait()
	running := 0
	for i, err := range errs {
		if err != nil {
			out.printf("region %s: %v\n", regions[i].Status().UUID, err)
			continue
		}
		running++
	}
	if running > 0 {
		for _, r := range regions {
			go func() {
				<-r.Done()
				if err := r.Err(); err != nil {
					out.printf("%s region %s: %v\n", time.Now().Format("15:04:05.000"), r.Status().UUID[:8], err)
				}
			}()
		}
		<-ctx.Done()
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 2*interval+5*time.Second)
	defer cancel()
	for _, r := range regions {
		if err := r.Stop(stopCtx); err != nil {
			out.printf("%v\n", err)
		}
	}
	if err := errors.Join(errs...); err != nil && running == 0 {
		return cli.Exit("heartbeat: no region started", 1)
	}
	return nil
}

// lineWriter serializes whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, a...)
}
