package command

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

// TestAgentCommandGetsMainsEnv: `o2cb-ra agent NAME ACTION` runs the
// agent with the environment Main was given, not the process's.
func TestAgentCommandGetsMainsEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.conf")
	env := ocf.MapEnv{"OCF_RESKEY_cluster_conf": missing, "OCF_RESKEY_node_name": "n1", "HA_LOGFACILITY": "none"}
	for _, args := range [][]string{
		{"o2cb-ra", "agent", "o2cb", "validate-all"},
		{"/usr/lib/ocf/resource.d/ocfs2/o2cb", "validate-all"},
	} {
		var out, errOut strings.Builder
		code := Main(args, env, &out, &errOut)
		if code != ocf.ErrInstalled || !strings.Contains(errOut.String(), "ocf-exit-reason:") || !strings.Contains(errOut.String(), missing) {
			t.Errorf("Main(%q) with cluster_conf=%s = exit %d, want %d naming the file\n%s", args, missing, code, ocf.ErrInstalled, errOut.String())
		}
	}
}
