package hbctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
)

func TestBackendChoice(t *testing.T) {
	none := o2cbfs.Kernel{Root: t.TempDir()}
	registered := o2cbfs.Kernel{Root: t.TempDir()}
	for _, f := range []string{"heartbeat/mode", "heartbeat/dead_threshold", "idle_timeout_ms", "keepalive_delay_ms", "reconnect_delay_ms", "fence_method"} {
		p := filepath.Join(registered.Root, o2cbfs.ConfigfsDir, "cluster", "web", f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		value := "1\n"
		switch f {
		case "heartbeat/mode":
			value = "local\n"
		case "fence_method":
			value = "reset\n"
		}
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		k      o2cbfs.Kernel
		env    string
		kernel bool
		err    string
	}{
		{none, "", false, ""},
		{registered, "", true, ""}, // the kernel's umount call: no environment
		{registered, "auto", true, ""},
		{registered, "userspace", false, ""},
		{registered, "observer", false, ""},
		{none, "kernel", true, ""},
		{none, "kernal", false, `O2CB_HEARTBEAT_BACKEND="kernal"`},
	} {
		env := func(k string) string {
			if k == EnvBackend {
				return tc.env
			}
			return ""
		}
		got, err := useKernel(tc.k, env)
		if got != tc.kernel || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("useKernel(registered=%v, %q) = %v, %v; want %v, %q", tc.k.Root == registered.Root, tc.env, got, err, tc.kernel, tc.err)
		}
	}
}
