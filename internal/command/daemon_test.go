package command

import (
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbd"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// TestRaiseProcs: the daemon's Ps follow what it asks for, only ever
// upwards, and a GOMAXPROCS from the environment is left alone.
func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Setenv("GOMAXPROCS", "")
	for _, step := range []struct{ want, got int }{{1, 1}, {2, 2}, {13, 13}, {2, 13}, {64, 64}} {
		raiseProcs(step.want)
		if got := runtime.GOMAXPROCS(0); got != step.got {
			t.Errorf("raiseProcs(%d): GOMAXPROCS %d, want %d", step.want, got, step.got)
		}
	}
	runtime.GOMAXPROCS(1)
	t.Setenv("GOMAXPROCS", "1")
	raiseProcs(8)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d, want 1", got)
	}
}

// daemonConfigOf runs the daemon command's flag parsing on args with
// the environment as set, and returns the configuration it makes.
func daemonConfigOf(t *testing.T, args ...string) (hbd.Config, error) {
	t.Helper()
	var cfg hbd.Config
	var cfgErr error
	app := &cli.App{Name: "o2cb-ra", Commands: []*cli.Command{{Name: "daemon", Flags: daemonCommand.Flags,
		Action: func(c *cli.Context) error { cfg, cfgErr = daemonConfig(c); return nil }}}}
	if err := app.Run(append([]string{"o2cb-ra", "daemon"}, args...)); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return cfg, cfgErr
}

// The heartbeat backend comes from O2CB_HEARTBEAT_BACKEND (or the flag):
// userspace by default, our writer; observer and kernel, the read-only
// observer; the devices go to the search of either; anything else is
// refused, naming the variable.
func TestDaemonBackendSetting(t *testing.T) {
	for _, tc := range []struct {
		env, flag string
		want      string
		observer  bool
	}{
		{"", "", hbclient.BackendUserspace, false},
		{"userspace", "", hbclient.BackendUserspace, false},
		{"observer", "", hbclient.BackendObserver, true},
		{"kernel", "", hbclient.BackendKernel, true},
		{"kernel", "userspace", hbclient.BackendUserspace, false},
	} {
		t.Setenv("O2CB_HEARTBEAT_BACKEND", tc.env)
		t.Setenv("O2CB_HB_DEVICES", "/dev/a:/dev/b")
		var args []string
		if tc.flag != "" {
			args = append(args, "--heartbeat-backend="+tc.flag)
		}
		if tc.env == "" {
			os.Unsetenv("O2CB_HEARTBEAT_BACKEND")
		}
		cfg, err := daemonConfigOf(t, args...)
		if err != nil {
			t.Fatalf("env %q flag %q: %v", tc.env, tc.flag, err)
		}
		var devices []string
		switch src := cfg.Source.(type) {
		case backend.Observer:
			devices = src.Devices
		case backend.Userspace:
			devices = src.Devices
		}
		_, isObserver := cfg.Source.(backend.Observer)
		if cfg.Backend != tc.want || isObserver != tc.observer || !slices.Equal(devices, []string{"/dev/a", "/dev/b"}) {
			t.Errorf("env %q flag %q: backend %q, source %T with devices %v; want %q, observer %v, /dev/a /dev/b",
				tc.env, tc.flag, cfg.Backend, cfg.Source, devices, tc.want, tc.observer)
		}
	}
	t.Setenv("O2CB_HEARTBEAT_BACKEND", "kernell")
	if _, err := daemonConfigOf(t); err == nil || !strings.Contains(err.Error(), `"kernell"`) || !strings.Contains(err.Error(), "O2CB_HEARTBEAT_BACKEND") {
		t.Errorf("backend kernell: %v, want an error naming it and the variable", err)
	}
	var stderr strings.Builder
	dir := t.TempDir()
	args := []string{"o2cb-ra", "daemon", "--foreground", "--run-dir=" + dir + "/run", "--cluster-conf=" + dir + "/none.conf"}
	if code := Run(args, ocf.MapEnv{}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "kernell") {
		t.Errorf("o2cb-ra daemon with backend kernell: exit %d, stderr %q; want 1 naming it", code, stderr.String())
	}
}
