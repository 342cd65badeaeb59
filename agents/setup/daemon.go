package setup

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
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// The node's heartbeat daemon belongs to the o2cb resource: its start
// launches it and its stop ends it. The start also records how it
// launched the daemon (LaunchName in the run directory), so that when the
// daemon dies, the first agent that needs it brings it back as the o2cb
// resource had it: an hbregion resource whose monitor noticed first is
// restarted by Pacemaker before the o2cb clone, and its start must not
// fail for a daemon that the clone's own recovery would bring back a
// moment later (a failed start bans the resource from the node). The
// daemon resumes its regions from its state file. The o2cb stop removes
// the record with the daemon, so a stopped cluster stays stopped.

// LaunchName is the launch record's name in the run directory.
const LaunchName = "daemon-launch.json"

// daemonFlags are the flags a launch record may carry.
var daemonFlags = []string{"run-dir", "cluster-conf", "cluster", "node-name", "interval-ms", "dead-threshold", "devices"}

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

// DaemonArgs are o2cb-ra's arguments that launch the daemon of this run
// directory with the given flags (name to value; see daemonFlags).
func DaemonArgs(flags map[string]string) []string {
	args := []string{"daemon"}
	for _, f := range daemonFlags {
		if v, ok := flags[f]; ok {
			args = append(args, "--"+f+"="+v)
		}
	}
	return args
}

// Running reports whether the daemon answers a ping.
func (s *Setup) Running(ctx context.Context) (bool, error) {
	_, err := s.Client.Ping(ctx)
	if errors.Is(err, hbclient.ErrNotRunning) {
		return false, nil
	}
	return err == nil, err
}

// MonitorStatus is the daemon's status for a monitor, which must answer
// within a second: no daemon is OCF_NOT_RUNNING, one that does not answer
// in time OCF_ERR_GENERIC.
func (s *Setup) MonitorStatus(c *ocf.Context) (*hbclient.Status, error) {
	ctx, cancel := context.WithTimeout(c, time.Second)
	defer cancel()
	st, err := s.Client.Status(ctx)
	if errors.Is(err, hbclient.ErrNotRunning) {
		return nil, ocf.Errorf(ocf.NotRunning, "heartbeat daemon not running")
	}
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s does not answer: %v", s.RunDir, err)
	}
	return st, nil
}

// PrepareRunDir makes sure the run directory exists and is safe. An
// unsafe one is a matter of ownership and mode on this node:
// OCF_ERR_PERM keeps the resource off this node only, and the reason
// names the directory.
func (s *Setup) PrepareRunDir() error {
	if err := rundir.PrepareRunDir(s.RunDir); errors.Is(err, rundir.ErrUnsafeRunDir) {
		return ocf.Errorf(ocf.ErrPerm, "%v", err)
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// EnsureDaemon records args as the daemon's launch and starts the daemon
// with them unless one answers.
func (s *Setup) EnsureDaemon(c *ocf.Context, args []string) error {
	if err := s.PrepareRunDir(); err != nil {
		return err
	}
	l := launch{Args: args}
	if err := l.check(); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "launch the heartbeat daemon: %v", err)
	}
	b, _ := json.Marshal(l)
	if err := atomicfile.WriteFile(filepath.Join(s.RunDir, LaunchName), append(b, '\n'), 0o600); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "record the heartbeat daemon's launch: %v", err)
	}
	return s.launch(c, args)
}

func (s *Setup) launch(c *ocf.Context, args []string) error {
	if up, err := s.Running(c); up {
		return nil
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s: %v", s.RunDir, err)
	}
	exe, err := Executable()
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "find o2cb-ra: %v", err)
	}
	out, err := exec.CommandContext(c, exe, args...).CombinedOutput()
	if err != nil {
		// Another start may have won the race for the run directory:
		// its daemon holds the pid file and answers once it listens.
		if s.otherDaemonAnswers(c) {
			return nil
		}
		return ocf.Errorf(ocf.ErrGeneric, "start the heartbeat daemon: %s", strings.TrimSpace(string(out)))
	}
	c.Log.Info("heartbeat daemon started", "run_dir", s.RunDir, "output", strings.TrimSpace(string(out)))
	return nil
}

// readLaunch reads the launch record; ok is false when there is none.
func (s *Setup) readLaunch() (l launch, ok bool, err error) {
	path := filepath.Join(s.RunDir, LaunchName)
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

// NeedDaemon makes sure the daemon answers, for an action that needs it
// (hbregion start): it relaunches a daemon that died as the o2cb
// resource had launched it; without a launch record (the o2cb resource
// is stopped, or starting), it waits for the daemon until the action's
// deadline.
func (s *Setup) NeedDaemon(c *ocf.Context) error {
	if up, err := s.Running(c); up {
		return nil
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s: %v", s.RunDir, err)
	}
	l, ok, err := s.readLaunch()
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if ok {
		c.Log.Warn("the heartbeat daemon is not running; starting it again as the o2cb resource launched it", "run_dir", s.RunDir)
		return s.launch(c, l.Args)
	}
	c.Log.Info("waiting for the heartbeat daemon (the o2cb resource starts it)", "run_dir", s.RunDir)
	begin := time.Now()
	if err := s.Client.WaitAnswering(c, 100*time.Millisecond); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v: none answered on %s within %.0fs", hbclient.ErrNotRunning,
			s.RunDir, time.Since(begin).Seconds())
	}
	return nil
}

