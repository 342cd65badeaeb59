package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// The test binary runs as the real command when this variable is set, so
// the tests see its true exit status and output (u-root's testutil way).
const runAsCommand = "O2CB_TEST_RUN_OCFS2_HB_CTL"

func TestMain(m *testing.M) {
	if os.Getenv(runAsCommand) == "1" {
		os.Args[0] = "ocfs2_hb_ctl"
		main()
		return
	}
	testenv.Main(m)
}

// run executes ocfs2_hb_ctl with args and extra environment.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), runAsCommand+"=1"), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running ocfs2_hb_ctl %q: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func blkidUUID(t *testing.T, img string) string {
	t.Helper()
	u := testenv.Run(t, "blkid", "-p", "-o", "value", "-s", "UUID", img)
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(u), "-", ""))
}

func TestCommand(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2", "blkid")
	dir := t.TempDir()
	a := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 32})
	b := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, BlockSize: 1024, SizeMiB: 32, Local: true})
	junk := filepath.Join(dir, "junk.img")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"-L", "-d", a}, {"-Ld", a}, {"-d" + a, "-L"}} {
		out, errOut, code := run(t, nil, args...)
		if want := blkidUUID(t, a) + "\n"; out != want || code != 0 || errOut != "" {
			t.Errorf("ocfs2_hb_ctl %q = %q, %q, exit %d; want %q (blkid), exit 0", args, out, errOut, code, want)
		}
	}

	out, errOut, code := run(t, nil, "-L", "-d", junk)
	if want := "ocfs2_hb_ctl: " + junk + ": not an OCFS2 volume\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("ocfs2_hb_ctl -L -d junk = %q, %q, exit %d; want %q, exit 1", out, errOut, code, want)
	}

	// -L lists the O2CB_HB_DEVICES matches first, in glob order; the
	// machine's own devices may follow.
	out, errOut, code = run(t, []string{"O2CB_HB_DEVICES=" + filepath.Join(dir, "*.img")}, "-L")
	imgs := []string{a, b}
	if b < a {
		imgs = []string{b, a}
	}
	want := blkidUUID(t, imgs[0]) + ":" + imgs[0] + "\n" + blkidUUID(t, imgs[1]) + ":" + imgs[1] + "\n"
	if code != 0 || !strings.HasPrefix(out, want) || errOut != "" {
		t.Errorf("O2CB_HB_DEVICES=dir/*.img ocfs2_hb_ctl -L = %q, %q, exit %d; want to start with %q, exit 0", out, errOut, code, want)
	}
	if strings.Contains(out, junk) {
		t.Errorf("ocfs2_hb_ctl -L lists %s, which is not OCFS2", junk)
	}

	out, _, code = run(t, nil, "-V")
	if code != 0 || !strings.HasPrefix(out, "ocfs2_hb_ctl ") {
		t.Errorf("ocfs2_hb_ctl -V = %q, exit %d; want the version, exit 0", out, code)
	}
	_, errOut, code = run(t, nil, "-X")
	if code != 1 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("ocfs2_hb_ctl -X = %q, exit %d; want usage, exit 1", errOut, code)
	}
	_, errOut, code = run(t, []string{"O2CB_RUN_DIR=" + dir}, "-S", "-d", a, "svc")
	if code != 1 || !strings.HasPrefix(errOut, "ocfs2_hb_ctl: cannot start heartbeat region") || !strings.Contains(errOut, "start the o2cb resource first") {
		t.Errorf("ocfs2_hb_ctl -S without a daemon = %q, exit %d; want the daemon not running, exit 1", errOut, code)
	}
}
