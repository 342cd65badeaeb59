package layout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

const uuid = "00112233445566778899AABBCCDDEEFF"

func TestErrorReason(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"no OCFS2 volume with UUID " + uuid + " found", "00112233: no OCFS2 volume with UUID 00112233 found"},
		{"region " + uuid + ": not steady in time", "00112233: not steady in time"},
		{"region " + uuid + ": on /dev/x: region " + uuid + " again", "00112233: on /dev/x: region 00112233 again"},
		{"layout driver x_hb_ctl not found", "00112233: layout driver x_hb_ctl not found"},
	} {
		e := &Error{UUID: uuid, Text: tc.text}
		if got := e.Reason(); got != tc.want {
			t.Errorf("(&Error{%q}).Reason() = %q, want %q", tc.text, got, tc.want)
		}
		if e.Error() != tc.text {
			t.Errorf("(&Error{%q}).Error() = %q, want the driver's text", tc.text, e.Error())
		}
	}
}

func TestEnv(t *testing.T) {
	env := Env(ocf.MapEnv{"PATH": "/bin", "OCF_ROOT": "/usr/lib/ocf"}, "/run/o2cb", "/a.img /b*.img", "O2CB_HEARTBEAT_OWNER=global")
	want := []string{"OCF_ROOT=/usr/lib/ocf", "PATH=/bin", "O2CB_RUN_DIR=/run/o2cb", "O2CB_HB_DEVICES=/a.img:/b*.img", "O2CB_HEARTBEAT_OWNER=global"}
	if !slices.Equal(env, want) {
		t.Errorf("Env = %q, want %q", env, want)
	}
	if env := Env(ocf.MapEnv{}, "/run/o2cb", ""); !slices.Equal(env, []string{"O2CB_RUN_DIR=/run/o2cb"}) {
		t.Errorf("Env without devices = %q, want only the run directory", env)
	}
}

// TestRun runs a driver that is a shell script: its arguments, its
// environment and its failure's text without its name.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	driver := filepath.Join(dir, "test_hb_ctl")
	script := "#!/bin/sh\necho \"$@ $O2CB_RUN_DIR\" > " + filepath.Join(dir, "args") + "\n" +
		"[ \"$1\" = -S ] && exit 0\necho \"test_hb_ctl: region $3: cannot stop\" >&2\nexit 1\n"
	if err := os.WriteFile(driver, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin", "O2CB_RUN_DIR=/run/x"}
	if err := Run(context.Background(), driver, env, "-S", uuid, "pacemaker:r"); err != nil {
		t.Fatalf("Run(-S) = %v, want nil", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "args")); strings.TrimSpace(string(b)) != "-S -u "+uuid+" pacemaker:r /run/x" {
		t.Errorf("driver called with %q, want -S -u UUID pacemaker:r and the run directory", b)
	}
	err := Run(context.Background(), driver, env, "-K", uuid)
	var e *Error
	if !errors.As(err, &e) || e.UUID != uuid || e.Text != "region "+uuid+": cannot stop" {
		t.Fatalf("Run(-K) = %#v, want an *Error with the driver's text without its name", err)
	}
	if got := e.Reason(); got != "00112233: cannot stop" {
		t.Errorf("Reason() = %q, want %q", got, "00112233: cannot stop")
	}
}

func TestFind(t *testing.T) {
	for _, bad := range []string{"", "a/b", "a b"} {
		if _, err := Find(bad); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("Find(%q) = %v, want OCF_ERR_CONFIGURED", bad, err)
		}
	}
	if _, err := Find("nosuchlayout"); ocf.CodeOf(err) != ocf.ErrInstalled || !strings.Contains(err.Error(), "nosuchlayout_hb_ctl") {
		t.Errorf("Find(nosuchlayout) = %v, want OCF_ERR_INSTALLED naming nosuchlayout_hb_ctl", err)
	}
}
