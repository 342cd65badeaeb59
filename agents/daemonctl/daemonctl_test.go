package daemonctl

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

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
