package daemonctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// LaunchName is the launch record's name in the run directory.
const LaunchName = "daemon-launch.json"

// daemonFlags are the flags a launch record may carry.
var daemonFlags = []string{"run-dir", "cluster-conf", "cluster", "node-name", "interval-ms", "dead-threshold", "devices", "kernel-guard", "heartbeat-backend", "metrics-address"}

// launch is the launch record.
type launch struct {
	Args []string `json:"args"` // o2cb-ra's arguments: "daemon" and --flag=value
}

func (l *launch) check() error {
	if len(l.Args) == 0 || l.Args[0] != "daemon" {
		return errors.New(`the arguments do not begin with "daemon"`)
	}
	for _, a := range l.Args[1:] {
		name, _, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") || !slices.Contains(daemonFlags, name) {
			return fmt.Errorf("argument %q is not a daemon flag", a)
		}
	}
	return nil
}

// Args are o2cb-ra's arguments that launch the daemon of a run
// directory with the given flags (name to value; see daemonFlags).
func Args(flags map[string]string) []string {
	args := []string{"daemon"}
	for _, f := range daemonFlags {
		if v, ok := flags[f]; ok {
			args = append(args, "--"+f+"="+v)
		}
	}
	return args
}

// Ensure records args as the daemon's launch and starts the daemon with
// them unless one answers.
func (d *Daemon) Ensure(c *ocf.Context, args []string) error {
	if err := d.PrepareRunDir(); err != nil {
		return err
	}
	l := launch{Args: args}
	if err := l.check(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "launch the heartbeat daemon: %v", err)
	}
	b, _ := json.Marshal(l)
	if err := atomicfile.WriteFile(filepath.Join(d.RunDir, LaunchName), append(b, '\n'), 0o600); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "record the heartbeat daemon's launch: %v", err)
	}
	if up, err := d.Running(c); up {
		return nil
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s: %v", d.RunDir, err)
	}
	return d.launch(c, args)
}

// detachWait is what `o2cb-ra daemon` waits for its own daemon, and so
// what a launch that lost the race waits for the winner's.
const detachWait = 30 * time.Second

// launch starts the daemon with args, for a caller that found none
// answering.
func (d *Daemon) launch(c *ocf.Context, args []string) error {
	exe, err := host.Executable()
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "find o2cb-ra: %v", err)
	}
	cmd := exec.CommandContext(c, exe, args...)
	cmd.Env = ocf.Environ(c.Env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Another start may have won the race for the run directory:
		// its daemon holds the pid file and answers once it listens.
		ctx, cancel := context.WithTimeout(c, detachWait)
		defer cancel()
		if hbclient.WaitLaunched(ctx, d.Client, d.RunDir) {
			return nil
		}
		return ocf.Errorf(ocf.ErrGeneric, "start the heartbeat daemon: %s", strings.TrimSpace(string(out)))
	}
	c.Log.Info("heartbeat daemon started", "run_dir", d.RunDir, "output", strings.TrimSpace(string(out)))
	return nil
}

// readLaunch reads the launch record; ok is false when there is none.
func (d *Daemon) readLaunch() (l launch, ok bool, err error) {
	path := filepath.Join(d.RunDir, LaunchName)
	f, err := rundir.OpenOwn(path, "launch record", os.O_RDONLY, 0, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return l, false, nil
	}
	if err != nil {
		return l, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err == nil {
		err = l.check()
	}
	if err != nil {
		return l, false, fmt.Errorf("launch record %s: %w", path, err)
	}
	return l, true, nil
}

// Need makes sure the daemon answers, for an action that needs it
// (hbregion start): it relaunches a daemon that died as the o2cb
// resource had launched it; without a launch record (the o2cb resource
// is stopped, or starting), it waits for the daemon until the action's
// deadline.
func (d *Daemon) Need(c *ocf.Context) error {
	if up, err := d.Running(c); up {
		return nil
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s: %v", d.RunDir, err)
	}
	l, ok, err := d.readLaunch()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if ok {
		c.Log.Warn("the heartbeat daemon is not running; starting it again as the o2cb resource launched it", "run_dir", d.RunDir)
		return d.launch(c, l.Args)
	}
	c.Log.Info("waiting for the heartbeat daemon (the o2cb resource starts it)", "run_dir", d.RunDir)
	begin := time.Now()
	if err := d.Client.WaitAnswering(c, 100*time.Millisecond); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v: none answered on %s within %.0fs", hbclient.ErrNotRunning,
			d.RunDir, time.Since(begin).Seconds())
	}
	return nil
}
