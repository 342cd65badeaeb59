package o2cb

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
)

func TestParseClusterOptions(t *testing.T) {
	for _, tc := range []struct {
		xml  string
		want clusterOptions
	}{
		{`<crm_config/>`, clusterOptions{}},
		{`<crm_config><cluster_property_set id="cib-bootstrap-options">
			<nvpair id="a" name="stonith-enabled" value="false"/>
			<nvpair id="b" name="no-quorum-policy" value="freeze"/>
			<nvpair id="c" name="have-watchdog" value="false"/>
		</cluster_property_set></crm_config>`, clusterOptions{stonithEnabled: "false", noQuorumPolicy: "freeze"}},
	} {
		got, err := parseClusterOptions([]byte(tc.xml))
		if err != nil || got != tc.want {
			t.Errorf("parseClusterOptions(%s) = %+v, %v; want %+v", tc.xml, got, err, tc.want)
		}
	}
	if _, err := parseClusterOptions([]byte("<crm_config><nvpair")); err == nil {
		t.Error("parseClusterOptions(truncated XML) succeeded")
	}
}

// TestStartPrerequisites runs start in-process with the CIB's answer
// stubbed: the prerequisites are checked before anything else (root, the
// configuration), so no root and no cluster.conf are needed to see them
// refuse.
func TestStartPrerequisites(t *testing.T) {
	saved := readClusterOptions
	t.Cleanup(func() { readClusterOptions = saved })
	for _, tc := range []struct {
		name     string
		opts     clusterOptions
		ok       bool
		env      map[string]string
		code     int    // exit code of start, if the prerequisites refuse
		reason   string // in the exit reason
		warnings []string
	}{
		{name: "stonith disabled", opts: clusterOptions{stonithEnabled: "false", noQuorumPolicy: "freeze"}, ok: true,
			env: map[string]string{"OCF_RESKEY_CRM_meta_clone_max": "3"}, code: ocf.ErrConfigured, reason: "stonith-enabled=false"},
		{name: "stonith disabled, spelled off", opts: clusterOptions{stonithEnabled: "off"}, ok: true,
			code: ocf.ErrConfigured, reason: "allow_stonith_disabled=true"},
		{name: "stonith disabled but allowed", opts: clusterOptions{stonithEnabled: "false", noQuorumPolicy: "freeze"}, ok: true,
			env:      map[string]string{"OCF_RESKEY_allow_stonith_disabled": "true", "OCF_RESKEY_CRM_meta_clone_max": "3"},
			warnings: []string{"fencing is disabled"}},
		{name: "globally unique clone", opts: clusterOptions{noQuorumPolicy: "freeze"}, ok: true,
			env:  map[string]string{"OCF_RESKEY_CRM_meta_globally_unique": "true", "OCF_RESKEY_CRM_meta_clone_max": "3"},
			code: ocf.ErrConfigured, reason: "globally-unique=false"},
		{name: "not a clone, default quorum policy", opts: clusterOptions{stonithEnabled: "true"}, ok: true,
			warnings: []string{"not a clone", "no-quorum-policy is stop (the default)"}},
		{name: "no cluster to ask", ok: false, env: map[string]string{"OCF_RESKEY_CRM_meta_clone_max": "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readClusterOptions = func(context.Context, []string) (clusterOptions, bool, error) { return tc.opts, tc.ok, nil }
			env := ocf.MapEnv{
				// A cluster.conf that does not exist: a start that passes
				// the prerequisites fails later, as OCF_ERR_PERM (not
				// root) or OCF_ERR_INSTALLED (root).
				"OCF_RESKEY_cluster_conf": t.TempDir() + "/cluster.conf",
				"OCF_RESKEY_run_dir":      t.TempDir() + "/run",
				"HA_debug":                "1",
				"HA_LOGFACILITY":          "none", // messages to stderr, where the test reads them
			}
			for k, v := range tc.env {
				env[k] = v
			}
			var stderr strings.Builder
			code := Agent().Main([]string{"start"}, env, io.Discard, &stderr)
			if tc.code != 0 {
				if code != tc.code || !strings.Contains(stderr.String(), "ocf-exit-reason:") || !strings.Contains(stderr.String(), tc.reason) {
					t.Errorf("start = exit %d, want %d with a reason containing %q\n%s", code, tc.code, tc.reason, stderr.String())
				}
				return
			}
			if code != ocf.ErrPerm && code != ocf.ErrInstalled {
				t.Errorf("start = exit %d, want the prerequisites passed (then OCF_ERR_PERM or OCF_ERR_INSTALLED)\n%s", code, stderr.String())
			}
			for _, w := range tc.warnings {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("start logged no warning %q:\n%s", w, stderr.String())
				}
			}
			if len(tc.warnings) == 0 && strings.Contains(stderr.String(), "WARNING:") {
				t.Errorf("start warned with every prerequisite met:\n%s", stderr.String())
			}
		})
	}
}

// TestStartPrerequisitesCIBError: a CIB that cannot be read is a warning,
// not a refusal (the cluster manager itself may be the trouble).
func TestStartPrerequisitesCIBError(t *testing.T) {
	saved := readClusterOptions
	t.Cleanup(func() { readClusterOptions = saved })
	readClusterOptions = func(context.Context, []string) (clusterOptions, bool, error) {
		return clusterOptions{}, false, errors.New("cibadmin: timed out")
	}
	var stderr strings.Builder
	env := ocf.MapEnv{"OCF_RESKEY_cluster_conf": t.TempDir() + "/none", "OCF_RESKEY_run_dir": t.TempDir(), "HA_LOGFACILITY": "none"}
	if code := Agent().Main([]string{"start"}, env, io.Discard, &stderr); code == ocf.ErrConfigured {
		t.Errorf("start with an unreadable CIB = exit %d, want the prerequisites passed\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "cibadmin: timed out") {
		t.Errorf("start did not warn of the unreadable CIB:\n%s", stderr.String())
	}
}
