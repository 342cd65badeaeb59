package testenv

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
)

// FaultyDisk is a loop device over a FUSE file that passes through to an
// image, with faults on command.
type FaultyDisk = fixture.FaultyDisk

// FaultyLoop serves img through a fault-injecting FUSE file system
// (internal/faultdev) and attaches a loop device with the given logical
// sector size to it. When the test ends it heals the file, detaches the
// loop device and unmounts, in that order. It needs root and FUSE; under
// -short it skips.
//
// Processes that use the device must be stopped before the test ends (a
// cleanup registered after this one runs first), or heal the disk before
// stopping them: a process blocked on a stalled request cannot exit.
//
// A loop device is in /proc/partitions, which other tests' device searches
// read: a test run beside others (go test ./...) stalls a FaultyFile.
func FaultyLoop(t testing.TB, img string, sectorSize int) *FaultyDisk {
	t.Helper()
	RequireCommand(t, "losetup")
	return faulty(t, func(mnt string) (*FaultyDisk, error) { return fixture.FaultyLoop(mnt, img, sectorSize) })
}

// FaultyFile is FaultyLoop without the loop device: Device is the FUSE
// file, read and written as an image file is.
func FaultyFile(t testing.TB, img string) *FaultyDisk {
	t.Helper()
	return faulty(t, func(mnt string) (*FaultyDisk, error) { return fixture.FaultyFile(mnt, img) })
}

func faulty(t testing.TB, make func(mnt string) (*FaultyDisk, error)) *FaultyDisk {
	t.Helper()
	RequireRoot(t)
	d, err := make(filepath.Join(t.TempDir(), "fuse"))
	if errors.Is(err, fixture.ErrNoFUSE) {
		Unavailable(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}
