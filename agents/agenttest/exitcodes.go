package agenttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/host"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// Confs are the cluster.conf files of the exit-code tables, in a test's
// directory: a good one of cluster "test" with nodes n1 and n2 in local
// mode, one whose line 3 is wrong, and the path of one that is missing.
type Confs struct {
	Good, Bad, Missing string
}

// WriteConfs writes Confs into dir.
func WriteConfs(t testing.TB, dir string) Confs {
	t.Helper()
	c := Confs{
		Good:    clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Name: "test", Nodes: 2}),
		Bad:     filepath.Join(dir, "bad.conf"),
		Missing: filepath.Join(dir, "missing.conf"),
	}
	if err := os.WriteFile(c.Bad, []byte("cluster:\n\tname = test\n\theartbeat_mode = sideways\n\tnode_count = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// Row is one row of an exit-code table: an action on a machine, with
// the table's parameters changed by Mod (an empty value removes one) and
// environment Env, and the exit code and the words of the exit reason
// it must give ("" for any; a success must give none).
type Row struct {
	Host   host.Host
	Action string
	Mod    map[string]string
	Env    map[string]string
	Code   int
	Reason string
}

// ExitCodes runs each row against the agent that agent makes for the
// row's machine, with params as the base parameters.
func ExitCodes(t *testing.T, agent func(host.Host) *ocf.Agent, params map[string]string, rows []Row) {
	t.Helper()
	for _, r := range rows {
		p := map[string]string{}
		for k, v := range params {
			p[k] = v
		}
		for k, v := range r.Mod {
			if v == "" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		a := agent(r.Host)
		code, stderr := Run(t, a, r.Action, p, r.Env)
		reason := testenv.ExitReason(stderr)
		if code != r.Code || (r.Reason != "" && !strings.Contains(reason, r.Reason)) || (code == ocf.Success && reason != "") {
			t.Errorf("%s %s %v %v = exit %d, reason %q; want %d with a reason containing %q\n%s",
				a.Name, r.Action, r.Mod, r.Env, code, reason, r.Code, r.Reason, stderr)
		}
	}
}
