package hbregion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/agents/host"
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
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("cluster:\n\tname = test\n\theartbeat_mode = sideways\n\tnode_count = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	const uuid = "C213A5E1913B4A38A17101E81BDC2267"
	params := func(mod map[string]string) map[string]string {
		p := map[string]string{"cluster_conf": conf, "node_name": "n1", "run_dir": filepath.Join(dir, "run"), "devices": dir + "/*.img"}
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
	// A start waits for a daemon that is not there until its deadline:
	// this one is short.
	short := map[string]string{"OCF_RESKEY_CRM_meta_timeout": "300"}
	for _, tc := range []struct {
		host   host.Host
		action string
		mod    map[string]string
		env    map[string]string
		code   int
		reason string // in the exit reason; "" for none required
	}{
		{agenttest.Root("n1"), "start", nil, nil, ocf.ErrConfigured, "parameter uuid is required"},
		{agenttest.Root("n1"), "start", map[string]string{"uuid": "not-a-uuid"}, nil, ocf.ErrConfigured, "parameter uuid"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": "00112233-4455-6677-8899-aabbccddeeff"}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": strings.ToLower(uuid)}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": uuid, "cluster_conf": bad}, nil, ocf.ErrConfigured, bad + ":3:"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": uuid, "cluster_conf": missing}, nil, ocf.ErrInstalled, missing},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": uuid, "node_name": "n9"}, nil, ocf.ErrArgs, "n9"},
		{agenttest.Root("n1"), "validate-all", map[string]string{"uuid": uuid, "device": filepath.Join(dir, "none.img")}, nil, ocf.ErrInstalled, "none.img"},
		{agenttest.Root("n2"), "validate-all", map[string]string{"uuid": uuid, "node_name": ""}, nil, ocf.Success, ""},
		{agenttest.Root("nowhere"), "validate-all", map[string]string{"uuid": uuid, "node_name": ""}, nil, ocf.ErrArgs, "nowhere"},
		{agenttest.Root("n1"), "start", map[string]string{"uuid": uuid, "cluster_conf": bad}, nil, ocf.ErrGeneric, bad + ":3:"},
		{agenttest.Root("n1"), "start", map[string]string{"uuid": uuid, "layout": "nosuch"}, nil, ocf.ErrInstalled, "nosuch_hb_ctl"},
		{agenttest.Root("n1"), "start", map[string]string{"uuid": uuid}, short, ocf.ErrGeneric, "start the o2cb resource first"},
		{agenttest.User(65534, "n1"), "start", map[string]string{"uuid": uuid}, nil, ocf.ErrPerm, "start needs root (running as uid 65534)"},
		{agenttest.User(65534, "n1"), "stop", map[string]string{"uuid": uuid}, nil, ocf.ErrPerm, "stop needs root"},
		{agenttest.User(65534, "n1"), "monitor", map[string]string{"uuid": uuid}, nil, ocf.NotRunning, ""},
		// Monitors and probes tell what runs: no daemon is "not running",
		// whatever cluster.conf says; so is a region whose layout driver
		// is not installed.
		{agenttest.Root("n1"), "monitor", map[string]string{"uuid": uuid}, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"uuid": uuid, "node_name": "n9"}, probe, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"uuid": uuid, "cluster_conf": missing}, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "monitor", map[string]string{"uuid": uuid, "layout": "nosuch"}, nil, ocf.NotRunning, ""},
		{agenttest.Root("n1"), "stop", map[string]string{"uuid": uuid, "cluster_conf": bad}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "stop", map[string]string{"uuid": uuid, "layout": "nosuch"}, nil, ocf.Success, ""},
		{agenttest.Root("n1"), "meta-data", nil, nil, ocf.Success, ""},
	} {
		code, stderr := agenttest.Run(t, New(tc.host), tc.action, params(tc.mod), tc.env)
		reason := testenv.ExitReason(stderr)
		if code != tc.code || (tc.reason != "" && !strings.Contains(reason, tc.reason)) || (code == ocf.Success && reason != "") {
			t.Errorf("hbregion %s %v %v = exit %d, reason %q; want %d with a reason containing %q\n%s",
				tc.action, tc.mod, tc.env, code, reason, tc.code, tc.reason, stderr)
		}
	}
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
