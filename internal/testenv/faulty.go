package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
)

// FaultyDisk is a loop device over a FUSE file that passes through to an
// image, with faults on command.
type FaultyDisk struct {
	*faultdev.File
	Device string // the loop device
	Image  string // the backing image
}

// FaultyLoop serves img through a fault-injecting FUSE file system
// (internal/faultdev) and attaches a loop device with the given logical
// sector size to it. When the test ends it heals the file, detaches the
// loop device and unmounts, in that order. It needs root and FUSE; under
// -short it skips.
//
// Processes that use the device must be stopped before the test ends (a
// cleanup registered after this one runs first), or heal the disk before
// stopping them: a process blocked on a stalled request cannot exit.
func FaultyLoop(t testing.TB, img string, sectorSize int) *FaultyDisk {
	t.Helper()
	RequireRoot(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		Unavailable(t, "needs FUSE (/dev/fuse)")
	}
	mnt := filepath.Join(t.TempDir(), "fuse")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := faultdev.Mount(mnt)
	if err != nil {
		Unavailable(t, err.Error())
	}
	t.Cleanup(func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("close fault file system: %v", err)
		}
	})
	f, err := fsys.Add(filepath.Base(img), img)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: heal before the loop device
	// is detached, and detach before the unmount.
	dev := LoopDevice(t, f.Path(), sectorSize)
	t.Cleanup(f.Heal)
	return &FaultyDisk{File: f, Device: dev, Image: img}
}
