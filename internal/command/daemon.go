package command

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbd"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Flags shared by the commands that find the daemon or configure it; the
// environment variables let several simulated nodes share one machine.
var (
	runDirFlag = &cli.StringFlag{Name: "run-dir", Value: rundir.DefaultRunDir, Usage: "daemon socket, pid and state directory", EnvVars: []string{"O2CB_RUN_DIR"}}
	confFlag   = &cli.StringFlag{Name: "cluster-conf", Value: clusterconf.DefaultPath, Usage: "cluster configuration", EnvVars: []string{"O2CB_CLUSTER_CONF"}}
	nodeFlag   = &cli.StringFlag{Name: "node-name", Usage: "this node's name in cluster.conf (default: the host name)", EnvVars: []string{"O2CB_NODE_NAME"}}
	intervalMS = &cli.IntFlag{Name: "interval-ms", Value: int(hbdisk.DefaultInterval / time.Millisecond), Usage: fmt.Sprintf("heartbeat interval in milliseconds (%d to %d)", hbdisk.MinInterval/time.Millisecond, hbdisk.MaxInterval/time.Millisecond), EnvVars: []string{"O2CB_HEARTBEAT_INTERVAL_MS"}}
	threshold  = &cli.IntFlag{Name: "dead-threshold", Value: hbdisk.DefaultDeadThreshold, Usage: fmt.Sprintf("iterations without a change before a node is dead (%d to %d)", hbdisk.MinDeadThreshold, hbdisk.MaxDeadThreshold), EnvVars: []string{"O2CB_DEAD_THRESHOLD"}}
)

var daemonCommand = &cli.Command{
	Name:  "daemon",
	Usage: "run the node's heartbeat daemon (detaches unless --foreground)",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "foreground", Usage: "stay in the foreground and log to stderr"},
		runDirFlag, confFlag, nodeFlag, intervalMS, threshold,
		&cli.StringFlag{Name: "cluster", Usage: "cluster name (default: the only cluster)"},
		&cli.StringFlag{Name: "devices", Usage: "extra device paths or globs, separated by colons or spaces, searched first for a UUID", EnvVars: []string{"O2CB_HB_DEVICES"}},
		&cli.BoolFlag{Name: "kernel-guard", Value: true, EnvVars: []string{"O2CB_KERNEL_GUARD"},
			Usage: "look for kernel nodes (o2net) in the cluster while writing heartbeats, and stop writing when one is found"},
		&cli.StringFlag{Name: "heartbeat-backend", Value: hbclient.BackendUserspace, Usage: fmt.Sprintf("what writes the heartbeat: %s (the daemon), %s (nobody here: the daemon only reads the regions) or %s (the kernel's o2hb: the daemon only reads)", hbclient.BackendUserspace, hbclient.BackendObserver, hbclient.BackendKernel), EnvVars: []string{"O2CB_HEARTBEAT_BACKEND"}},
		&cli.StringFlag{Name: "metrics-address", EnvVars: []string{"O2CB_METRICS_ADDRESS"},
			Usage: "host:port to serve Prometheus metrics on (GET /metrics), as o2cb-ra metrics prints them; off when empty. It has no authentication: bind it to a management address"},
		&cli.IntFlag{Name: "ready-fd", Hidden: true, Usage: "file descriptor to report readiness on (set when detaching)"},
	},
	Action: runDaemon,
}

func daemonConfig(c *cli.Context) (hbd.Config, error) {
	name := c.String("heartbeat-backend")
	src, err := heartbeatSource(name, ocfs2.SplitDeviceList(c.String("devices")))
	if err != nil {
		return hbd.Config{}, err
	}
	return hbd.Config{
		RunDir:        c.String("run-dir"),
		ClusterConf:   c.String("cluster-conf"),
		Cluster:       c.String("cluster"),
		NodeName:      c.String("node-name"),
		Interval:      time.Duration(c.Int("interval-ms")) * time.Millisecond,
		DeadThreshold: c.Int("dead-threshold"),
		Procs:         raiseProcs,
		Source:        src,
		Backend:       name,
	}, nil
}

// heartbeatSource is the source of the daemon's regions for backend name
// (--heartbeat-backend, O2CB_HEARTBEAT_BACKEND): our writer, or, where
// the kernel or nobody on this node writes, an observer that only reads.
func heartbeatSource(name string, devices []string) (backend.Source, error) {
	us := backend.Userspace{Devices: devices}
	switch name {
	case hbclient.BackendUserspace:
		return us, nil
	case hbclient.BackendObserver, hbclient.BackendKernel:
		return backend.Observer{Userspace: us}, nil
	}
	return nil, fmt.Errorf("heartbeat backend %q (O2CB_HEARTBEAT_BACKEND) is none of %s, %s, %s", name,
		hbclient.BackendUserspace, hbclient.BackendObserver, hbclient.BackendKernel)
}

