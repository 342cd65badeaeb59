package hbclient

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// What a caller that launches or ends the daemon of a run directory
// needs beyond a ping: whether a daemon holds the run directory, the
// pid of one that holds it but does not answer, and a wait for a daemon
// that another launch started. Callers learn pids here and signal them
// through StopDaemon and KillHung, never from the pid file themselves.

// Holder reports whether a daemon holds runDir (its pid file is
// locked) and the pid the file names (0 if none).
func Holder(runDir string) (pid int, held bool) {
	if !rundir.Held(runDir) {
		return 0, false
	}
	return rundir.ReadPID(runDir), true
}

// Hung returns the pid of a daemon that holds runDir: its pid file is
// locked and names a live `o2cb-ra daemon` process. A caller that found
// the daemon not answering ends it with KillHung.
func Hung(runDir string) (int, bool) {
	pid := rundir.ReadPID(runDir)
	if pid <= 0 || !rundir.Held(runDir) || !process.Running(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if args := strings.Split(string(cmdline), "\x00"); err != nil || len(args) < 2 || args[1] != "daemon" {
		return 0, false
	}
	return pid, true
}

// KillHung ends the daemon of runDir with pid (from Hung) by SIGKILL
// and waits until it is gone, until ctx ends.
func KillHung(ctx context.Context, runDir string, pid int) error {
	return StopDaemon(ctx, runDir, pid, syscall.SIGKILL)
}

// launchPIDGrace is how long WaitLaunched waits for a daemon that took
// the run directory's lock to write its pid (it writes it right after).
const launchPIDGrace = time.Second

// WaitLaunched waits for a daemon that another launch started on
// runDir, and reports whether it answers (on c): while the pid file
// names a live process (that daemon has the lock and may not listen
// yet), until ctx ends; once it names none for a second, no longer.
func WaitLaunched(ctx context.Context, c *Client, runDir string) bool {
	lastLive := time.Now()
	for {
		if _, err := c.Ping(ctx); err == nil {
			return true
		}
		if pid := rundir.ReadPID(runDir); pid > 0 && process.Running(pid) {
			lastLive = time.Now()
		} else if time.Since(lastLive) > launchPIDGrace {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
