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
	"strconv"
	"strings"
	"testing"
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
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// Image describes an OCFS2 image to format with mkfs.ocfs2.
type Image struct {
	BlockSize   int    // filesystem block size in bytes (512..4096); 4096 if 0
	ClusterSize int    // cluster size in bytes (4K..1M); 4096 if 0
	SizeMiB     int    // image size; 96 if 0
	Slots       int    // node slots (-N); 4 if 0
	Label       string // volume label; "o2cbtest" if empty
	UUID        string // fixed UUID (-U), dashed; random if empty
	Local       bool   // local heartbeat instead of --global-heartbeat
	Features    string // --fs-features value, e.g. "noinline-data"; none if empty
	Cluster     string // cluster name; "o2cbtest" if empty
	Dir         string // directory for the image; t.TempDir() if empty
}

// MkfsOCFS2 formats a new image file and returns its path. It needs
// mkfs.ocfs2 but not root; under -short it skips.
func MkfsOCFS2(t testing.TB, im Image) string {
	t.Helper()
	RequireCommand(t, "mkfs.ocfs2")
	if im.BlockSize == 0 {
		im.BlockSize = 4096
	}
	if im.ClusterSize == 0 {
		im.ClusterSize = 4096
	}
	if im.SizeMiB == 0 {
		im.SizeMiB = 96
	}
	if im.Slots == 0 {
		im.Slots = 4
	}
	if im.Label == "" {
		im.Label = "o2cbtest"
	}
	if im.Cluster == "" {
		im.Cluster = "o2cbtest"
	}
	if im.Dir == "" {
		im.Dir = t.TempDir()
	}
	f, err := os.CreateTemp(im.Dir, "ocfs2-*.img")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	if err := f.Truncate(int64(im.SizeMiB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := []string{"-q", "-F",
		"-b", strconv.Itoa(im.BlockSize), "-C", strconv.Itoa(im.ClusterSize),
		"-N", strconv.Itoa(im.Slots), "-L", im.Label,
		"--cluster-stack=o2cb", "--cluster-name=" + im.Cluster}
	if !im.Local {
		args = append(args, "--global-heartbeat")
	}
	if im.UUID != "" {
		args = append(args, "-U", im.UUID)
	}
	if im.Features != "" {
		args = append(args, "--fs-features="+im.Features)
	}
	args = append(args, path)
	Run(t, "mkfs.ocfs2", args...)
	return path
}

// LoopDevice attaches img to a free loop device with the given logical
// sector size (512 or 4096; 0 leaves losetup's default) and detaches it
// when the test ends. It needs root; under -short it skips.
func LoopDevice(t testing.TB, img string, sectorSize int) string {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "losetup")
	args := []string{"-f", "--show", "--direct-io=off"}
	if sectorSize != 0 {
		args = append(args, "--sector-size", strconv.Itoa(sectorSize))
	}
	args = append(args, img)
	dev := strings.TrimSpace(Run(t, "losetup", args...))
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Fatalf("losetup printed %q, want a loop device", dev)
	}
	// A read-only flag set with blockdev --setro belongs to the block
	// device and outlives losetup -d: clear it on attach and on detach,
	// so that no test inherits another's.
	setrw := func() { exec.Command("blockdev", "--setrw", dev).Run() }
	setrw()
	t.Cleanup(func() {
		setrw()
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}
