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
func FaultyLoop(t testing.TB, img string, sectorSize int) *FaultyDisk {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "losetup")
	d, err := fixture.FaultyLoop(filepath.Join(t.TempDir(), "fuse"), img, sectorSize)
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