func runDaemon(c *cli.Context) error {
	cfg, err := daemonConfig(c)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if !c.Bool("foreground") {
		return detach(c)
	}
	var ready func(error)
	logOut := io.Writer(c.App.ErrWriter)
	if fd := c.Int("ready-fd"); fd > 0 {
		w := os.NewFile(uintptr(fd), "ready")
		ready = func(err error) {
			if err != nil {
				fmt.Fprintf(w, "error: %v\n", err)
			} else {
				fmt.Fprintln(w, "ok")
			}
			w.Close()
		}
		out, err := daemonLog(cfg.RunDir)
		if err != nil {
			ready(err)
			return err
		}
		logOut = out
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := hbd.New(cfg)
	if err != nil {
		if ready != nil {
			ready(err)
		}
		return err
	}
	// The metrics listener first: a daemon whose address is taken starts
	// nothing.
	var metricsLn net.Listener
	if addr := c.String("metrics-address"); addr != "" {
		if metricsLn, err = net.Listen("tcp", addr); err != nil {
			err = fmt.Errorf("metrics listener: %w", err)
			if ready != nil {
				ready(err)
			}
			return err
		}
	}
	s, err := hbd.Listen(d)
	if err != nil && metricsLn != nil {
		metricsLn.Close()
	}
	if ready != nil {
		ready(err)
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if metricsLn != nil {
		go serveMetrics(ctx, metricsLn, d, cfg.ClusterConf, cfg.Logger)
	}
	if cfg.Backend == hbclient.BackendKernel {
		go d.FollowKernel(ctx, kernelRegions, cfg.Interval)
	}
	if c.Bool("kernel-guard") && cfg.Backend == hbclient.BackendUserspace {
		// Only a writer can harm kernel nodes.
		go d.Guard(ctx, hbd.Guard{OwnKernel: ownKernel})
	}
	return s.Serve(ctx)
}

// serveMetrics answers GET /metrics on ln with the daemon's status,
// until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, d *hbd.Daemon, conf string, log *slog.Logger) {
	log.Info("metrics listener", "address", ln.Addr().String())
	err := metrics.Serve(ctx, ln, func(w io.Writer) error {
		st := d.Status()
		nodes, _ := clusterNodes(conf, st.Cluster) // without them, the live nodes only
		return metrics.Write(w, st, nodes)
	})
	if err != nil {
		log.Error("metrics listener stopped", "err", err)
	}
}

// ownKernel says why this node's own kernel runs the o2cb stack, where
// it does: a userspace writer beside it would be a second node 'this'.
func ownKernel() string {
	c, err := o2cbfs.Kernel{}.Registered()
	if err != nil || c == nil {
		return ""
	}
	return fmt.Sprintf("this node's kernel has o2cb cluster %s registered", c.Name)
}

// raiseProcs gives the runtime want Ps (GOMAXPROCS) as the daemon asks
// for them: it only ever raises GOMAXPROCS, and leaves a GOMAXPROCS set
// in the environment alone.
func raiseProcs(want int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if want > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(want)
	}
}

// daemonLog is where a detached daemon logs: syslog when the machine has
// one, else a file in the run directory.
func daemonLog(runDir string) (io.Writer, error) {
	if _, err := os.Stat("/dev/log"); err == nil {
		if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "o2hbd"); err == nil {
			return w, nil
		}
	}
	if err := rundir.PrepareRunDir(runDir); err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, rundir.LogName)
	f, err := rundir.OpenOwn(path, "log file", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600, nil)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// detachTimeout bounds how long the parent waits for the daemon to say it
// is ready.
const detachTimeout = 30 * time.Second

// detach runs this command again in the foreground, in a new session
// with no inherited stdio, and returns once that daemon is ready or has
// failed, with its error.
func detach(c *cli.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	args := append([]string{"daemon", "--foreground", "--ready-fd=3"}, c.Args().Slice()...)
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if name == "foreground" || name == "ready-fd" || !c.IsSet(name) {
			continue
		}
		args = append(args, fmt.Sprintf("--%s=%v", name, c.Value(name)))
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the heartbeat daemon: %w", err)
	}
	w.Close()
	pid := cmd.Process.Pid
	cmd.Process.Release()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	ctx, cancel := context.WithTimeout(c.Context, detachTimeout)
	defer cancel()
	select {
	case s := <-line:
		switch {
		case s == "ok":
			fmt.Fprintf(c.App.Writer, "heartbeat daemon started (pid %d)\n", pid)
			return nil
		case strings.HasPrefix(s, "error: "):
			return cli.Exit(strings.TrimPrefix(s, "error: "), 1)
		}
		return cli.Exit(fmt.Sprintf("the heartbeat daemon (pid %d) exited before it was ready", pid), 1)
	case <-ctx.Done():
		return cli.Exit(fmt.Sprintf("the heartbeat daemon (pid %d) was not ready within %v", pid, detachTimeout), 1)
	}
}

// kernelRegions lists the regions whose kernel thread runs, with their
// block devices.
func kernelRegions() ([]hbd.KernelRegion, error) {
	rs, err := o2cbfs.Kernel{}.Regions()
	if err != nil {
		return nil, err
	}
	var out []hbd.KernelRegion
	for _, r := range rs {
		if r.Started() && r.Dev != "" {
			out = append(out, hbd.KernelRegion{UUID: r.UUID, Device: "/dev/" + r.Dev})
		}
	}
	return out, nil
}
