package clusterview

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	agentparams "github.com/o2cb-ra/o2cb-ra/agents/params"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// load runs Load in action of an agent with the shared parameters, set
// from params, and returns what it returned.
func load(action string, params map[string]string, hostname func() (string, error)) (*View, error) {
	var v *View
	var err error
	run := func(c *ocf.Context) error { v, err = Load(c, hostname); return nil }
	a := &ocf.Agent{Name: "test", Params: agentparams.Shared(""), Actions: []ocf.Action{
		{Name: "validate-all", Timeout: time.Second, Run: run}, {Name: "start", Timeout: time.Second, Run: run},
		{Name: "reload", Timeout: time.Second, Run: run}, {Name: "monitor", Timeout: time.Second, Run: run},
	}}
	env := ocf.MapEnv{"HA_LOGFACILITY": "none"}
	for k, val := range params {
		env["OCF_RESKEY_"+k] = val
	}
	if code := a.Main([]string{action}, env, io.Discard, io.Discard); code != ocf.Success {
		return nil, fmt.Errorf("the test agent's %s exited %d", action, code)
	}
	return v, err
}

// TestLoadCodes: the exit code of each trouble with cluster.conf, by
// action.
func TestLoadCodes(t *testing.T) {
	dir := t.TempDir()
	good := clustertest.Write(t, filepath.Join(dir, "good.conf"), clustertest.Cluster{Name: "test", Nodes: 2})
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("cluster:\n\tname = test\n\theartbeat_mode = sideways\n\tnode_count = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	host := func() (string, error) { return "n2.example.com", nil }
	for _, tc := range []struct {
		conf, node, cluster string
		want                map[string]int // by action
		reason              string
	}{
		{good, "n1", "", map[string]int{"validate-all": ocf.Success, "start": ocf.Success, "reload": ocf.Success, "monitor": ocf.Success}, ""},
		{missing, "n1", "", map[string]int{"validate-all": ocf.ErrInstalled, "start": ocf.ErrInstalled, "reload": ocf.ErrInstalled, "monitor": ocf.ErrGeneric}, missing},
		{bad, "n1", "", map[string]int{"validate-all": ocf.ErrConfigured, "start": ocf.ErrGeneric, "reload": ocf.ErrGeneric, "monitor": ocf.ErrGeneric}, bad + ":3:"},
		{good, "n1", "other", map[string]int{"validate-all": ocf.ErrConfigured, "start": ocf.ErrGeneric, "monitor": ocf.ErrGeneric}, "other"},
		{good, "n9", "", map[string]int{"validate-all": ocf.ErrArgs, "start": ocf.ErrArgs, "reload": ocf.ErrArgs, "monitor": ocf.ErrGeneric}, "n9"},
	} {
		for action, want := range tc.want {
			v, err := load(action, map[string]string{"cluster_conf": tc.conf, "node_name": tc.node, "cluster": tc.cluster}, host)
			if got := ocf.CodeOf(err); got != want || (err != nil && !strings.Contains(err.Error(), tc.reason)) || (err == nil) != (v != nil) {
				t.Errorf("Load(%s, %s, node %s, cluster %q) = %v, %v (%s); want %s with %q",
					action, filepath.Base(tc.conf), tc.node, tc.cluster, v, err, ocf.CodeName(got), ocf.CodeName(want), tc.reason)
			}
		}
	}
}

// TestLoadByHostName: without node_name, this node is the host name
// without its domain; a host name that cannot be read fails the action.
func TestLoadByHostName(t *testing.T) {
	conf := clustertest.Write(t, filepath.Join(t.TempDir(), "cluster.conf"), clustertest.Cluster{Name: "test", Global: true, Nodes: 2,
		Regions: []string{"00112233445566778899AABBCCDDEEFF"}})
	params := map[string]string{"cluster_conf": conf}
	v, err := load("start", params, func() (string, error) { return "n2.example.com", nil })
	if err != nil || v.Node.Name != "n2" || v.Cluster.Name() != "test" || v.Mode != clusterconf.ModeGlobal ||
		len(v.Regions) != 1 || v.Regions[0].UUID != "00112233445566778899AABBCCDDEEFF" {
		t.Fatalf("Load(host n2.example.com) = %+v, %v; want node n2 of cluster test, global, one region", v, err)
	}
	if _, err := load("start", params, func() (string, error) { return "", errors.New("uname failed") }); ocf.CodeOf(err) != ocf.ErrGeneric || !strings.Contains(err.Error(), "host name: uname failed") {
		t.Errorf("Load(no host name) = %v, want OCF_ERR_GENERIC naming the host name", err)
	}
}
