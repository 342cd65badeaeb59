package o2cb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// noCIB stubs the CIB's answer for the test: no cluster to ask, so a
// start checks no Pacemaker prerequisite.
func noCIB(t *testing.T) {
	saved := readClusterOptions
	t.Cleanup(func() { readClusterOptions = saved })
	readClusterOptions = func(context.Context, []string) (clusterOptions, bool, error) { return clusterOptions{}, false, nil }
}

// TestExitCodesInProcess: the parameter and cluster.conf rows of the
// exit-code table, in-process: no root (the host says root), no devices,
// no daemon (the run directory has none), so a start fails before it
// would launch one and a monitor or stop sees nothing running.
func TestExitCodesInProcess(t *testing.T) {
	noCIB(t)
	dir := t.TempDir()
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("cluster:\n\tname = test\n\theartbeat_mode = sideways\n\tnode_count = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noRegions := filepath.Join(dir, "noregions.conf")
	b, _ := os.ReadFile(conf)
	if err := os.WriteFile(noRegions, []byte(strings.Replace(string(b), "heartbeat_mode = local", "heartbeat_mode = global", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	params := func(mod map[string]string) map[string]string {
		p := map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": filepath.Join(dir, "run"),
			"devices": dir + "/*.img", "heartbeat_interval_ms": "100", "dead_threshold": "5"}
		for k, v := range mod {
			if v == "" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	probe := map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}
	unique := map[string]string{"OCF_RESKEY_CRM_meta_globally_unique": "true"}
	for _, tc := range []struct {
		host   host.Host
		action string
		mod    map[string]string
		env    map[string]string
		code   int
		reason string // in the exit reason; "" for none required
	}{
		{agenttest.Root("n1"), "validate-all", nil, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "start", map[string]string{"region_quorum": "some"}, nil, ocf.ErrConfigured, "parameter region_quorum"},
		{agenttest.Root("n1"), "start", map[string]string{"dead_threshold": "2"}, nil, ocf.ErrConfigured, "parameter dead_threshold"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"heartbeat_interval_ms": "fast"}, nil, ocf.ErrConfigured, "not an integer"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"manage_regions": "perhaps"}, nil, ocf.ErrConfigured, "not a boolean"},
		// This node's cluster.conf is this node's trouble: a start fails
		// here only (OCF_ERR_GENERIC), naming the file and line;
		// validate-all judges the configuration (OCF_ERR_CONFIGURED).
		{agenttest.Root("n1"), "start", map[string]string{"cluster_conf": bad}, nil, ocf.ErrGeneric, bad + ":3:"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"cluster_conf": bad}, nil, ocf.ErrConfigured, bad + ":3:"},
		{agenttest.Root("n1"), "start", map[string]string{"cluster_conf": noRegions}, nil, ocf.ErrGeneric, "no heartbeat region"},
		{agenttest.Root("n1"), "start", map[string]string{"cluster_conf": missing}, nil, ocf.ErrInstalled, missing},
		{agenttest.Root("n1"), "validate-all", map[string]string{"cluster_conf": missing}, nil, ocf.ErrInstalled, missing},
		{agenttest.Root("n1"), "start", map[string]string{"node_name": "n9"}, nil, ocf.ErrArgs, "n9"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"node_name": "n9"}, nil, ocf.ErrArgs, "n9"},
		{agenttest.Root("n1"), "start", map[string]string{"cluster": "other"}, nil, ocf.ErrGeneric, "other"},
		{agenttest.Root("n1"), "validate-all", nil, unique, ocf.ErrConfigured, "globally-unique=false"},
		{agenttest.Root("n1"), "start", nil, unique, ocf.ErrConfigured, "globally-unique=false"},
		// This node by its host name when node_name is empty, matched
		// without its domain.
		{agenttest.Root("n2.example.com"), "validate-all", map[string]string{"node_name": ""}, nil, ocf.Success, ""},
		{agenttest.Root("elsewhere"), "validate-all", map[string]string{"node_name": ""}, nil, ocf.ErrArgs, "elsewhere"},
		{agenttest.NoHostname(), "validate-all", map[string]string{"node_name": ""}, nil, ocf.ErrGeneric, "host name"},
		// Actions that change what runs need root; the parameters and
		// the clone are checked first.
		{agenttest.User(65534, "n1"), "start", nil, nil, ocf.ErrPerm, "start needs root (running as uid 65534)"},
		{agenttest.User(65534, "n1"), "stop", nil, nil, ocf.ErrPerm, "stop needs root"},
		{agenttest.User(65534, "n1"), "reload", nil, nil, ocf.ErrPerm, "reload needs root"},
		{agenttest.User(65534, "n1"), "start", map[string]string{"region_quorum": "some"}, nil, ocf.ErrConfigured, "parameter region_quorum"},
		{agenttest.User(65534, "n1"), "validate-all", nil, nil, ocf.Success, ""},
		{agenttest.User(65534, "n1"), "monitor", nil, nil, ocf.NotRunning, ""},
		// Monitors and probes tell what runs: no daemon is "not running",
		// whatever cluster.conf says, on a node outside the cluster too.
		{agenttest.Root("n1"), "monitor", nil, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"cluster_conf": missing}, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"cluster_conf": bad}, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"node_name": "n9"}, probe, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "stop", nil, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "stop", map[string]string{"cluster_conf": bad}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "stop", map[string]string{"cluster_conf": missing}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "meta-data", nil, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "meta-data", map[string]string{"cluster_conf": missing, "region_quorum": "some"}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "nosuch", nil, nil, ocf.ErrUnimplemented, ""},
	} {
		code, stderr := agenttest.Run(t, New(tc.host), tc.action, params(tc.mod), tc.env)
		reason := testenv.ExitReason(stderr)
		if code != tc.code || (tc.reason != "" && !strings.Contains(reason, tc.reason)) || (code == ocf.Success && reason != "") {
			t.Errorf("o2cb %s %v %v = exit %d, reason %q; want %d with a reason containing %q\n%s",
				tc.action, tc.mod, tc.env, code, reason, tc.code, tc.reason, stderr)
		}
	}
}
