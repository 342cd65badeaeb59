package hbclient

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// Holder and Hung see the run directory's lock and the process its pid
// file names: a holder that is not `o2cb-ra daemon` (this test) is not a
// hung daemon to kill.
func TestHolderAndHung(t *testing.T) {
	dir := t.TempDir()
	if pid, held := Holder(dir); held || pid != 0 {
		t.Errorf("Holder(empty dir) = %d, %v; want 0, false", pid, held)
	}
	if pid, ok := Hung(dir); ok {
		t.Errorf("Hung(empty dir) = %d, true; want none", pid)
	}
	lock, err := rundir.LockPID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pid, held := Holder(dir); !held || pid != os.Getpid() {
		t.Errorf("Holder(locked dir) = %d, %v; want %d, true", pid, held, os.Getpid())
	}
	if pid, ok := Hung(dir); ok {
		t.Errorf("Hung(dir locked by the test) = %d, true; want none: the test is no daemon", pid)
	}
	lock.Close()
	if pid, held := Holder(dir); held {
		t.Errorf("Holder(dir after the lock closed) = %d, true; want not held", pid)
	}
}

// WaitLaunched gives up a second after the pid file names no live
// process, and returns true once a daemon answers.
func TestWaitLaunched(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(dir)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if WaitLaunched(ctx, c, dir) {
		t.Fatal("WaitLaunched() with no daemon and no pid file = true, want false")
	}
	if ctx.Err() != nil {
		t.Fatal("WaitLaunched() without a pid file waited until its deadline")
	}
	fakeDaemon(t, dir, 100*time.Millisecond, func(Request) Response { return Response{V: ProtocolVersion, OK: true, Status: &Status{}} })
	lock, err := rundir.LockPID(dir) // a live pid: the wait goes on until the daemon listens
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if !WaitLaunched(ctx, c, dir) {
		t.Fatal("WaitLaunched() with a daemon coming up = false, want true")
	}
}
