package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// Binaries builds o2cb-ra and ocfs2_hb_ctl from this module once per test
// binary, into a directory that any user may read and run (ocf-tester and
// the non-root tests run them as nobody), and returns their paths. Tests
// that use it run through Main, which removes the directory. Under -short
// it skips: the quick tier builds nothing.
func Binaries(t testing.TB) (o2cbRA, hbCtl string) {
	t.Helper()
	SkipShort(t, "the built binaries")
	binOnce.Do(func() {
		goCmd, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			binErr = fmt.Errorf("no go command to build the binaries: %w", err)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "o2cb-ra-bin-"); binErr != nil {
			return
		}
		if binErr = os.Chmod(binDir, 0o755); binErr != nil {
			return
		}
		const mod = "github.com/o2cb-ra/o2cb-ra/cmd/"
		out, err := exec.Command(goCmd, "build", "-o", binDir+"/", mod+"o2cb-ra", mod+"ocfs2_hb_ctl").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "o2cb-ra"), filepath.Join(binDir, "ocfs2_hb_ctl")
}

// Main runs the tests of m, removes what Binaries built and exits:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// RemoveBinaries removes what Binaries built, for a TestMain that does
// more than Main after the tests.
func RemoveBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}
