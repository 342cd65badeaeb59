package hbclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// fakeDaemon listens on dir's socket after delay and answers every
// request with answer(req), until the test ends.
func fakeDaemon(t *testing.T, dir string, delay time.Duration, answer func(Request) Response) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		select {
		case <-time.After(delay):
		case <-stop:
			return
		}
		ln, err := net.Listen("unix", filepath.Join(dir, rundir.SocketName))
		if err != nil {
			t.Error(err)
			return
		}
		go func() { <-stop; ln.Close() }()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			var req Request
			if err := ReadMessage(bufio.NewReader(conn), &req, MaxMessageBytes); err == nil {
				WriteMessage(conn, answer(req), MaxResponseBytes)
			}
			conn.Close()
		}
	}()
}

func TestPing(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(dir)
	if _, err := c.Ping(t.Context()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Ping() without a daemon = %v, want ErrNotRunning", err)
	}
	fakeDaemon(t, dir, 0, func(req Request) Response {
		if req.Op != OpPing || req.V != ProtocolVersion {
			return Response{V: ProtocolVersion, Error: &Error{Code: CodeBadRequest, Message: "want a ping"}}
		}
		return Response{V: ProtocolVersion, OK: true, Status: &Status{Node: Node{Name: "n1", Number: 1}, PID: 42}}
	})
	var st *Status
	var err error
	for range 1000 { // until it listens
		if st, err = c.Ping(t.Context()); !errors.Is(err, ErrNotRunning) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || st.Node.Name != "n1" || st.PID != 42 {
		t.Fatalf("Ping() = %+v, %v; want node n1, pid 42", st, err)
	}
}

// WaitAnswering returns once a daemon answers, and with the context's
// error when none does.
func TestWaitAnswering(t *testing.T) {
	dir := t.TempDir()
	c := NewClient(dir)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := c.WaitAnswering(ctx, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAnswering() without a daemon = %v, want the deadline", err)
	}
	fakeDaemon(t, dir, 100*time.Millisecond, func(Request) Response { return Response{V: ProtocolVersion, OK: true, Status: &Status{}} })
	ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.WaitAnswering(ctx, 10*time.Millisecond); err != nil {
		t.Fatalf("WaitAnswering() with a daemon coming up = %v, want nil", err)
	}
}

// StopDaemon waits for the process and then for the run directory's
// lock, which a daemon's last thread releases.
func TestStopDaemon(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// The child is reaped only at the end: until then its pid stays a
	// zombie's, never another process's to be signalled by mistake.
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The test holds the lock: the process ending is not enough.
	lock, err := rundir.LockPID(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := StopDaemon(ctx, filepath.Join(dir, "none"), pid, syscall.SIGTERM); err != nil || process.Running(pid) {
		t.Fatalf("StopDaemon() of a process with no lock = %v, running %v; want nil and it gone", err, process.Running(pid))
	}
	short, cancelShort := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancelShort()
	err = StopDaemon(short, dir, pid, syscall.SIGTERM)
	if err == nil || !strings.Contains(err.Error(), "did not exit after terminated in time") {
		t.Fatalf("StopDaemon() while the run directory's lock is held = %v, want it not gone in time", err)
	}
	lock.Close()
	if err := StopDaemon(ctx, dir, pid, syscall.SIGTERM); err != nil {
		t.Fatalf("StopDaemon() of a process gone, lock released = %v, want nil", err)
	}
	for _, bad := range []int{0, -1} {
		if err := StopDaemon(ctx, dir, bad, syscall.SIGTERM); err == nil {
			t.Errorf("StopDaemon(pid %d) = nil, want an error (it signals nothing)", bad)
		}
	}
}
