package o2cb

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs/o2cbfstest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestHealthAttributes: under Pacemaker the monitor publishes
// o2cb-regions and #health-o2cb through attrd_updater, with the dampen
// delay, only when they change; green, then yellow with one of two
// regions lost (OCF_DEGRADED for an OCF 1.1 caller, success for an older
// one), red when region_quorum fails; nothing at all outside Pacemaker.
// Stop deletes both.
func TestHealthAttributes(t *testing.T) {
	s := newKernelSite(t, "test", kUUID1, kUUID2)
	if err := os.MkdirAll(s.params["run_dir"], 0o700); err != nil {
		t.Fatal(err)
	}
	var calls []string
	h := agenttest.Root("n1")
	h.Kernel = s.k
	h.Attrd = func(_ context.Context, args ...string) ([]byte, error) {
		calls = append(calls, strings.Join(args, " "))
		return nil, nil
	}
	pacemaker := map[string]string{"OCF_RESKEY_CRM_meta_on_node": "n1", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}
	monitor := func(extra, env map[string]string, wantCode int, wantCalls ...string) string {
		t.Helper()
		p := map[string]string{}
		for k, v := range s.params {
			p[k] = v
		}
		for k, v := range extra {
			p[k] = v
		}
		calls = nil
		code, stderr := agenttest.Run(t, New(h), "monitor", p, env)
		why := testenv.ExitReason(stderr)
		if code != wantCode || !slices.Equal(calls, wantCalls) {
			t.Errorf("monitor %v: exit %d %q, attrd_updater %q; want exit %d, attrd_updater %q", extra, code, why, calls, wantCode, wantCalls)
		}
		return why
	}
	monitor(nil, pacemaker, ocf.Success, "-n o2cb-regions -U 2 -d 5s", "-n #health-o2cb -U green -d 5s")
	monitor(nil, pacemaker, ocf.Success) // unchanged: no call
	o2cbfstest.LiveNodes(t, s.k, kUUID2, 2)
	why := monitor(map[string]string{"dampen": "2s"}, pacemaker, ocf.Degraded, "-n o2cb-regions -U 1 -d 2s", "-n #health-o2cb -U yellow -d 2s")
	if !strings.Contains(why, "1 of 2 heartbeat regions lost, region_quorum=any holds") || !strings.Contains(why, "FEDCBA98") {
		t.Errorf("degraded monitor's reason %q: want the lost region and that region_quorum holds", why)
	}
	ocf10 := map[string]string{"OCF_RESKEY_CRM_meta_on_node": "n1", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "0"}
	monitor(nil, ocf10, ocf.Success) // yellow, but an OCF 1.0 caller: success
	monitor(map[string]string{"region_quorum": "all"}, pacemaker, ocf.ErrGeneric, "-n o2cb-regions -U 1 -d 5s", "-n #health-o2cb -U red -d 5s")
	monitor(map[string]string{"region_quorum": "all"}, nil, ocf.ErrGeneric) // no Pacemaker: no attribute

	calls = nil
	c := &ocf.Context{Context: t.Context(), Env: ocf.MapEnv(pacemaker), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	agent{host: h}.clearHealth(c, s.params["run_dir"])
	if want := []string{"-n o2cb-regions -D", "-n #health-o2cb -D"}; !slices.Equal(calls, want) {
		t.Errorf("stop's attrd_updater calls %q, want %q", calls, want)
	}
	if _, err := os.Stat(s.params["run_dir"] + "/" + healthName); !os.IsNotExist(err) {
		t.Errorf("the record of the attributes outlives the stop: %v", err)
	}
}
