package metrics

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// find returns the value of the series name with labels, and whether
// there is one.
func find(samples []Sample, name string, labels map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.Name != name || len(s.Labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && s.Labels[k] == v
		}
		if match {
			return s.Value, true
		}
	}
	return 0, false
}

func TestWrite(t *testing.T) {
	st := &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Cluster: "web", Mode: "global", Backend: hbclient.BackendUserspace,
		IntervalMS: 2000, DeadThreshold: 31, LiveNodes: []int{1, 2, 7},
		Regions: []hbclient.RegionStatus{
			{UUID: "AA", Device: `/dev/odd"name\`, State: hbclient.StateSteady, LiveNodes: []int{1, 2, 7}, Refs: 1,
				LastWriteAge: 0.5, OwnSlotAge: 1.25, WriteLatency: 3, LatenessP50: 1.5, LatenessP99: 8,
				Iterations: 10, Reads: 10, Writes: 10, BytesRead: 1280, BytesWritten: 5120, BadBlocks: 2, Collisions: 1, Restarts: 3, Failures: 4},
			{UUID: "BB", Device: "/dev/b", State: hbclient.StateFailed, LiveNodes: []int{}, LastWriteAge: -1, OwnSlotAge: -1, Retries: 2, ReadErrors: 5},
		}}
	var b strings.Builder
	if err := Write(&b, st, []Node{{"n1", 1}, {"n2", 2}, {"n3", 3}}); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	samples, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"up", nil, 1},
		{"info", map[string]string{"cluster": "web", "mode": "global", "backend": "userspace", "node": "n1", "node_number": "1"}, 1},
		{"heartbeat_interval_seconds", nil, 2},
		{"dead_threshold", nil, 31},
		{"kernel_peer", nil, 0},
		{"live_nodes", nil, 3},
		{"region_state", map[string]string{"region": "AA", "device": `/dev/odd"name\`, "state": "steady"}, 1},
		{"region_state", map[string]string{"region": "AA", "device": `/dev/odd"name\`, "state": "failed"}, 0},
		{"region_state", map[string]string{"region": "BB", "device": "/dev/b", "state": "failed"}, 1},
		{"region_node_live", map[string]string{"region": "AA", "node": "n2", "node_number": "2"}, 1},
		{"region_node_live", map[string]string{"region": "AA", "node": "n3", "node_number": "3"}, 0},
		{"region_node_live", map[string]string{"region": "AA", "node": "7", "node_number": "7"}, 1}, // live, not in cluster.conf
		{"region_node_live", map[string]string{"region": "BB", "node": "n1", "node_number": "1"}, 0},
		{"region_live_nodes", map[string]string{"region": "AA"}, 3},
		{"region_references", map[string]string{"region": "AA"}, 1},
		{"region_last_write_age_seconds", map[string]string{"region": "AA"}, 0.5},
		{"region_own_slot_age_seconds", map[string]string{"region": "AA"}, 1.25},
		{"region_write_latency_seconds", map[string]string{"region": "AA"}, 0.003},
		{"region_iteration_lateness_p50_seconds", map[string]string{"region": "AA"}, 0.0015},
		{"region_iteration_lateness_p99_seconds", map[string]string{"region": "AA"}, 0.008},
		{"region_iterations_total", map[string]string{"region": "AA"}, 10},
		{"region_written_bytes_total", map[string]string{"region": "AA"}, 5120},
		{"region_bad_blocks_total", map[string]string{"region": "AA"}, 2},
		{"region_collisions_total", map[string]string{"region": "AA"}, 1},
		{"region_restarts_total", map[string]string{"region": "AA"}, 3},
		{"region_failures_total", map[string]string{"region": "AA"}, 4},
		{"region_read_errors_total", map[string]string{"region": "BB"}, 5},
		{"region_retries", map[string]string{"region": "BB"}, 2},
	} {
		if got, ok := find(samples, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// A region never written has no age series.
	if _, ok := find(samples, "region_last_write_age_seconds", map[string]string{"region": "BB"}); ok {
		t.Error("region BB, never written, has a last-write age")
	}
	// Every family has its HELP and TYPE once, before its series, and
	// counters end in _total.
	for _, s := range samples {
		full := Prefix + s.Name
		h, ty := strings.Index(text, "# HELP "+full+" "), strings.Index(text, "# TYPE "+full+" ")
		if h < 0 || ty < h || strings.Count(text, "# TYPE "+full+" ") != 1 {
			t.Errorf("family %s: HELP at %d, TYPE at %d (once: %v)", full, h, ty, strings.Count(text, "# TYPE "+full+" ") == 1)
		}
		if strings.Contains(text, "# TYPE "+full+" counter") != strings.HasSuffix(s.Name, "_total") {
			t.Errorf("family %s: a counter must end in _total, and only a counter", full)
		}
	}
}

// TestPromtool: promtool's linter accepts what Write writes.
func TestPromtool(t *testing.T) {
	promtool := testenv.Promtool(t)
	st := &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Cluster: "web", Mode: "global", Backend: hbclient.BackendObserver,
		IntervalMS: 2000, DeadThreshold: 31, KernelPeer: "node n2 answers o2net",
		Regions: []hbclient.RegionStatus{{UUID: "AA", Device: "/dev/a", State: hbclient.StateFailed, LastWriteAge: 3, OwnSlotAge: 4, Retries: 1}}}
	for _, s := range []*hbclient.Status{st, nil} {
		var b strings.Builder
		if err := Write(&b, s, []Node{{"n1", 1}, {"n2", 2}}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(b.String())
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, b.String())
		}
	}
}

func TestWriteNoDaemon(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := "# HELP ha_cluster_o2cb_up Whether the node's heartbeat daemon answered (1) or not (0).\n# TYPE ha_cluster_o2cb_up gauge\nha_cluster_o2cb_up 0\n"; b.String() != want {
		t.Errorf("Write(nil) = %q, want %q", b.String(), want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"x", "x{a=\"1\" 2", "x{a=1} 2", "x{a=\"1} 2", "x{} y"} {
		if _, err := Parse(bad + "\n"); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
