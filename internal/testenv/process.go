package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
)

// ReadPID returns the pid a pid file holds, 0 if it holds none.
func ReadPID(path string) int { return fixture.ReadPID(path) }

// StopProcess sends sig to pid, unless it has exited, and waits until it
// is gone. A process still there 10 s later fails the test and is killed
// (SIGKILL); one that outlives that by 5 s fails it again.
func StopProcess(t testing.TB, pid int, sig syscall.Signal) {
	t.Helper()
	if err := fixture.StopProcess(pid, sig, 10*time.Second); err != nil {
		t.Error(err)
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

// Proc is a process as FindProcesses shows it to its filter.
type Proc struct {
	PID  int
	Args []string // the command line, argv[0] first
	// Env returns the process's environment, read when first asked (a
	// filter that decides by Args alone reads no environ file).
	Env func() []string
}

// FindProcesses returns the pids of the running processes (not zombies)
// that keep says are wanted, in /proc order. Processes that vanish while
// it looks are skipped.
func FindProcesses(t testing.TB, keep func(Proc) bool) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	split := func(b []byte) []string { return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") }
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !process.Running(pid) {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmdline) == 0 {
			continue
		}
		env := func() []string {
			b, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
			return split(b)
		}
		if keep(Proc{PID: pid, Args: split(cmdline), Env: env}) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Exec runs cmd (with neither Stdout nor Stderr set) and returns how it
// ended; one that could not run, was killed or timed out fails the test.
func Exec(t testing.TB, cmd *exec.Cmd) fixture.Result {
	t.Helper()
	r, err := fixture.Exec(cmd)
	if err != nil {
		t.Fatalf("%s: %v (after %v)\n%s", strings.Join(cmd.Args, " "), err, r.Took.Round(time.Millisecond), r.Stderr)
	}
	return r
}
