package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
)

// exitNotRunning is status's exit code when no daemon answers (as
// service status scripts use 3 for "not running").
const exitNotRunning = 3

var statusCommand = &cli.Command{
	Name:  "status",
	Usage: "print this node, every heartbeat region and the live nodes",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		runDirFlag,
		&cli.DurationFlag{Name: "timeout", Value: time.Second, Usage: "how long to wait for the daemon"},
		&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "redraw every --interval, like crm_mon: a row per region, a column per node, changes marked and listed"},
		&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "with --watch, time between redraws"},
		confFlag,
		&cli.IntFlag{Name: "count", Usage: "with --watch, stop after this many redraws (0: until interrupted)"},
	},
	Action: func(c *cli.Context) error {
		if c.Bool("watch") {
			if c.Duration("interval") <= 0 {
				return cli.Exit("--interval must be positive", 2)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			nodes := func(cluster string) []metrics.Node {
				ns, _ := clusterNodes(c.String("cluster-conf"), cluster)
				return ns
			}
			return watch(ctx, c.App.Writer, isTerminal(c.App.Writer), c.Duration("interval"), c.Int("count"), statusClient(c).Status, nodes)
		}
		st, err := askStatus(c)
		if errors.Is(err, hbclient.ErrNotRunning) {
			return cli.Exit(err.Error(), exitNotRunning)
		}
		if err != nil {
			return err
		}
		if st.Backend == hbclient.BackendKernel {
			addKernelView(o2cbfs.Kernel{}, st)
		}
		if c.Bool("json") {
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		return printStatus(c.App.Writer, st)
	},
}

// statusClient is a client of the daemon of --run-dir that waits at
// most --timeout.
func statusClient(c *cli.Context) *hbclient.Client {
	client := hbclient.NewClient(c.String("run-dir"))
	client.Timeout = c.Duration("timeout")
	return client
}

// askStatus asks the daemon of --run-dir for its status.
func askStatus(c *cli.Context) (*hbclient.Status, error) { return statusClient(c).Status(c.Context) }

func joinInts(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func printStatus(w io.Writer, st *hbclient.Status) error {
	backend := ""
	if st.Backend != "" { // "": a daemon from before the field
		backend = st.Backend + " backend, "
	}
	fmt.Fprintf(w, "node %s (number %d) in cluster %s, %s heartbeat, %sinterval %d ms, dead threshold %d, daemon pid %d\n",
		st.Node.Name, st.Node.Number, st.Cluster, st.Mode, backend, st.IntervalMS, st.DeadThreshold, st.PID)
	if len(st.Regions) == 0 {
		fmt.Fprintln(w, "no heartbeat region is running")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tDEVICE\tSTATE\tOWNERS\tLIVE NODES\tLAST WRITE\tERRORS R/W/BAD")
		for _, r := range st.Regions {
			var owners []string
			for _, o := range r.Owners {
				if o.Refs > 1 {
					owners = append(owners, fmt.Sprintf("%s(%d)", o.Name, o.Refs))
				} else {
					owners = append(owners, o.Name)
				}
			}
			age := "never"
			if r.LastWriteAge >= 0 {
				age = fmt.Sprintf("%.1fs ago", r.LastWriteAge)
			}
			state := string(r.State)
			if r.IOInFlight > 1 {
				state += fmt.Sprintf(" (I/O stuck %.0fs)", r.IOInFlight)
			}
			state += retryNote(r)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d\n", r.UUID, r.Device, state, strings.Join(owners, ","),
				joinInts(r.LiveNodes), age, r.ReadErrors, r.WriteErrors, r.BadBlocks)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range st.Regions {
			if r.Error != "" {
				fmt.Fprintf(w, "%s: %s\n", r.UUID, r.Error)
			}
			if r.KernelLiveNodes != nil {
				fmt.Fprintf(w, "%s: the kernel's own view (debugfs): live nodes %s\n", r.UUID, joinInts(r.KernelLiveNodes))
			}
			if r.RetryBlocked != "" {
				fmt.Fprintf(w, "%s: not retried yet: %s\n", r.UUID, r.RetryBlocked)
			}
		}
	}
	_, err := fmt.Fprintf(w, "live nodes: %s\n", joinInts(st.LiveNodes))
	return err
}

// retryNote says how the daemon retries a failed region, for the STATE
// column: "(retry 3 in 8.0s at 12:00:08)", "(retry 3 under way)" or
// "(retry 3 waits)"; "" when it does not retry it.
func retryNote(r hbclient.RegionStatus) string {
	next := r.Retries + 1
	switch {
	case r.Retrying:
		return fmt.Sprintf(" (retry %d under way)", r.Retries)
	case r.RetryBlocked != "":
		return fmt.Sprintf(" (retry %d waits)", next)
	case r.NextRetry != nil:
		at := ""
		if t, err := time.Parse(hbclient.RetryTimeFormat, r.RetryAt); err == nil {
			at = " at " + t.Local().Format("15:04:05")
		}
		return fmt.Sprintf(" (retry %d in %.1fs%s)", next, *r.NextRetry, at)
	}
	return ""
}

// addKernelView adds the kernel's own live nodes of each region, where
// debugfs shows them, beside what the daemon observes.
func addKernelView(k o2cbfs.Kernel, st *hbclient.Status) {
	for i := range st.Regions {
		if live, ok := k.LiveNodes(st.Regions[i].UUID); ok {
			st.Regions[i].KernelLiveNodes = append([]int{}, live...)
		}
	}
}
