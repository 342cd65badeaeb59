// Package daemonctl is the lifecycle of the node's heartbeat daemon as
// the agents drive it: launched by the o2cb start (Ensure), brought back
// for an action that needs it (Need), stopped by the o2cb stop (Stop,
// ClearStopped, and Kill for one that holds the run directory but does
// not answer), and asked for its status by the monitors (MonitorStatus,
// CheckOwnSlot). The pids it signals come from the daemon's own answers
// or from hbclient's lifecycle helpers, never from the pid file here.
//
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
package daemonctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Daemon is the heartbeat daemon of one run directory.
type Daemon struct {
	RunDir string
	Client *hbclient.Client
}

// New is the daemon of runDir.
func New(runDir string) *Daemon {
	return &Daemon{RunDir: runDir, Client: hbclient.NewClient(runDir)}
}

// Running reports whether the daemon answers a ping.
func (d *Daemon) Running(ctx context.Context) (bool, error) {
	_, err := d.Client.Ping(ctx)
	if errors.Is(err, hbclient.ErrNotRunning) {
		return false, nil
	}
	return err == nil, err
}

// PrepareRunDir makes sure the run directory exists and is safe. An
// unsafe one is a matter of ownership and mode on this node:
// OCF_ERR_PERM keeps the resource off this node only, and the reason
// names the directory.
func (d *Daemon) PrepareRunDir() error {
	if err := rundir.PrepareRunDir(d.RunDir); errors.Is(err, rundir.ErrUnsafeRunDir) {
		return ocf.Errorf(ocf.ErrPerm, "%v", err)
	} else if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// ClearStopped forgets what a daemon that died left behind, once no
// daemon holds the run directory: its state file (whose regions a next
// daemon would resume, owners and all, though every owner has since been
// stopped) and the launch record. The o2cb stop calls it: the cluster is
// stopped on this node, and its next start begins afresh.
func (d *Daemon) ClearStopped() error {
	if pid, held := hbclient.Holder(d.RunDir); held {
		return fmt.Errorf("a heartbeat daemon (pid %d) holds %s but does not answer", pid, d.RunDir)
	}
	return d.remove(rundir.StateName, LaunchName)
}

// remove removes the named files of the run directory that exist.
func (d *Daemon) remove(names ...string) error {
	var errs []error
	for _, name := range names {
		if err := os.Remove(filepath.Join(d.RunDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop sends SIGTERM to the daemon with pid (from its status) and waits
// until it is gone, then removes the launch record.
func (d *Daemon) Stop(c *ocf.Context, pid int) error {
	if pid <= 0 {
		return ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon reported pid %d", pid)
	}
	if err := hbclient.StopDaemon(c, d.RunDir, pid, syscall.SIGTERM); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	c.Log.Info("heartbeat daemon stopped", "pid", pid)
	if err := d.remove(LaunchName); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// hangUpWait bounds how long a stop waits for a daemon that hung up
// without answering to let go of the run directory.
const hangUpWait = 5 * time.Second

// StopRegion stops owner's reference to region uuid in the daemon. A
// daemon that hangs up without answering is waited for as in
// StopStatus, and asked again: a stop that fails gets the node fenced,
// and a daemon that died has stopped the region with it.
func (d *Daemon) StopRegion(ctx context.Context, uuid, owner string) error {
	return d.afterHangUp(ctx, func() error {
		_, err := d.Client.Do(ctx, hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: owner})
		return err
	})
}

// StopStatus is the daemon's status for a stop. A daemon that hangs up
// without answering is dying, or died with the request in flight: its
// listening socket lives until its last thread is gone, after the
// thread whose state its pid shows. Once it is gone (hbclient.Gone),
// within hangUpWait, it is asked again, and answers
// hbclient.ErrNotRunning; one that is not gone by then gives the
// hang-up.
func (d *Daemon) StopStatus(ctx context.Context) (*hbclient.Status, error) {
	var st *hbclient.Status
	err := d.afterHangUp(ctx, func() (err error) {
		st, err = d.Client.Status(ctx)
		return err
	})
	return st, err
}

// afterHangUp runs ask, a request that may be sent twice, and once more
// after the daemon hung up on it and is gone (hbclient.WaitGone).
func (d *Daemon) afterHangUp(ctx context.Context, ask func() error) error {
	err := ask()
	if !errors.Is(err, hbclient.ErrNoAnswer) {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, hangUpWait)
	defer cancel()
	if !hbclient.WaitGone(wait, d.RunDir, 0) {
		return err
	}
	return ask()
}

// Hung returns the pid of a daemon that holds the run directory (its pid
// file is locked, and names a live `o2cb-ra daemon` process), for a stop
// to end one that does not answer.
func (d *Daemon) Hung() (int, bool) { return hbclient.Hung(d.RunDir) }

// Kill ends the daemon with pid (from Hung) by SIGKILL and waits until
// it is gone, within the action's deadline.
func (d *Daemon) Kill(c *ocf.Context, pid int) error {
	if err := hbclient.KillHung(c, d.RunDir, pid); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}

// MonitorStatus is the daemon's health (hbclient.Health) for a monitor, which must answer
// within a second: no daemon is OCF_NOT_RUNNING, one that does not answer
// in time OCF_ERR_GENERIC.
func (d *Daemon) MonitorStatus(c *ocf.Context) (*hbclient.Status, error) {
	ctx, cancel := context.WithTimeout(c, time.Second)
	defer cancel()
	st, err := d.Client.Health(ctx)
	if errors.Is(err, hbclient.ErrNotRunning) {
		return nil, ocf.Errorf(ocf.NotRunning, "heartbeat daemon not running")
	}
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrGeneric, "heartbeat daemon in %s does not answer: %v", d.RunDir, err)
	}
	return st, nil
}

// NotSeen is a running region whose live nodes lack this node: its
// state, and the error status gives for it.
type NotSeen struct {
	State hbclient.State
	Err   string
}

func (e *NotSeen) Error() string {
	if e.Err == "" {
		return string(e.State)
	}
	return string(e.State) + ": " + e.Err
}

// Lost is a monitor's verdict on a region that runs (r, in the status of
// the daemon of node self): nil while it is starting (it is steady or
// failed within a bounded number of iterations: a daemon brought back
// after it died resumes its regions so) or sees this node; a *NotSeen
// when it does not; at depth 10 (level), CheckOwnSlot's error when the
// daemon did not read this node's slot back within a few intervals.
// An observer (self < 0) writes no slot: its region is lost only when
// it no longer reads.
func Lost(r hbclient.RegionStatus, self, level int, interval time.Duration) error {
	switch {
	case r.State == hbclient.StateStarting:
		return nil
	case self < 0 && r.State == hbclient.StateSteady:
		return nil
	case self < 0:
		return &NotSeen{State: r.State, Err: r.Error}
	case !slices.Contains(r.LiveNodes, self):
		return &NotSeen{State: r.State, Err: r.Error}
	case level >= 10:
		return CheckOwnSlot(r, interval)
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

// Self is the node number Lost judges a region of st by: this node's,
// or -1 for an observer, which is seen in no region.
func Self(st *hbclient.Status) int {
	if st.Backend == hbclient.BackendObserver {
		return -1
	}
	return st.Node.Number
}
