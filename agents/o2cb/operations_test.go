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

// heartbeat_timeout sets the daemon's dead threshold in time: 1 s at
// 100 ms is 11 iterations.
func TestHeartbeatTimeout(t *testing.T) {
	s := newSite(t, "global", 1, 1)
	mod := map[string]string{"dead_threshold": "", "heartbeat_timeout": "1s"}
	s.must(0, "o2cb", "start", mod)
	if st := s.status(); st == nil || st.DeadThreshold != 11 {
		t.Errorf("daemon after a start with heartbeat_timeout=1s at 100 ms: %+v, want dead threshold 11", st)
	}
	s.must(0, "o2cb", "validate-all", mod, "OCF_CHECK_LEVEL=10")
	s.must(0, "o2cb", "stop", mod)
}
