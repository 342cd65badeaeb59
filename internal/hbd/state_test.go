package hbd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

// TestLoadStateRefusesWhatIsNotOurs: a symlink planted at state.json is
// not followed, a foreign or writable file not read.
func TestLoadStateRefusesWhatIsNotOurs(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	good := `{"version":1,"regions":[{"uuid":"00112233445566778899AABBCCDDEEFF","device":"/dev/x","owners":{"global":1}}]}`
	if err := os.WriteFile(victim, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := loadState(victim); err != nil || len(st.Regions) != 1 {
		t.Fatalf("loadState(%s) = %+v, %v; want one region", victim, st, err)
	}
	link := filepath.Join(dir, rundir.StateName)
	os.Symlink(victim, link)
	if _, err := loadState(link); !errors.Is(err, ErrUnsafeState) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("loadState(symlink) = %v, want ErrUnsafeState", err)
	}
	os.Chmod(victim, 0o666)
	if _, err := loadState(victim); !errors.Is(err, ErrUnsafeState) || !strings.Contains(err.Error(), "mode 0666") {
		t.Fatalf("loadState(0666 file) = %v, want ErrUnsafeState", err)
	}
	if _, err := loadState(dir); !errors.Is(err, ErrUnsafeState) {
		t.Fatalf("loadState(directory) = %v, want ErrUnsafeState", err)
	}
}

// TestWireState: every state of the engine reaches the wire as the
// client's constant of the same name.
func TestWireState(t *testing.T) {
	for _, c := range []struct {
		eng  hbdisk.State
		wire hbclient.State
	}{
		{hbdisk.Starting, hbclient.StateStarting},
		{hbdisk.Steady, hbclient.StateSteady},
		{hbdisk.Failed, hbclient.StateFailed},
		{hbdisk.Collision, hbclient.StateCollision},
		{hbdisk.Stopped, hbclient.StateStopped},
	} {
		if got := wireState(c.eng); got != c.wire {
			t.Errorf("wireState(%q) = %q, want %q", c.eng, got, c.wire)
		}
	}
}
