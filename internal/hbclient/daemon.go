package hbclient

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// WaitAnswering pings the daemon, then again every poll, until it
// answers (nil) or ctx ends (ctx's error). Whatever a ping fails with
// (no daemon yet, one that is not listening yet) counts as not yet.
func (c *Client) WaitAnswering(ctx context.Context, poll time.Duration) error {
	for {
		if _, err := c.Ping(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// stopPoll is how often StopDaemon looks whether the daemon is gone.
const stopPoll = 20 * time.Millisecond

// StopDaemon sends sig to the daemon of runDir, process pid, and waits
// until it is gone, until ctx ends: the process, and its lock of the run
// directory (rundir.Held), which its last thread releases (the first to
// exit, the one whose state the pid shows, may be a zombie before the
// others are gone). A process already gone is not an error.
func StopDaemon(ctx context.Context, runDir string, pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("no heartbeat daemon to signal: pid %d", pid)
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal heartbeat daemon %d (%v): %w", pid, sig, err)
	}
	for process.Running(pid) || rundir.Held(runDir) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("heartbeat daemon %d did not exit after %v in time", pid, sig)
		case <-time.After(stopPoll):
		}
	}
	return nil
}