// otherDaemonAnswers waits for a daemon that another start launched, and
// reports whether it answers: while the pid file names a live process
// (that daemon has the run directory's lock and may not listen yet), at
// most detachWait; once it names none for pidGrace (a winner writes its
// pid right after it takes the lock), no longer.
func (s *Setup) otherDaemonAnswers(c *ocf.Context) bool {
	const (
		detachWait = 30 * time.Second // what `o2cb-ra daemon` waits for its own
		pidGrace   = time.Second
	)
	ctx, cancel := context.WithTimeout(c, detachWait)
	defer cancel()
	lastLive := time.Now()
	for {
		if up, _ := s.Running(ctx); up {
			return true
		}
		if pid := rundir.ReadPID(s.RunDir); pid > 0 && process.Running(pid) {
			lastLive = time.Now()
		} else if time.Since(lastLive) > pidGrace {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ClearStopped forgets what a daemon that died left behind, once no
// daemon holds the run directory: its state file (whose regions a next
// daemon would resume, owners and all, though every owner has since been
// stopped) and the launch record. The o2cb stop calls it: the cluster is
// stopped on this node, and its next start begins afresh.
func (s *Setup) ClearStopped() error {
	if rundir.Held(s.RunDir) {
		return fmt.Errorf("a heartbeat daemon (pid %d) holds %s but does not answer", rundir.ReadPID(s.RunDir), s.RunDir)
	}
	return s.remove(rundir.StateName, LaunchName)
}

// remove removes the named files of the run directory that exist.
func (s *Setup) remove(names ...string) error {
	var errs []error
	for _, name := range names {
		if err := os.Remove(filepath.Join(s.RunDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StopDaemon sends SIGTERM to the daemon with pid and waits until it is
// gone, then removes the launch record.
func (s *Setup) StopDaemon(c *ocf.Context, pid int) error {
	if pid <= 0 {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon reported pid %d", pid)
	}
	if err := s.signalAndWait(c, pid, syscall.SIGTERM); err != nil {
		return err
	}
	c.Log.Info("heartbeat daemon stopped", "pid", pid)
	if err := s.remove(LaunchName); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// HungDaemon returns the pid of a daemon that holds the run directory
// (its pid file is locked, and names a live `o2cb-ra daemon` process),
// for a stop to end one that does not answer.
func (s *Setup) HungDaemon() (int, bool) {
	pid := rundir.ReadPID(s.RunDir)
	if pid <= 0 || !rundir.Held(s.RunDir) || !process.Running(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if args := strings.Split(string(cmdline), "\x00"); err != nil || len(args) < 2 || args[1] != "daemon" {
		return 0, false
	}
	return pid, true
}

// KillDaemon ends the daemon with pid by SIGKILL and waits until it is
// gone.
func (s *Setup) KillDaemon(c *ocf.Context, pid int) error {
	return s.signalAndWait(c, pid, syscall.SIGKILL)
}

// signalAndWait sends sig to the daemon with pid and waits until it is
// gone (hbclient.StopDaemon), within the action's deadline.
func (s *Setup) signalAndWait(c *ocf.Context, pid int, sig syscall.Signal) error {
	if err := hbclient.StopDaemon(c, s.RunDir, pid, sig); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// ownSlotStale is how many intervals may pass without the daemon reading
// its own slot back as written before depth 10 counts the region lost.
const ownSlotStale = 3

// CheckOwnSlot is the depth-10 check: the daemon must have read this
// node's slot back, as it wrote it, within the last ownSlotStale
// intervals. The monitor reads no device itself: a read of a hung device
// would hold the monitor's process in uninterruptible sleep, and a
// process cannot exit before its I/O ends. The daemon's reads are
// watched by its own bounded loop.
func CheckOwnSlot(r hbclient.RegionStatus, interval time.Duration) error {
	limit := ownSlotStale * interval
	switch {
	case r.OwnSlotAge < 0:
		return fmt.Errorf("own slot on %s never read back yet", r.Device)
	case time.Duration(r.OwnSlotAge*float64(time.Second)) > limit:
		why := ""
		if r.IOInFlight > 0 {
			why = fmt.Sprintf("; a device call has been in flight for %.1fs", r.IOInFlight)
		}
		return fmt.Errorf("own slot on %s not read back for %.1fs (limit %v)%s", r.Device, r.OwnSlotAge, limit, why)
	}
	return nil
}
