package host

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// requireRoot runs RequireRoot of h in an action named start.
func requireRoot(h Host) (int, string) {
	a := &ocf.Agent{Name: "test", Actions: []ocf.Action{{Name: "start", Timeout: time.Second, Run: h.RequireRoot}}}
	var stderr strings.Builder
	code := a.Main([]string{"start"}, ocf.MapEnv{"HA_LOGFACILITY": "none"}, io.Discard, &stderr)
	return code, stderr.String()
}

func TestRequireRoot(t *testing.T) {
	if code, _ := requireRoot(Host{Euid: func() int { return 0 }}); code != ocf.Success {
		t.Errorf("RequireRoot as uid 0 = exit %d, want 0", code)
	}
	code, stderr := requireRoot(Host{Euid: func() int { return 1000 }})
	if code != ocf.ErrPerm || !strings.Contains(stderr, "start needs root (running as uid 1000)") {
		t.Errorf("RequireRoot as uid 1000 = exit %d, want %d naming the action and uid\n%s", code, ocf.ErrPerm, stderr)
	}
	// The zero Host is this machine.
	want := ocf.Success
	if os.Geteuid() != 0 {
		want = ocf.ErrPerm
	}
	if code, stderr := requireRoot(Host{}); code != want {
		t.Errorf("RequireRoot of the zero Host as uid %d = exit %d, want %d\n%s", os.Geteuid(), code, want, stderr)
	}
}

func TestHostName(t *testing.T) {
	if name, err := (Host{Hostname: func() (string, error) { return "n1", nil }}).HostName(); name != "n1" || err != nil {
		t.Errorf("HostName() with a hook = %q, %v; want n1", name, err)
	}
	machine, _ := os.Hostname()
	if name, _ := (Host{}).HostName(); name != machine {
		t.Errorf("HostName() of the zero Host = %q, want this machine's %q", name, machine)
	}
}
