package hbregion

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestExitCodesInProcess: the parameter and cluster.conf rows of the
// exit-code table, in-process: no root (the host says root), no devices,
// no daemon (the run directory has none).
func TestExitCodesInProcess(t *testing.T) {
	dir := t.TempDir()
	c := agenttest.WriteConfs(t, dir)
	conf, bad, missing := c.Good, c.Bad, c.Missing
	const uuid = "C213A5E1913B4A38A17101E81BDC2267"
	params := map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": filepath.Join(dir, "run"), "devices": dir + "/*.img"}
	probe := map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}
	// A start waits for a daemon that is not there until its deadline:
	// this one is short.
	short := map[string]string{"OCF_RESKEY_CRM_meta_timeout": "300"}
	agenttest.ExitCodes(t, New, params, []agenttest.Row{
		{Host: agenttest.Root("n1"), Action: "start", Code: ocf.ErrConfigured, Reason: "parameter uuid is required"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"uuid": "not-a-uuid"}, Code: ocf.ErrConfigured, Reason: "parameter uuid"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": "00112233-4455-6677-8899-aabbccddeeff"}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": strings.ToLower(uuid)}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "cluster_conf": bad}, Code: ocf.ErrConfigured, Reason: bad + ":3:"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "cluster_conf": missing}, Code: ocf.ErrInstalled, Reason: missing},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "node_name": "n9"}, Code: ocf.ErrArgs, Reason: "n9"},
		{Host: agenttest.Root("n1"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "device": filepath.Join(dir, "none.img")}, Code: ocf.ErrInstalled, Reason: "none.img"},
		{Host: agenttest.Root("n2"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "node_name": ""}, Code: ocf.Success},
		{Host: agenttest.Root("nowhere"), Action: "validate-all", Mod: map[string]string{"uuid": uuid, "node_name": ""}, Code: ocf.ErrArgs, Reason: "nowhere"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"uuid": uuid, "cluster_conf": bad}, Code: ocf.ErrGeneric, Reason: bad + ":3:"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"uuid": uuid, "layout": "nosuch"}, Code: ocf.ErrInstalled, Reason: "nosuch_hb_ctl"},
		{Host: agenttest.Root("n1"), Action: "start", Mod: map[string]string{"uuid": uuid}, Env: short, Code: ocf.ErrGeneric, Reason: "start the o2cb resource first"},
		{Host: agenttest.User(65534, "n1"), Action: "start", Mod: map[string]string{"uuid": uuid}, Code: ocf.ErrPerm, Reason: "start needs root (running as uid 65534)"},
		{Host: agenttest.User(65534, "n1"), Action: "stop", Mod: map[string]string{"uuid": uuid}, Code: ocf.ErrPerm, Reason: "stop needs root"},
		{Host: agenttest.User(65534, "n1"), Action: "monitor", Mod: map[string]string{"uuid": uuid}, Code: ocf.NotRunning},
		// Monitors and probes tell what runs: no daemon is "not running",
		// whatever cluster.conf says; so is a region whose layout driver
		// is not installed.
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"uuid": uuid}, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"uuid": uuid, "node_name": "n9"}, Env: probe, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"uuid": uuid, "cluster_conf": missing}, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "monitor", Mod: map[string]string{"uuid": uuid, "layout": "nosuch"}, Code: ocf.NotRunning},
		{Host: agenttest.Root("n1"), Action: "stop", Mod: map[string]string{"uuid": uuid, "cluster_conf": bad}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "stop", Mod: map[string]string{"uuid": uuid, "layout": "nosuch"}, Code: ocf.Success},
		{Host: agenttest.Root("n1"), Action: "meta-data", Code: ocf.Success},
	})
}

// TestStartReasonNamesTheMissingDaemon: hbregion's start without a
// daemon names what is missing (the o2cb resource) and the run directory.
func TestStartReasonNamesTheMissingDaemon(t *testing.T) {
	dir := t.TempDir()
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	run := filepath.Join(dir, "run")
	code, stderr := agenttest.Run(t, New(agenttest.Root("n1")), "start",
		map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": run, "uuid": "C213A5E1913B4A38A17101E81BDC2267"},
		map[string]string{"OCF_RESKEY_CRM_meta_timeout": "300"})
	if r := testenv.ExitReason(stderr); code != ocf.ErrGeneric || !strings.HasPrefix(r, hbclient.ErrNotRunning.Error()) || !strings.Contains(r, run) {
		t.Errorf("start without a daemon = exit %d, reason %q; want %d, %q first and the run directory", code, r, ocf.ErrGeneric, hbclient.ErrNotRunning)
	}
}
