package o2cb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
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
	c := agenttest.WriteConfs(t, dir)
	conf, bad, missing := c.Good, c.Bad, c.Missing
	noRegions := filepath.Join(dir, "noregions.conf")
	b, _ := os.ReadFile(conf)
	if err := os.WriteFile(noRegions, []byte(strings.Replace(string(b), "heartbeat_mode = local", "heartbeat_mode = global", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": filepath.Join(dir, "run"),
		"devices": dir + "/*.img", "heartbeat_interval_ms": "100", "dead_threshold": "5"}
	probe := map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}
	unique := map[string]string{"OCF_RESKEY_CRM_meta_globally_unique": "true"}
	agenttest.ExitCodes(t, New, params, []agenttest.Row{
		{Host: agenttest.Root("n1"), Action: "validate-all", Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"region_quorum": "some"}, Code: ocf.ErrConfigured, Reason: "parameter region_quorum"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"metrics_address": "9664"}, Code: ocf.ErrConfigured, Reason: "parameter metrics_address"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"metrics_address": "127.0.0.1:0"}, Code: ocf.ErrConfigured, Reason: "port \"0\" is not 1 to 65535"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"dead_threshold": "2"}, Code: ocf.ErrConfigured, Reason: "parameter dead_threshold"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"heartbeat_timeout": "60s", "heartbeat_interval_ms": "", "dead_threshold": ""}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"heartbeat_timeout": "60s", "heartbeat_interval_ms": "", "dead_threshold": "31"}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"heartbeat_timeout": "90s", "heartbeat_interval_ms": "", "dead_threshold": "31"}, Code: ocf.ErrConfigured, Reason: "dead_threshold=31 and heartbeat_timeout=90s disagree (90s at 2000 ms is 46 iterations)"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"heartbeat_timeout": "2s", "heartbeat_interval_ms": "", "dead_threshold": ""}, Code: ocf.ErrConfigured, Reason: "parameter heartbeat_timeout=2s: 2 iterations of 2000 ms"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"heartbeat_timeout": "soon"}, Code: ocf.ErrConfigured, Reason: "heartbeat_timeout"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"heartbeat_interval_ms": "fast"}, Code: ocf.ErrConfigured, Reason: "not an integer"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"manage_regions": "perhaps"}, Code: ocf.ErrConfigured, Reason: "not a boolean"},
		// This node's cluster.conf is this node's trouble: a start fails
		// here only (OCF_ERR_GENERIC), naming the file and line;
		// validate-all judges the configuration (OCF_ERR_CONFIGURED).
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"cluster_conf": bad}, Code: ocf.ErrGeneric, Reason: bad + ":3:"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"cluster_conf": bad}, Code: ocf.ErrConfigured, Reason: bad + ":3:"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"cluster_conf": noRegions}, Code: ocf.ErrGeneric, Reason: "no heartbeat region"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"cluster_conf": missing}, Code: ocf.ErrInstalled, Reason: missing},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"cluster_conf": missing}, Code: ocf.ErrInstalled, Reason: missing},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"node_name": "n9"}, Code: ocf.ErrArgs, Reason: "n9"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"node_name": "n9"}, Code: ocf.ErrArgs, Reason: "n9"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"cluster": "other"}, Code: ocf.ErrGeneric, Reason: "other"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Env: unique, Code: ocf.ErrConfigured, Reason: "globally-unique=false"},
		{Host: agenttest.Root("n1"), Action: "start", Env: unique, Code: ocf.ErrConfigured, Reason: "globally-unique=false"},
		// This node by its host name when node_name is empty, matched
		// without its domain.
		{Host: agenttest.Root("n2.example.com"), Action: "validate-all", Mod: map[string]string{"node_name": ""}, Code: ocf.Success},
		{Host: agenttest.Root("elsewhere"), Action: "validate-all", Mod: map[string]string{"node_name": ""}, Code: ocf.ErrArgs, Reason: "elsewhere"},
		{Host: agenttest.NoHostname(), Action: "validate-all", Mod: map[string]string{"node_name": ""}, Code: ocf.ErrGeneric, Reason: "host name"},
		// Actions that change what runs need root; the parameters and
		// the clone are checked first.
		{Host: agenttest.User(65534, "n1"), Action: "start", Code: ocf.ErrPerm, Reason: "start needs root (running as uid 65534)"},
		{Host: agenttest.User(65534, "n1"), Action: "stop", Code: ocf.ErrPerm, Reason: "stop needs root"},
		{Host: agenttest.User(65534, "n1"), Action: "reload", Code: ocf.ErrPerm, Reason: "reload needs root"},
		{Host: agenttest.User(65534, "n1"), Action: "start", Mod: map[string]string{"region_quorum": "some"}, Code: ocf.ErrConfigured, Reason: "parameter region_quorum"},
		{Host: agenttest.User(65534, "n1"), Action: "validate-all", Code: ocf.Success},
		{Host: agenttest.User(65534, "n1"), Action: "monitor", Code: ocf.NotRunning},
		// Monitors and probes tell what runs: no daemon is "not running",
		// whatever cluster.conf says, on a node outside the cluster too.
		{Host: agenttest.Root("n1"), Action: "monitor", Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"cluster_conf": missing}, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"cluster_conf": bad}, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"node_name": "n9"}, Env: probe, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "stop", Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "stop", Mod: map[string]string{"cluster_conf": bad}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "stop", Mod: map[string]string{"cluster_conf": missing}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "meta-data", Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "meta-data", Mod: map[string]string{"cluster_conf": missing, "region_quorum": "some"}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "nosuch", Code: ocf.ErrUnimplemented},
	})
}
