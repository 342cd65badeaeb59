package o2cb_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The o2cb resource's metrics_address reaches the daemon it launches:
// GET /metrics there answers with the daemon's figures, and the stop ends
// the listener with the daemon.
func TestMetricsAddress(t *testing.T) {
	s := newSite(t, "global", 1, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s.must(0, "o2cb", "start", map[string]string{"metrics_address": addr})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics on %s after the start: %v", addr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"ha_cluster_o2cb_up 1\n", `ha_cluster_o2cb_region_state{region="` + s.uuids[0] + `"`, `ha_cluster_o2cb_region_node_live{region="` + s.uuids[0] + `",node="n1",node_number="1"} `} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, body)
		}
	}
	s.must(0, "o2cb", "stop", map[string]string{"metrics_address": addr})
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the stop", addr)
	}
}
