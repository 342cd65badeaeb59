package o2cb

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// monitorSite is a cluster.conf of global regions and a run directory
// whose daemon answers with a status the test sets.
type monitorSite struct {
	t      *testing.T
	params map[string]string
	mu     sync.Mutex
	st     *hbclient.Status
}

func newMonitorSite(t *testing.T, uuids ...string) *monitorSite {
	dir := t.TempDir()
	s := &monitorSite{t: t, params: map[string]string{
		"cluster_conf": clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Global: true, Nodes: 2, Regions: uuids}),
		"node_name":    "n1", "run_dir": filepath.Join(dir, "run"),
	}}
	s.st = &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Mode: "global", IntervalMS: 100, DeadThreshold: 5}
	agenttest.FakeDaemon(t, s.params["run_dir"], func() *hbclient.Status {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, _ := json.Marshal(s.st)
		var c hbclient.Status
		json.Unmarshal(b, &c)
		return &c
	})
	return s
}

func (s *monitorSite) set(f func(st *hbclient.Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.st)
}

// monitor runs the monitor with region_quorum=quorum and returns the exit
// code and the exit reason.
func (s *monitorSite) monitor(quorum string) (int, string) {
	s.t.Helper()
	p := map[string]string{"region_quorum": quorum}
	for k, v := range s.params {
		p[k] = v
	}
	code, stderr := agenttest.Run(s.t, New(agenttest.Root("n1")), "monitor", p, nil)
	return code, testenv.ExitReason(stderr)
}

// TestMonitorCountsStartingRegions: a region that is starting is not lost
// (a daemon brought back after it died resumes its regions so, and a
// monitor then must not fail the cluster again); a failed one is.
func TestMonitorCountsStartingRegions(t *testing.T) {
	uuids := []string{"00112233445566778899AABBCCDDEEFF", "FFEEDDCCBBAA99887766554433221100"}
	s := newMonitorSite(t, uuids...)
	s.set(func(st *hbclient.Status) {
		for _, u := range uuids {
			st.Regions = append(st.Regions, hbclient.RegionStatus{UUID: u, State: hbclient.StateStarting, Owners: []hbclient.Owner{{Name: hbclient.OwnerGlobal}}})
		}
	})
	for _, q := range []string{"any", "majority", "all"} {
		if code, r := s.monitor(q); code != ocf.Success {
			t.Errorf("monitor with region_quorum=%s, both regions starting = exit %d (%q), want 0", q, code, r)
		}
	}
	s.set(func(st *hbclient.Status) { st.Regions[1].State = hbclient.StateFailed })
	if code, r := s.monitor("any"); code != ocf.Success {
		t.Errorf("monitor with any, one region failed = exit %d (%q), want 0", code, r)
	}
	if code, r := s.monitor("all"); code != ocf.ErrGeneric || !strings.Contains(r, uuids[1][:8]+": failed") {
		t.Errorf("monitor with all = exit %d, reason %q; want 1 naming %s failed", code, r, uuids[1][:8])
	}
}

// TestMonitorNamesLostRegionsShort: the exit reason names each lost
// region once by its first 8 hex digits, then its state and the
// daemon's error, whether or not the daemon's error names the region
// itself.
func TestMonitorNamesLostRegionsShort(t *testing.T) {
	const u = "00112233445566778899AABBCCDDEEFF"
	s := newMonitorSite(t, u)
	const cause = "no write to /dev/x completed for 1s"
	for _, daemonErr := range []string{cause, "region " + u + ": " + cause} {
		s.set(func(st *hbclient.Status) {
			st.Regions = []hbclient.RegionStatus{{UUID: u, State: hbclient.StateFailed, Error: daemonErr, LiveNodes: []int{2},
				Owners: []hbclient.Owner{{Name: hbclient.OwnerGlobal}}}}
		})
		code, r := s.monitor("any")
		if want := "1 of 1 heartbeat regions lost (region_quorum=any): 00112233: failed: "; code != ocf.ErrGeneric || !strings.HasPrefix(r, want) || !strings.HasSuffix(r, cause) {
			t.Errorf("monitor with the region's error %q = exit %d, reason %q; want 1, %q ... %q", daemonErr, code, r, want, cause)
		}
	}
	s.set(func(st *hbclient.Status) { st.Regions = nil })
	if code, r := s.monitor("any"); code != ocf.ErrGeneric || r != "1 of 1 heartbeat regions lost (region_quorum=any): 00112233: not running" {
		t.Errorf("monitor with the region not running = exit %d, reason %q", code, r)
	}
}

func TestMonitorOfAnUnresponsiveDaemon(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	agenttest.SilentDaemon(t, run)
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	begin := time.Now()
	code, stderr := agenttest.Run(t, New(agenttest.Root("n1")), "monitor", map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": run}, nil)
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("monitor of a silent daemon took %v, want about 1 s", took)
	}
	if r := testenv.ExitReason(stderr); code != ocf.ErrGeneric || !strings.Contains(r, "does not answer") {
		t.Errorf("monitor of a silent daemon = exit %d, reason %q; want 1, does not answer", code, r)
	}
}
