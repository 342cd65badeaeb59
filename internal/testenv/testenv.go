// Package testenv gives tests the real components they run against: root,
// ocfs2-tools, image files made by mkfs.ocfs2 and loop devices.
//
// A test that needs something this machine lacks is skipped with the reason
// when run by hand, and fails when CI=true: CI always runs every tier.
// Under go test -short (make unit, the quick tier) every test that needs
// root, a program such as mkfs.ocfs2 or the built binaries is skipped,
// even under CI=true and as root: that tier is the hermetic one.
//
//	func TestOnImage(t *testing.T) {
//		testenv.RequireRoot(t)
//		img := testenv.MkfsOCFS2(t, testenv.Image{BlockSize: 4096, ClusterSize: 4096})
//		dev := testenv.LoopDevice(t, img, 4096)
//		...
//	}
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// requirement is a failure, not a skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Unavailable skips t with why, or fails it under CI.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required for this test under CI: %s", why)
	}
	t.Skipf("skipped: %s", why)
}

// SkipShort skips t under go test -short, saying what it needs: the quick
// tier runs only the tests that need nothing of the machine.
func SkipShort(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped under -short: needs %s", needs)
	}
}

// RequireRoot skips (or, under CI, fails) a test that needs root; under
// -short it skips.
func RequireRoot(t testing.TB) {
	t.Helper()
	SkipShort(t, "root")
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// RequireCommand skips (or, under CI, fails) a test when one of the named
// programs is not installed; under -short it skips.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	SkipShort(t, strings.Join(names, ", "))
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Unavailable(t, fmt.Sprintf("needs %s (make deps installs it)", n))
		}
	}
}

// Run runs a command and returns its standard output; the test fails with
// the command's stderr when it exits non-zero.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := fixture.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Image describes an OCFS2 image to format with mkfs.ocfs2; Dir is
// t.TempDir() if empty.
type Image = fixture.Image

// MkfsOCFS2 formats a new image file and returns its path. It needs
// mkfs.ocfs2 but not root; under -short it skips.
func MkfsOCFS2(t testing.TB, im Image) string {
	t.Helper()
	RequireCommand(t, "mkfs.ocfs2")
	if im.Dir == "" {
		im.Dir = t.TempDir()
	}
	path, err := fixture.Mkfs(im)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// LoopDevice attaches img to a free loop device with the given logical
// sector size (512 or 4096; 0 leaves losetup's default) and detaches it
// when the test ends. It needs root; under -short it skips.
func LoopDevice(t testing.TB, img string, sectorSize int) string {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "losetup")
	dev, detach, err := fixture.LoopDevice(img, sectorSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := detach(); err != nil {
			t.Error(err)
		}
	})
	return dev
}

// PromtoolCache is where make deps puts promtool, out of Debian's
// prometheus package.
const PromtoolCache = "/var/cache/o2cb-ra-tests/bin/promtool"

// Promtool returns Prometheus' promtool: on PATH, or in PromtoolCache.
func Promtool(t testing.TB) string {
	t.Helper()
	SkipShort(t, "promtool")
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat(PromtoolCache); err == nil {
		return PromtoolCache
	}
	Unavailable(t, "needs promtool (make deps fetches it into "+PromtoolCache+")")
	return ""
}
