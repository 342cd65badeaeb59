package o2cb

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

const (
	uuidA = "AAAAAAAA000000000000000000000000"
	uuidB = "BBBBBBBB000000000000000000000000"
	uuidC = "CCCCCCCC000000000000000000000000"
	uuidD = "DDDDDDDD000000000000000000000000"
)

var (
	global   = []hbclient.Owner{{Name: hbclient.OwnerGlobal}}
	consumer = []hbclient.Owner{{Name: "service:/mnt"}}
)

func TestQuorate(t *testing.T) {
	for _, tc := range []struct {
		rule    string
		n, lost int
		want    bool
	}{
		{QuorumAny, 0, 0, true},
		{QuorumAny, 1, 0, true},
		{QuorumAny, 1, 1, false},
		{QuorumAny, 3, 2, true},
		{QuorumAny, 3, 3, false},
		{QuorumMajority, 3, 1, true},
		{QuorumMajority, 3, 2, false},
		{QuorumMajority, 4, 1, true},
		{QuorumMajority, 4, 2, false}, // half lost is not a majority left
		{QuorumMajority, 1, 1, false},
		{QuorumMajority, 0, 0, true}, // no region: nothing is lost
		{QuorumAll, 0, 0, true},
		{QuorumAll, 3, 0, true},
		{QuorumAll, 3, 1, false},
		{"", 2, 1, true}, // an unknown rule is any (the parameter's check refuses it first)
		{"", 2, 2, false},
	} {
		if got := quorate(tc.rule, tc.n, tc.lost); got != tc.want {
			t.Errorf("quorate(%q, %d, %d) = %v, want %v", tc.rule, tc.n, tc.lost, got, tc.want)
		}
	}
}

func TestCountedRegions(t *testing.T) {
	configured := []clusterconf.Region{{UUID: uuidA}, {UUID: uuidB}}
	running := []hbclient.RegionStatus{
		{UUID: uuidB, Owners: global},
		{UUID: uuidC, Owners: global},   // held for the cluster, no longer in cluster.conf
		{UUID: uuidD, Owners: consumer}, // a consumer's
	}
	for _, tc := range []struct {
		name       string
		managed    bool
		configured []clusterconf.Region
		running    []hbclient.RegionStatus
		want       []string
	}{
		{"managed: configured, then held for the cluster", true, configured, running, []string{uuidA, uuidB, uuidC}},
		{"managed, nothing runs", true, configured, nil, []string{uuidA, uuidB}},
		{"managed, none configured", true, nil, running, []string{uuidB, uuidC}},
		{"unmanaged: whatever runs", false, configured, running, []string{uuidB, uuidC, uuidD}},
		{"unmanaged, nothing runs", false, configured, nil, nil},
	} {
		if got := countedRegions(tc.managed, tc.configured, tc.running); !slices.Equal(got, tc.want) {
			t.Errorf("%s: countedRegions(%v, %v, %v) = %v, want %v", tc.name, tc.managed, tc.configured, tc.running, got, tc.want)
		}
	}
}

func TestLostRegions(t *testing.T) {
	const self = 1
	interval := 100 * time.Millisecond
	steady := func(u string) hbclient.RegionStatus {
		return hbclient.RegionStatus{UUID: u, Device: "/dev/" + u[:1], State: hbclient.StateSteady, LiveNodes: []int{self, 2}, OwnSlotAge: 0.1}
	}
	with := func(r hbclient.RegionStatus, f func(*hbclient.RegionStatus)) hbclient.RegionStatus { f(&r); return r }
	for _, tc := range []struct {
		name    string
		uuids   []string
		running []hbclient.RegionStatus
		level   int
		want    []lost
	}{
		{"all steady", []string{uuidA, uuidB}, []hbclient.RegionStatus{steady(uuidA), steady(uuidB)}, 0, nil},
		{"one not running", []string{uuidA, uuidB}, []hbclient.RegionStatus{steady(uuidB)}, 0,
			[]lost{{uuidA, "not running"}}},
		{"starting is not lost, even without this node", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) { r.State, r.LiveNodes, r.OwnSlotAge = hbclient.StateStarting, nil, -1 })}, 10, nil},
		{"failed without this node: its state", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) { r.State, r.LiveNodes = hbclient.StateFailed, []int{2} })}, 0,
			[]lost{{uuidA, "failed"}}},
		{"failed with an error: state and error, as the daemon wrote it", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) {
				r.State, r.LiveNodes, r.Error = hbclient.StateFailed, nil, "no write to /dev/A completed for 1s"
			})}, 0,
			[]lost{{uuidA, "failed: no write to /dev/A completed for 1s"}}},
		{"stale own slot is fine at depth 0", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) { r.OwnSlotAge = 5 })}, 0, nil},
		{"stale own slot is lost at depth 10", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) { r.OwnSlotAge = 5 })}, 10,
			[]lost{{uuidA, "own slot on /dev/A not read back for 5.0s (limit 300ms)"}}},
		{"own slot never read back is lost at depth 10", []string{uuidA},
			[]hbclient.RegionStatus{with(steady(uuidA), func(r *hbclient.RegionStatus) { r.OwnSlotAge = -1 })}, 10,
			[]lost{{uuidA, "own slot on /dev/A never read back yet"}}},
		{"fresh own slot at depth 10", []string{uuidA}, []hbclient.RegionStatus{steady(uuidA)}, 10, nil},
		{"in the order counted", []string{uuidB, uuidA}, nil, 0,
			[]lost{{uuidB, "not running"}, {uuidA, "not running"}}},
	} {
		got := lostRegions(tc.uuids, tc.running, self, tc.level, interval)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: lostRegions(%v, ..., level %d) = %v, want %v", tc.name, tc.uuids, tc.level, got, tc.want)
		}
	}
}

