package daemonctl

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

func TestArgs(t *testing.T) {
	args := Args(map[string]string{"devices": "/a.img", "run-dir": "/run/x", "node-name": "n1", "other": "ignored"})
	want := []string{"daemon", "--run-dir=/run/x", "--node-name=n1", "--devices=/a.img"}
	if !slices.Equal(args, want) {
		t.Errorf("Args = %q, want %q (daemon flags only, in their order)", args, want)
	}
	if l := (launch{Args: args}); l.check() != nil {
		t.Errorf("check(%q) = %v, want nil", args, l.check())
	}
}

func TestLaunchCheck(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"status"},
		{"daemon", "--run-dir"},
		{"daemon", "run-dir=/x"},
		{"daemon", "--exec=/bin/sh"},
	} {
		if l := (launch{Args: args}); l.check() == nil {
			t.Errorf("check(%q) = nil, want it refused", args)
		}
	}
}

func TestReadLaunch(t *testing.T) {
	d := New(t.TempDir())
	if _, ok, err := d.readLaunch(); ok || err != nil {
		t.Fatalf("readLaunch() without a record = %v, %v; want none", ok, err)
	}
	path := filepath.Join(d.RunDir, LaunchName)
	if err := os.WriteFile(path, []byte(`{"args":["daemon","--run-dir=/run/x"]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, ok, err := d.readLaunch(); !ok || err != nil || !slices.Equal(l.Args, []string{"daemon", "--run-dir=/run/x"}) {
		t.Errorf("readLaunch() = %q, %v, %v; want the record's arguments", l.Args, ok, err)
	}
	for _, bad := range []string{`{"args":["sh","-c","x"]}`, `{"args":`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := d.readLaunch(); ok || err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("readLaunch() of %s = %v, %v; want an error naming the record", bad, ok, err)
		}
	}
}

// TestClearStopped removes the state file and the launch record, unless
// a daemon holds the run directory.
func TestClearStopped(t *testing.T) {
	d := New(t.TempDir())
	if err := d.ClearStopped(); err != nil {
		t.Fatalf("ClearStopped() of an empty run directory = %v", err)
	}
	for _, name := range []string{rundir.StateName, LaunchName} {
		if err := os.WriteFile(filepath.Join(d.RunDir, name), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := rundir.LockPID(d.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ClearStopped(); err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("ClearStopped() while the run directory is held = %v, want an error naming pid %d", err, os.Getpid())
	}
	lock.Close()
	if err := d.ClearStopped(); err != nil {
		t.Fatalf("ClearStopped() = %v", err)
	}
	for _, name := range []string{rundir.StateName, LaunchName} {
		if _, err := os.Stat(filepath.Join(d.RunDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s after ClearStopped: %v, want it removed", name, err)
		}
	}
}

func TestLost(t *testing.T) {
	const self, iv = 2, 100 * time.Millisecond
	seen := hbclient.RegionStatus{State: hbclient.StateSteady, LiveNodes: []int{1, 2}, OwnSlotAge: 0.1, Device: "/dev/x"}
	with := func(f func(*hbclient.RegionStatus)) hbclient.RegionStatus { r := seen; f(&r); return r }
	for _, tc := range []struct {
		name  string
		r     hbclient.RegionStatus
		level int
		want  string // "" for not lost
	}{
		{"seen", seen, 0, ""},
		{"seen, depth 10", seen, 10, ""},
		{"starting, not seen", with(func(r *hbclient.RegionStatus) { r.State, r.LiveNodes = hbclient.StateStarting, nil }), 10, ""},
		{"failed", with(func(r *hbclient.RegionStatus) {
			r.State, r.LiveNodes, r.Error = hbclient.StateFailed, []int{1}, "write timed out"
		}), 0, "failed: write timed out"},
		{"steady without us", with(func(r *hbclient.RegionStatus) { r.LiveNodes = []int{1} }), 0, "steady"},
		{"own slot stale, depth 0", with(func(r *hbclient.RegionStatus) { r.OwnSlotAge = 1 }), 0, ""},
		{"own slot stale, depth 10", with(func(r *hbclient.RegionStatus) { r.OwnSlotAge = 1 }), 10, "own slot on /dev/x not read back for 1.0s"},
		{"own slot never read, depth 10", with(func(r *hbclient.RegionStatus) { r.OwnSlotAge = -1 }), 10, "own slot on /dev/x never read back yet"},
	} {
		err := Lost(tc.r, self, tc.level, iv)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tc.want == "") != (err == nil) || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: Lost = %v, want %q", tc.name, err, tc.want)
		}
		var ns *NotSeen
		if notSeen := tc.r.State != hbclient.StateStarting && !slices.Contains(tc.r.LiveNodes, self); errors.As(err, &ns) != notSeen {
			t.Errorf("%s: Lost = %#v: a *NotSeen exactly when the region does not see this node", tc.name, err)
		}
	}
}

// An observer writes no slot: its regions count while it reads them.
func TestLostObserver(t *testing.T) {
	st := &hbclient.Status{Node: hbclient.Node{Number: 2}, Backend: hbclient.BackendObserver}
	self := Self(st)
	if self >= 0 {
		t.Fatalf("Self of an observer = %d, want < 0", self)
	}
	steady := hbclient.RegionStatus{State: hbclient.StateSteady, LiveNodes: []int{1}, OwnSlotAge: -1}
	if err := Lost(steady, self, 10, time.Second); err != nil {
		t.Errorf("observer, steady region without itself, depth 10: %v, want not lost", err)
	}
	failed := hbclient.RegionStatus{State: hbclient.StateFailed, Error: "no read completed"}
	var ns *NotSeen
	if err := Lost(failed, self, 0, time.Second); !errors.As(err, &ns) || ns.Err != "no read completed" {
		t.Errorf("observer, failed region: %v, want a *NotSeen with the error", err)
	}
	if Self(&hbclient.Status{Node: hbclient.Node{Number: 2}, Backend: hbclient.BackendUserspace}) != 2 {
		t.Error("Self of a writer is not its node number")
	}
}

// dyingDaemon holds dir's lock and listens on its socket, and hangs up
// on every request without answering, as a daemon does between its
// death and its last thread's exit. After the first hang-up it goes
// (listener and lock) after linger; with linger < 0 it stays until the
// test ends.
func dyingDaemon(t *testing.T, dir string, linger time.Duration) {
	t.Helper()
	lock, err := rundir.LockPID(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, rundir.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	gone := func() { once.Do(func() { ln.Close(); lock.Close() }) }
	t.Cleanup(gone)
	go func() {
		for first := true; ; first = false {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 4096))
			conn.Close()
			if first && linger >= 0 {
				time.AfterFunc(linger, gone)
			}
		}
	}()
}

// TestStopAfterHangUp: a stop whose daemon hangs up and then lets go of
// the run directory finds it not running (the agents' stops succeed); one
// whose daemon hangs up and stays gets the hang-up, within the stop's
// deadline.
func TestStopAfterHangUp(t *testing.T) {
	const uuid = "0123456789ABCDEF0123456789ABCDEF"
	d := New(t.TempDir())
	dyingDaemon(t, d.RunDir, 200*time.Millisecond)
	if err := d.StopRegion(context.Background(), uuid, "hbregion:r"); !errors.Is(err, hbclient.ErrNotRunning) {
		t.Errorf("StopRegion() against a daemon that hung up and went = %v, want ErrNotRunning", err)
	}

	d = New(t.TempDir())
	dyingDaemon(t, d.RunDir, 200*time.Millisecond)
	if st, err := d.StopStatus(context.Background()); !errors.Is(err, hbclient.ErrNotRunning) {
		t.Errorf("StopStatus() against a daemon that hung up and went = %+v, %v; want ErrNotRunning", st, err)
	}

	d = New(t.TempDir())
	dyingDaemon(t, d.RunDir, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.StopRegion(ctx, uuid, "hbregion:r")
	if !errors.Is(err, hbclient.ErrNoAnswer) {
		t.Errorf("StopRegion() against a daemon that hangs up and stays = %v, want ErrNoAnswer", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("StopRegion() took %v past its 300ms deadline", took)
	}
}
