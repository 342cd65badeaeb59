package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMetricsAgainstStatus runs the real daemon on a region of an image
// from mkfs.ocfs2, and reads `o2cb-ra metrics` back against `o2cb-ra
// status --json` taken just before and just after: the same state, nodes
// and references, each counter between its two readings. promtool checks
// the output.
func TestMetricsAgainstStatus(t *testing.T) {
	testenv.RequireRoot(t)
	promtool := testenv.Promtool(t)
	o2cbRA, hbCtl := testenv.Binaries(t)
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40, Dir: dir, Name: "v.img"})
	out := testenv.Run(t, hbCtl, "-L", "-d", img)
	uuid := strings.TrimSpace(out)
	conf := clustertest.Write(t, filepath.Join(dir, "cluster.conf"), clustertest.Cluster{Nodes: 3})
	n := clustertest.NewNode(clustertest.NodeConfig{Bin: o2cbRA, Conf: conf, Name: "n1", Run: filepath.Join(dir, "run"),
		Devices: img, Interval: 100 * time.Millisecond, Threshold: 5})
	// The daemon's own listener, on a port free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n.Env = append(n.Env, "O2CB_METRICS_ADDRESS="+addr)
	pid, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.StopProcess(t, pid, syscall.SIGTERM) })
	run := func(prog string, args ...string) string {
		t.Helper()
		cmd := exec.Command(prog, args...)
		cmd.Env = n.Env
		r := testenv.Exec(t, cmd)
		if r.Code != 0 {
			t.Fatalf("%s %v: %v", prog, args, r)
		}
		return r.Stdout
	}
	run(hbCtl, "-S", "-u", uuid, "metrics-test")
	status := func() *hbclient.Status {
		t.Helper()
		var st hbclient.Status
		if err := json.Unmarshal([]byte(run(o2cbRA, "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}
	testenv.WaitFor(t, 10*time.Second, "region steady", func() bool {
		st := status()
		return len(st.Regions) == 1 && st.Regions[0].State == hbclient.StateSteady && st.Regions[0].LastWriteAge >= 0
	})
	before := status()
	text := run(o2cbRA, "metrics")
	after := status()

	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s\nmetrics:\n%s", err, out, text)
	}
	samples, err := metrics.Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	get := func(name string, labels ...string) float64 {
		t.Helper()
		for _, s := range samples {
			if s.Name != name || len(s.Labels) != len(labels)/2 {
				continue
			}
			match := true
			for i := 0; i < len(labels); i += 2 {
				match = match && s.Labels[labels[i]] == labels[i+1]
			}
			if match {
				return s.Value
			}
		}
		t.Errorf("no series %s%v in:\n%s", name, labels, text)
		return -1
	}
	r0, r1 := before.Regions[0], after.Regions[0]
	if get("up") != 1 || get("info", "cluster", before.Cluster, "mode", before.Mode, "backend", before.Backend, "node", "n1", "node_number", "1") != 1 {
		t.Error("up and info do not say what status says")
	}
	if v := get("heartbeat_interval_seconds"); v != float64(before.IntervalMS)/1000 {
		t.Errorf("heartbeat_interval_seconds %v, status interval_ms %d", v, before.IntervalMS)
	}
	if v := get("dead_threshold"); v != float64(before.DeadThreshold) {
		t.Errorf("dead_threshold %v, status %d", v, before.DeadThreshold)
	}
	reg := []string{"region", uuid}
	if v := get("region_state", "region", uuid, "device", r0.Device, "state", string(r0.State)); v != 1 || r0.State != r1.State {
		t.Errorf("region_state{state=%q} = %v (status: %s then %s)", r0.State, v, r0.State, r1.State)
	}
	if v := get("region_references", reg...); v != float64(r0.Refs) {
		t.Errorf("region_references %v, status refs %d", v, r0.Refs)
	}
	for _, node := range []struct {
		name string
		num  int
	}{{"n1", 1}, {"n2", 2}, {"n3", 3}} {
		want := 0.0
		if slices.Contains(r0.LiveNodes, node.num) {
			want = 1
		}
		if v := get("region_node_live", "region", uuid, "node", node.name, "node_number", strconv.Itoa(node.num)); v != want {
			t.Errorf("region_node_live{node=%s} = %v, status live nodes %v", node.name, v, r0.LiveNodes)
		}
	}
	for _, c := range []struct {
		name   string
		b0, b1 uint64
	}{
		{"region_iterations_total", r0.Iterations, r1.Iterations},
		{"region_reads_total", r0.Reads, r1.Reads},
		{"region_writes_total", r0.Writes, r1.Writes},
		{"region_read_bytes_total", r0.BytesRead, r1.BytesRead},
		{"region_written_bytes_total", r0.BytesWritten, r1.BytesWritten},
		{"region_read_errors_total", r0.ReadErrors, r1.ReadErrors},
		{"region_write_errors_total", r0.WriteErrors, r1.WriteErrors},
		{"region_bad_blocks_total", r0.BadBlocks, r1.BadBlocks},
		{"region_stale_reads_total", r0.StaleReads, r1.StaleReads},
		{"region_failures_total", r0.Failures, r1.Failures},
		{"region_collisions_total", r0.Collisions, r1.Collisions},
		{"region_restarts_total", r0.Restarts, r1.Restarts},
	} {
		if v := get(c.name, reg...); v < float64(c.b0) || v > float64(c.b1) {
			t.Errorf("%s = %v, status %d before and %d after", c.name, v, c.b0, c.b1)
		}
	}
	if v := get("region_iterations_total", reg...); v == 0 {
		t.Error("region_iterations_total is 0 for a steady region")
	}
	if v := get("region_last_write_age_seconds", reg...); v < 0 || v > r1.LastWriteAge+1 {
		t.Errorf("region_last_write_age_seconds %v, status %.3f then %.3f", v, r0.LastWriteAge, r1.LastWriteAge)
	}
	t.Logf("o2cb-ra metrics:\n%s", text)

	// The listener serves the same families and series.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metrics.ContentType {
		t.Errorf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	served, err := metrics.Parse(string(body))
	if err != nil {
		t.Fatalf("GET /metrics: %v\n%s", err, body)
	}
	if a, b := seriesKeys(samples), seriesKeys(served); !slices.Equal(a, b) {
		t.Errorf("GET /metrics serves other series than o2cb-ra metrics prints:\n%v\n%v", b, a)
	}
	if resp, err := http.Get("http://" + addr + "/other"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /other: %v, %v; want 404", resp, err)
	} else {
		resp.Body.Close()
	}

	// The live view of the same daemon, twice.
	view := run(o2cbRA, "status", "--watch", "--count", "2", "--interval", "200ms")
	if strings.Count(view, "o2cb-ra status --watch") != 2 || !regexp.MustCompile(uuid+` +`+regexp.QuoteMeta(img)+` +steady +[0-9.]+s +live +- +-`).MatchString(view) {
		t.Errorf("status --watch: want 2 frames with the region steady, n1 live, n2 and n3 not:\n%s", view)
	}

	run(hbCtl, "-K", "-u", uuid, "metrics-test")
	testenv.StopProcess(t, pid, syscall.SIGTERM)
	// No daemon: up 0, and still exit 0 (a timer's textfile keeps
	// saying so).
	if text := run(o2cbRA, "metrics"); strings.TrimSpace(text) != "# HELP ha_cluster_o2cb_up Whether the node's heartbeat daemon answered (1) or not (0).\n# TYPE ha_cluster_o2cb_up gauge\nha_cluster_o2cb_up 0" {
		t.Errorf("o2cb-ra metrics without a daemon:\n%s", text)
	}
}

// seriesKeys are the series' names with their labels, sorted.
func seriesKeys(samples []metrics.Sample) []string {
	var keys []string
	for _, s := range samples {
		var l []string
		for k, v := range s.Labels {
			l = append(l, k+"="+v)
		}
		slices.Sort(l)
		keys = append(keys, s.Name+"{"+strings.Join(l, ",")+"}")
	}
	slices.Sort(keys)
	return keys
}
