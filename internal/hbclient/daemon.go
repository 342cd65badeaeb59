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

// stopPoll is how often WaitGone looks whether the daemon is gone.
const stopPoll = 20 * time.Millisecond

// StopDaemon sends sig to the daemon of runDir, process pid, and waits
// until it is gone (Gone), until ctx ends. A process already gone is not
// an error.
func StopDaemon(ctx context.Context, runDir string, pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("no heartbeat daemon to signal: pid %d", pid)
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal heartbeat daemon %d (%v): %w", pid, sig, err)
	}
	if !WaitGone(ctx, runDir, pid) {
		return fmt.Errorf("heartbeat daemon %d did not exit after %v in time", pid, sig)
	}
	return nil
}

// Gone reports whether the daemon of runDir, process pid (0: whichever),
// is gone: pid no longer runs, and nothing holds runDir (the lock is
// released by the daemon's last thread, after the one whose state the
// pid shows; its socket closes with it).
func Gone(runDir string, pid int) bool {
	return !process.Running(pid) && !rundir.Held(runDir)
}

// WaitGone waits until Gone(runDir, pid), and reports false if ctx ends
// first.
func WaitGone(ctx context.Context, runDir string, pid int) bool {
	for !Gone(runDir, pid) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(stopPoll):
		}
	}
	return true
}
