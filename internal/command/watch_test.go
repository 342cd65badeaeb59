package command

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
)

func watchStatus(pid int, live []int, state hbclient.State) *hbclient.Status {
	return &hbclient.Status{Node: hbclient.Node{Name: "n1", Number: 1}, Cluster: "web", Mode: "global", Backend: "userspace",
		IntervalMS: 2000, DeadThreshold: 31, PID: pid,
		Regions: []hbclient.RegionStatus{{UUID: "AA", Device: "/dev/a", State: state, LiveNodes: live, LastWriteAge: 0.4}}}
}

func TestDiffStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	a := watchStatus(7, []int{1, 2, 3}, hbclient.StateSteady)
	b := watchStatus(7, []int{1, 3, 4}, hbclient.StateFailed)
	b.Regions[0].WriteErrors = 2
	b.Regions = append(b.Regions, hbclient.RegionStatus{UUID: "BB", Device: "/dev/b", State: hbclient.StateStarting})
	c := watchStatus(9, []int{1, 3, 4}, hbclient.StateFailed)
	c.KernelPeer = "node n2 answers o2net"
	for _, tc := range []struct {
		name      string
		prev, cur *hbclient.Status
		want      []string
	}{
		{"same", a, a, nil},
		{"daemon up", nil, a, []string{"the daemon answers (pid 7)"}},
		{"daemon gone", a, nil, []string{"the daemon does not answer"}},
		{"region and nodes", a, b, []string{"steady -> failed", "node 4 live", "node 2 dead", "2 I/O errors", "region started on /dev/b: starting"}},
		{"restart, step back, region gone", b, c, []string{"the daemon restarted (pid 9, was 7)", "stepped back: node n2 answers o2net", "region stopped"}},
	} {
		var got []string
		for _, ch := range diffStatus(tc.prev, tc.cur, now) {
			got = append(got, ch.text)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The view redraws every interval; a node that went dead is marked in
// its cell and listed with the time; a daemon that stops answering says
// why. Off a terminal, frames follow one another; on one, each clears
// the screen first.
func TestWatch(t *testing.T) {
	answers := []*hbclient.Status{
		watchStatus(7, []int{1, 2, 3}, hbclient.StateSteady),
		watchStatus(7, []int{1, 3}, hbclient.StateSteady),
		nil,
	}
	i := 0
	ask := func(context.Context) (*hbclient.Status, error) {
		st := answers[i]
		i++
		if st == nil {
			return nil, errors.New("connect: no such file")
		}
		return st, nil
	}
	nodes := func(string) []metrics.Node {
		return []metrics.Node{{Name: "n1", Number: 1}, {Name: "n2", Number: 2}, {Name: "n3", Number: 3}}
	}
	var b strings.Builder
	if err := watch(t.Context(), &b, false, time.Millisecond, 3, ask, nodes); err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(b.String(), "\no2cb-ra status --watch")
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3:\n%s", len(frames), b.String())
	}
	for _, want := range []string{"REGION  DEVICE  STATE   LAST WRITE  n1    n2    n3", "AA      /dev/a  steady  0.4s        live  live  live"} {
		if !strings.Contains(frames[0], want) {
			t.Errorf("first frame lacks %q:\n%s", want, frames[0])
		}
	}
	if !strings.Contains(frames[1], "live  *-") || !strings.Contains(frames[1], "AA: node 2 dead") {
		t.Errorf("second frame does not mark node 2's cell or list its death:\n%s", frames[1])
	}
	if !strings.Contains(frames[2], "does not answer: connect: no such file") || !strings.Contains(frames[2], "daemon: the daemon does not answer") {
		t.Errorf("third frame:\n%s", frames[2])
	}
	if strings.Contains(b.String(), "\x1b[") {
		t.Error("escape sequences off a terminal")
	}
	i = 0
	b.Reset()
	watch(t.Context(), &b, true, time.Millisecond, 2, ask, nodes)
	if strings.Count(b.String(), "\x1b[H\x1b[2J") != 2 {
		t.Errorf("on a terminal each frame clears the screen: %q", b.String()[:min(80, b.Len())])
	}
}
