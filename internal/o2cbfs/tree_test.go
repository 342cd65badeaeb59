package o2cbfs_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs/o2cbfstest"
)

func twoNodes(local int) []o2cbfs.Node {
	ns := []o2cbfs.Node{
		{Name: "n1", Num: 1, Address: netip.MustParseAddr("169.254.77.1"), Port: 7777},
		{Name: "n2", Num: 2, Address: netip.MustParseAddr("169.254.77.2"), Port: 7777},
	}
	for i := range ns {
		ns[i].Local = ns[i].Num == local
	}
	return ns
}

func cluster(local int) o2cbfs.Cluster {
	return o2cbfs.Cluster{Name: "web", Mode: "global", Nodes: twoNodes(local), Timeouts: o2cbfs.DefaultTimeouts}
}

func TestRegisteredReadsTheTree(t *testing.T) {
	want := cluster(2)
	want.DeadThreshold, want.IdleTimeoutMS = 7, 10000
	r := o2cbfs.Region{UUID: "0123456789ABCDEF0123456789ABCDEF", Dev: "vdb", Pid: 412}
	r.BlockBytes, r.StartBlock, r.Blocks = 512, 4352, 255
	k := o2cbfstest.Tree(t, want, r)
	got, err := k.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || got.Mode != want.Mode || got.Timeouts != want.Timeouts || len(got.Nodes) != 2 {
		t.Fatalf("Registered() = %+v, want %+v", got, want)
	}
	for i, n := range got.Nodes {
		if n != want.Nodes[i] {
			t.Errorf("node %d = %+v, want %+v", i, n, want.Nodes[i])
		}
	}
	regions, err := k.Regions()
	if err != nil || len(regions) != 1 || regions[0] != r || !regions[0].Started() {
		t.Fatalf("Regions() = %+v, %v; want [%+v]", regions, err, r)
	}
}

func TestRegisterAdoptsAMatchingRegistration(t *testing.T) {
	want := cluster(1)
	k := o2cbfstest.Tree(t, want)
	before := o2cbfstest.Snapshot(t, k)
	if err := k.Register(want); err != nil {
		t.Fatalf("Register of the registered cluster: %v", err)
	}
	if after := o2cbfstest.Snapshot(t, k); after != before {
		t.Errorf("Register wrote to a matching registration:\nbefore %s\nafter  %s", before, after)
	}
}

func TestRegisterRefusesADifferentRegistration(t *testing.T) {
	region := o2cbfs.Region{UUID: "0123456789ABCDEF0123456789ABCDEF", Dev: "vdb", Pid: 412}
	region.BlockBytes, region.StartBlock, region.Blocks = 512, 4352, 255
	otherAddr := cluster(1)
	otherAddr.Nodes[1].Address = netip.MustParseAddr("169.254.77.9")
	extra := cluster(1)
	extra.Nodes = append(extra.Nodes, o2cbfs.Node{Name: "n3", Num: 3, Address: netip.MustParseAddr("169.254.77.3"), Port: 7777})
	otherName := cluster(1)
	otherName.Name = "db"
	otherMode := cluster(1)
	otherMode.Mode = "local"
	otherThreshold := cluster(1)
	otherThreshold.DeadThreshold = 7
	otherLocal := cluster(2)
	for _, tc := range []struct {
		name    string
		want    o2cbfs.Cluster
		regions []o2cbfs.Region
		says    string
	}{
		{"another cluster", otherName, nil, `cluster "web" is registered, not "db"`},
		{"a node's address", otherAddr, nil, "node n2 (number 2, 169.254.77.9:7777) is registered as n2 (number 2, 169.254.77.2:7777)"},
		{"a node not configured", cluster(1), nil, ""}, // registered has n3, below
		{"the mode while a region runs", otherMode, []o2cbfs.Region{region}, "heartbeat mode is global, not local"},
		{"dead_threshold while a region runs", otherThreshold, []o2cbfs.Region{region}, "heartbeat dead_threshold is 31, not 7"},
		{"another local node", otherLocal, nil, "node n1 (number 1, 169.254.77.1:7777) is registered as this node, not n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			registered := cluster(1)
			if tc.says == "" {
				registered, tc.says = extra, "node n3 (number 3, 169.254.77.3:7777) is registered but not configured"
			}
			k := o2cbfstest.Tree(t, registered, tc.regions...)
			before := o2cbfstest.Snapshot(t, k)
			err := k.Register(tc.want)
			if !errors.Is(err, o2cbfs.ErrMismatch) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Register: %v; want o2cbfs.ErrMismatch saying %q", err, tc.says)
			}
			if after := o2cbfstest.Snapshot(t, k); after != before {
				t.Errorf("a refused Register changed the tree:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestRegisterRewritesSettingsWithoutRegions(t *testing.T) {
	have := cluster(1)
	k := o2cbfstest.Tree(t, have)
	want := have
	want.Mode = "local"
	want.Timeouts = o2cbfs.Timeouts{DeadThreshold: 7, IdleTimeoutMS: 1500, KeepaliveDelayMS: 500, ReconnectDelayMS: 1000, FenceMethod: "panic"}
	if err := k.Register(want); err != nil {
		t.Fatal(err)
	}
	got, err := k.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != want.Mode || got.Timeouts != want.Timeouts {
		t.Errorf("after Register: mode %s, %+v; want %s, %+v", got.Mode, got.Timeouts, want.Mode, want.Timeouts)
	}
}

func TestUnregisterRefusesWhileRegionsRun(t *testing.T) {
	r := o2cbfs.Region{UUID: "0123456789ABCDEF0123456789ABCDEF"}
	r.BlockBytes, r.Blocks = 512, 255
	k := o2cbfstest.Tree(t, cluster(1), r)
	before := o2cbfstest.Snapshot(t, k)
	err := k.Unregister(0)
	if !errors.Is(err, o2cbfs.ErrInUse) || !strings.Contains(err.Error(), r.UUID) {
		t.Fatalf("Unregister: %v; want o2cbfs.ErrInUse naming %s", err, r.UUID)
	}
	if o2cbfstest.Snapshot(t, k) != before {
		t.Error("a refused Unregister changed the tree")
	}
}
