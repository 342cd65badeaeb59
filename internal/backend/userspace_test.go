package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

const someUUID = "00112233445566778899AABBCCDDEEFF"

// Resolve on a given device passes the device's own error on: a missing
// device, one that holds no OCFS2 volume.
func TestResolveDeviceErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		device string
		want   error
	}{
		{filepath.Join(dir, "gone.img"), fs.ErrNotExist},
		{junk, ocfs2.ErrNotOCFS2},
	} {
		if _, err := (Userspace{}).Resolve(someUUID, tc.device); !errors.Is(err, tc.want) {
			t.Errorf("Resolve(%s) = %v, want %v", tc.device, err, tc.want)
		}
	}
}

// A failed search is ErrNotFound, and still the search's error: one of
// a device that did not answer is ErrNoAnswer as well. A search for a
// region is an error of that region, whose message does not name it.
func TestNotFoundKeepsTheSearchError(t *testing.T) {
	const u = "0123456789ABCDEF0123456789ABCDEF"
	search := &ocfs2.SearchError{UUID: u, Searched: 3, Err: fmt.Errorf("/dev/sdz %w", ocfs2.ErrNoAnswer)}
	err := searchFailed(u, search)
	var re *hbdisk.RegionError
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrNoAnswer) || !errors.Is(err, ocfs2.ErrUUIDNotFound) {
		t.Errorf("searchFailed(%v) = %q: want ErrNotFound, ErrNoAnswer and ErrUUIDNotFound", search, err)
	}
	if !errors.As(err, &re) || re.UUID != u || strings.Contains(re.Err.Error(), u) ||
		!strings.Contains(re.Err.Error(), "3 devices searched") || !strings.Contains(re.Err.Error(), "/dev/sdz did not answer") {
		t.Errorf("searchFailed(%v) = %#v: want an error of region %s whose message says what the search said, without the UUID", search, err, u)
	}
	if err.Error() != "region "+u+": "+search.Reason() {
		t.Errorf("searchFailed(%v).Error() = %q", search, err)
	}
	bad := errors.New("not a UUID")
	if err := searchFailed("x", bad); !errors.Is(err, ErrNotFound) || err.Error() != bad.Error() || errors.As(err, &re) {
		t.Errorf("searchFailed(x, %v) = %#v: want ErrNotFound with the text alone", bad, err)
	}
}

// The engine of a spec heartbeats as the spec and the parameters say,
// through the Open hook; a spec the engine refuses gives no engine.
func TestRunTakesSpecAndParams(t *testing.T) {
	spec := Spec{UUID: someUUID, Device: "/dev/x", Geometry: hbdisk.Geometry{BlockBytes: 512, StartBlock: 8, Blocks: 16}}
	p := Params{Node: 3, Nodes: []int{1, 3}, Interval: 100 * time.Millisecond, Anchor: time.Unix(1000, 0), DeadThreshold: 7, QuietEnd: true}
	cfg := EngineConfig(spec, p, nil)
	if cfg.UUID != spec.UUID || cfg.Device != spec.Device || cfg.Geometry != spec.Geometry || cfg.Node != 3 || len(cfg.Nodes) != 2 ||
		cfg.Interval != p.Interval || !cfg.Anchor.Equal(p.Anchor) || cfg.DeadThreshold != 7 || !cfg.QuietEnd {
		t.Errorf("EngineConfig(%+v, %+v) = %+v", spec, p, cfg)
	}
	eng, err := Userspace{}.Run(spec, p)
	if err != nil {
		t.Fatal(err)
	}
	if st := eng.Status(); st.UUID != someUUID || st.Node != 3 || st.Geometry != spec.Geometry {
		t.Errorf("engine status %+v, want region %s as node 3", st, someUUID)
	}
	if eng, err := (Userspace{}).Run(spec, Params{Node: 99}); err == nil || eng != nil {
		t.Errorf("Run with node 99 of 16 slots = %v, %v; want no engine and an error", eng, err)
	}
}