func TestGlobalDiff(t *testing.T) {
	region := func(u string) clusterconf.Region { return clusterconf.Region{UUID: u, Layout: "ocfs2"} }
	custom := clusterconf.Region{UUID: uuidB, Layout: "custom", Line: 7}
	for _, tc := range []struct {
		name        string
		configured  []clusterconf.Region
		running     []hbclient.RegionStatus
		add, remove []clusterconf.Region
	}{
		{"nothing runs: start all configured", []clusterconf.Region{region(uuidA), custom}, nil,
			[]clusterconf.Region{region(uuidA), custom}, nil},
		{"in step", []clusterconf.Region{region(uuidA)}, []hbclient.RegionStatus{{UUID: uuidA, Owners: global}}, nil, nil},
		{"swap: one added, one removed with the ocfs2 layout",
			[]clusterconf.Region{region(uuidB), region(uuidC)},
			[]hbclient.RegionStatus{{UUID: uuidA, Owners: global}, {UUID: uuidB, Owners: global}},
			[]clusterconf.Region{region(uuidC)}, []clusterconf.Region{region(uuidA)}},
		{"a consumer's region is started for the cluster too", []clusterconf.Region{region(uuidA)},
			[]hbclient.RegionStatus{{UUID: uuidA, Owners: consumer}}, []clusterconf.Region{region(uuidA)}, nil},
		{"a consumer's region is not the cluster's to stop", nil,
			[]hbclient.RegionStatus{{UUID: uuidD, Owners: consumer}}, nil, nil},
		{"none configured: stop every cluster region", nil,
			[]hbclient.RegionStatus{{UUID: uuidA, Owners: global}, {UUID: uuidC, Owners: append(consumer, global...)}},
			nil, []clusterconf.Region{region(uuidA), region(uuidC)}},
	} {
		add, remove := globalDiff(tc.configured, tc.running)
		if !slices.Equal(add, tc.add) || !slices.Equal(remove, tc.remove) {
			t.Errorf("%s: globalDiff(%v, %v) = %v, %v; want %v, %v", tc.name, tc.configured, tc.running, add, remove, tc.add, tc.remove)
		}
	}
}

func TestHeldGlobal(t *testing.T) {
	running := []hbclient.RegionStatus{
		{UUID: uuidA, Owners: global},
		{UUID: uuidB, Owners: append(consumer, global...)},
		{UUID: uuidD, Owners: consumer},
	}
	for _, tc := range []struct {
		layouts map[string]string
		want    []clusterconf.Region
	}{
		{nil, []clusterconf.Region{{UUID: uuidA, Layout: "ocfs2"}, {UUID: uuidB, Layout: "ocfs2"}}},
		{map[string]string{uuidB: "custom", uuidD: "other"}, []clusterconf.Region{{UUID: uuidA, Layout: "ocfs2"}, {UUID: uuidB, Layout: "custom"}}},
	} {
		if got := heldGlobal(running, tc.layouts); !slices.Equal(got, tc.want) {
			t.Errorf("heldGlobal(%v, %v) = %v, want %v", running, tc.layouts, got, tc.want)
		}
	}
}

func (l lost) String() string { return fmt.Sprintf("%s: %s", l.uuid[:8], l.why) }
