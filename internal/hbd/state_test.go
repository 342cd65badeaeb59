package hbd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
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

// The state file keeps every region with its owners' references, private
// to the daemon's user; a new daemon on the run directory resumes the
// regions with their owners and a new generation.
func TestStatePersistsAndResumes(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		uuid := memUUID1
		src.Add(uuid, nil)
		d := memDaemon(t, conf, "n1", src)
		for _, o := range []string{"service:/a", "service:/a", "pacemaker:r"} {
			if _, err := callStart(t, d, uuid, "", o, true); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := call(t, d, hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
		if err != nil {
			t.Fatal(err)
		}
		gen1 := resp.Region.Generation
		d.Shutdown(context.Background())

		var st stateFile
		path := filepath.Join(d.cfg.RunDir, rundir.StateName)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Regions) != 1 || st.Regions[0].Owners["service:/a"] != 2 || st.Regions[0].Owners["pacemaker:r"] != 1 ||
			st.Regions[0].Device != memsource.Device(uuid) {
			t.Fatalf("state file = %s", b)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("state file mode %v, want no group or other access", fi.Mode())
		}

		d2 := memDaemon(t, conf, "n1", src, func(c *Config) { c.RunDir = d.cfg.RunDir })
		if err := d2.resume(); err != nil {
			t.Fatalf("resume: %v", err)
		}
		deadline := time.Now().Add(20 * testInterval)
		for {
			resp, err := call(t, d2, hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
			if err == nil && resp.Region.State == hbclient.StateSteady {
				if resp.Region.Refs != 3 {
					t.Fatalf("resumed refs = %d, want 3", resp.Region.Refs)
				}
				if resp.Region.Generation == gen1 {
					t.Fatalf("resumed with the old generation %s", gen1)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("region not steady after resume: %+v %v", resp, err)
			}
			time.Sleep(testInterval / 2)
		}
	})
}
