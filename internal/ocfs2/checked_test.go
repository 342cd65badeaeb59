package ocfs2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestOpenRegion opens a real image as a heartbeat start does: the same
// volume as Open reads, found by UUID or on the device given; another
// volume, a file that is no volume and a device that never answers each
// give their error, naming the device.
func TestOpenRegion(t *testing.T) {
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, Name: "v.img"})
	want, err := Open(img)
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, Name: "other.img"})
	ov, err := Open(other)
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.img")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, dev := range []string{img, ""} {
		v, err := OpenRegion(strings.ToUpper(want.UUID), dev, hermetic(t, time.Second, other, img), time.Second)
		if err != nil {
			t.Fatalf("OpenRegion(%q): %v", dev, err)
		}
		if v.Path != img || v.UUID != want.UUID || v.Heartbeat != want.Heartbeat || v.Size != want.Size ||
			v.BlockSize != want.BlockSize || v.blockBits != want.blockBits || v.clusterBits != want.clusterBits {
			t.Errorf("OpenRegion(%q) = %+v, want %+v", dev, v, want)
		}
	}

	_, err = OpenRegion(want.UUID, other, ScanOptions{}, time.Second)
	if !errors.Is(err, ErrOtherVolume) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), ov.UUID) {
		t.Errorf("OpenRegion on another volume: %v, want %v naming %s and %s", err, ErrOtherVolume, other, ov.UUID)
	}
	_, err = OpenRegion(want.UUID, junk, ScanOptions{}, time.Second)
	if !errors.Is(err, ErrNotOCFS2) || !strings.Contains(err.Error(), junk) {
		t.Errorf("OpenRegion on a file that is no volume: %v, want %v naming it", err, ErrNotOCFS2)
	}
	var se *SearchError
	if _, err = OpenRegion(ov.UUID, "", hermetic(t, time.Second, img), time.Second); !errors.As(err, &se) {
		t.Errorf("OpenRegion of a volume the search does not find: %v, want a *SearchError", err)
	}
	if _, err = OpenRegion("not-a-uuid", img, ScanOptions{}, time.Second); err == nil {
		t.Error("OpenRegion with a malformed UUID succeeded")
	}
}

// TestOpenCheckedHung: the child blocks on a ".hang" path as on a hung
// device; OpenChecked answers after its timeout, not after the device.
func TestOpenCheckedHung(t *testing.T) {
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, Name: "v.img"})
	hung := filepath.Join(dir, "dev.hang")
	if err := os.Rename(img, hung); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(hung+".release", nil, 0o644) })
	const timeout = 300 * time.Millisecond
	begin := time.Now()
	v, err := OpenChecked(hung, timeout)
	took := time.Since(begin)
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), hung) {
		t.Fatalf("OpenChecked(hung device) = %v, %v; want %v naming %s", v, err, ErrNoAnswer, hung)
	}
	if took < timeout || took > 2*timeout+time.Second {
		t.Errorf("OpenChecked(hung device) took %v, want its timeout %v (at most twice it, and some)", took, timeout)
	}
	// Released, the same device answers.
	if err := os.WriteFile(hung+".release", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenChecked(hung, 0); err != nil {
		t.Errorf("OpenChecked after the release: %v", err)
	}
}

// TestOpenCheckedStalledFile: a volume whose reads stall (a FUSE file of
// internal/faultdev, which has no page cache); OpenChecked reports it hung
// within its timeout, and reads it again once it answers.
func TestOpenCheckedStalledFile(t *testing.T) {
	img := testenv.MkfsOCFS2(t, testenv.Image{})
	d := testenv.FaultyFile(t, img)
	v, err := OpenChecked(d.Device, 0)
	if err != nil {
		t.Fatalf("OpenChecked(%s), healthy: %v", d.Device, err)
	}
	d.Stall(faultdev.Reads, 30*time.Second)
	const timeout = 500 * time.Millisecond
	begin := time.Now()
	_, err = OpenChecked(d.Device, timeout)
	took := time.Since(begin)
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), d.Device) {
		t.Errorf("OpenChecked(%s) with its reads stalled: %v, want %v naming it", d.Device, err, ErrNoAnswer)
	}
	if took > 2*timeout+time.Second {
		t.Errorf("OpenChecked(%s) with its reads stalled took %v, want about %v", d.Device, took, timeout)
	}
	d.Heal()
	if w, err := OpenChecked(d.Device, 0); err != nil || w.UUID != v.UUID {
		t.Errorf("OpenChecked(%s) healed: %v, %v", d.Device, w, err)
	}
}
