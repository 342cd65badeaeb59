package testenv

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/process"
)

// ReadPID returns the pid a pid file holds, 0 if it holds none.
func ReadPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// StopProcess sends sig to pid, unless it has exited, and waits until it
// is gone. A process still there 10 s later fails the test and is killed
// (SIGKILL); one that outlives that by 5 s fails it again.
func StopProcess(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	gone := func(d time.Duration) bool {
		for end := time.Now().Add(d); process.Running(pid); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				return false
			}
		}
		return true
	}
	if pid <= 1 || !process.Running(pid) {
		return
	}
	syscall.Kill(pid, sig)
	if gone(10 * time.Second) {
		return
	}
	t.Errorf("process %d still runs 10s after signal %v; killing it", pid, sig)
	syscall.Kill(pid, syscall.SIGKILL)
	if !gone(5 * time.Second) {
		t.Errorf("process %d still runs 5s after SIGKILL", pid)
	}
}

// WaitFor polls cond every 5 ms for at most d and returns how long it
// took, or fails the test saying what was awaited.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for !cond() {
		if time.Since(begin) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(begin)
}
