package command

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// status's text names how the daemon retries a failed region: the next
// retry and when, one under way, or why the due one waits.
func TestPrintStatusRetries(t *testing.T) {
	next := 12.34
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.Local)
	st := &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Cluster: "c", Mode: "global", IntervalMS: 200, DeadThreshold: 31, PID: 7,
		Regions: []hbclient.RegionStatus{
			{UUID: "AA", Device: "/dev/a", State: hbclient.StateFailed, Error: "region AA: read-only file system", Retries: 3,
				RetryAt: at.Format(hbclient.RetryTimeFormat), NextRetry: &next},
			{UUID: "BB", Device: "/dev/b", State: hbclient.StateFailed, Retries: 4, Retrying: true},
			{UUID: "CC", Device: "/dev/c", State: hbclient.StateFailed, RetryBlocked: "this node is seen in no other steady region"},
			{UUID: "DD", Device: "/dev/d", State: hbclient.StateSteady, LiveNodes: []int{1}},
			{UUID: "EE", Device: "/dev/e", State: hbclient.StateFailed, Error: "region EE: collision"},
		}}
	var b bytes.Buffer
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"failed (retry 4 in 12.3s at 03:04:05)",
		"failed (retry 4 under way)",
		"failed (retry 1 waits)",
		"CC: not retried yet: this node is seen in no other steady region",
		"AA: region AA: read-only file system",
		"in cluster c, global heartbeat, interval 200 ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if (strings.HasPrefix(line, "DD ") || strings.HasPrefix(line, "EE ")) && strings.Contains(line, "retry") {
			t.Errorf("a region the daemon does not retry shows a retry: %q", line)
		}
	}
}

// status's text names the backend the daemon reports.
func TestPrintStatusBackend(t *testing.T) {
	st := &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Cluster: "c", Mode: "local", Backend: hbclient.BackendKernel, IntervalMS: 2000, DeadThreshold: 31, PID: 7}
	var b bytes.Buffer
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	if want := "local heartbeat, kernel backend, interval 2000 ms"; !strings.Contains(b.String(), want) {
		t.Errorf("status text lacks %q:\n%s", want, b.String())
	}
}
