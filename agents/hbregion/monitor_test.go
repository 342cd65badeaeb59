package hbregion

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestMonitor runs the monitor in-process against a daemon that answers
// a status of the test's: what runs first, then this node's view, and
// the region named once, short, before the cause.
func TestMonitor(t *testing.T) {
	const u = "00112233445566778899AABBCCDDEEFF"
	const owner = "pacemaker:r1"
	dir := t.TempDir()
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	run := filepath.Join(dir, "run")
	var mu sync.Mutex
	var st hbclient.Status
	agenttest.FakeDaemon(t, run, func() *hbclient.Status {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(st)
		var c hbclient.Status
		json.Unmarshal(b, &c)
		return &c
	})
	mine := []hbclient.Owner{{Name: owner}}
	const cause = "no write to /dev/x completed for 1s"
	for _, tc := range []struct {
		name    string
		regions []hbclient.RegionStatus
		mod     map[string]string
		env     map[string]string
		code    int
		prefix  string // the exit reason begins with it
		suffix  string // and ends with it
	}{
		{name: "no region", code: ocf.NotRunning},
		{name: "another owner's", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateSteady, LiveNodes: []int{1}, Owners: []hbclient.Owner{{Name: "service:/mnt"}}}},
			code: ocf.NotRunning},
		{name: "steady", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateSteady, LiveNodes: []int{1, 2}, Owners: mine}}, code: ocf.Success},
		{name: "starting", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateStarting, Owners: mine, OwnSlotAge: -1}},
			env: map[string]string{"OCF_CHECK_LEVEL": "10"}, code: ocf.Success},
		{name: "failed", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateFailed, Error: cause, LiveNodes: []int{2}, Owners: mine}},
			code: ocf.ErrGeneric, prefix: "region 00112233 is failed, own heartbeat not seen: " + cause},
		{name: "failed, the error naming the region", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateFailed, Error: "region " + u + ": " + cause, Owners: mine}},
			code: ocf.ErrGeneric, prefix: "region 00112233 is failed, own heartbeat not seen: ", suffix: cause},
		{name: "own slot stale at depth 10", regions: []hbclient.RegionStatus{{UUID: u, Device: "/dev/x", State: hbclient.StateSteady, LiveNodes: []int{1}, Owners: mine, OwnSlotAge: 9}},
			env: map[string]string{"OCF_CHECK_LEVEL": "10"}, code: ocf.ErrGeneric, prefix: "region 00112233: own slot on /dev/x not read back for 9.0s (limit 300ms)"},
		{name: "running, cluster.conf gone", regions: []hbclient.RegionStatus{{UUID: u, State: hbclient.StateSteady, LiveNodes: []int{1}, Owners: mine}},
			mod: map[string]string{"cluster_conf": filepath.Join(dir, "none.conf")}, code: ocf.ErrGeneric, prefix: "region 00112233 runs, but: ", suffix: "none.conf: no such file or directory"},
	} {
		mu.Lock()
		st = hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Mode: "local", IntervalMS: 100, Regions: tc.regions}
		mu.Unlock()
		p := map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": run, "uuid": u}
		for k, v := range tc.mod {
			p[k] = v
		}
		env := map[string]string{"OCF_RESOURCE_INSTANCE": "r1"}
		for k, v := range tc.env {
			env[k] = v
		}
		code, stderr := agenttest.Run(t, New(agenttest.Root("n1")), "monitor", p, env)
		r := testenv.ExitReason(stderr)
		if code != tc.code || !strings.HasPrefix(r, tc.prefix) || !strings.HasSuffix(r, tc.suffix) || (tc.prefix == "" && r != "") {
			t.Errorf("%s: monitor = exit %d, reason %q; want %d, %q ... %q", tc.name, code, r, tc.code, tc.prefix, tc.suffix)
		}
	}
}
