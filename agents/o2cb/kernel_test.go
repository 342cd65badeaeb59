package o2cb

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/agents/agenttest"
	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs"
	"github.com/o2cb-ra/o2cb-ra/internal/o2cbfs/o2cbfstest"
	"github.com/o2cb-ra/o2cb-ra/internal/ocf"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

const (
	kUUID1 = "0123456789ABCDEF0123456789ABCDEF"
	kUUID2 = "FEDCBA9876543210FEDCBA9876543210"
)

// kernelSite is cluster.conf's cluster "test" (n1 and n2, global
// heartbeat on two regions) registered in a fake kernel tree as node n1.
type kernelSite struct {
	t      *testing.T
	k      o2cbfs.Kernel
	params map[string]string
}

func newKernelSite(t *testing.T, name string, started ...string) *kernelSite {
	dir := t.TempDir()
	c := o2cbfs.Cluster{Name: name, Mode: "global", Timeouts: o2cbfs.DefaultTimeouts}
	for i := 1; i <= 2; i++ {
		c.Nodes = append(c.Nodes, o2cbfs.Node{Name: "n" + string(rune('0'+i)), Num: i,
			Address: netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), Port: 7777, Local: i == 1})
	}
	var regions []o2cbfs.Region
	for i, u := range started {
		r := o2cbfs.Region{UUID: u, Dev: "vdb", Pid: 400 + i}
		r.BlockBytes, r.StartBlock, r.Blocks = 512, 4352, 255
		regions = append(regions, r)
	}
	return &kernelSite{t: t, k: o2cbfstest.Tree(t, c, regions...), params: map[string]string{
		"cluster_conf": clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
			clustertest.Cluster{Name: "test", Global: true, Nodes: 2, Regions: []string{kUUID1, kUUID2}}),
		"node_name": "n1", "run_dir": filepath.Join(dir, "run"),
	}}
}

func (s *kernelSite) run(action string, extra map[string]string) (int, string) {
	s.t.Helper()
	p := map[string]string{}
	for k, v := range s.params {
		p[k] = v
	}
	for k, v := range extra {
		p[k] = v
	}
	h := agenttest.Root("n1")
	h.Kernel = s.k
	code, stderr := agenttest.Run(s.t, New(h), action, p, nil)
	return code, testenv.ExitReason(stderr)
}

func TestKernelMonitor(t *testing.T) {
	s := newKernelSite(t, "test", kUUID1, kUUID2)
	if code, why := s.run("monitor", nil); code != ocf.Success {
		t.Fatalf("monitor with both regions running in the kernel: %d %q, want 0", code, why)
	}
	// The kernel's own view lacks this node in one region: lost, and
	// with region_quorum=all that fails the monitor.
	o2cbfstest.LiveNodes(t, s.k, kUUID2, 2)
	if code, why := s.run("monitor", nil); code != ocf.Success {
		t.Errorf("monitor, one of two regions lost, region_quorum=any: %d %q, want 0", code, why)
	}
	code, why := s.run("monitor", map[string]string{"region_quorum": "all"})
	if code != ocf.ErrGeneric || !strings.Contains(why, "does not see this node live") || !strings.Contains(why, "FEDCBA98") {
		t.Errorf("monitor, one region lost, region_quorum=all: %d %q; want 1 naming region FEDCBA98", code, why)
	}
}

func TestKernelMonitorRegionWithoutThread(t *testing.T) {
	s := newKernelSite(t, "test", kUUID1)
	code, why := s.run("monitor", map[string]string{"region_quorum": "majority"})
	if code != ocf.ErrGeneric || !strings.Contains(why, "no kernel heartbeat thread") {
		t.Errorf("monitor with one of two regions not started, majority: %d %q; want 1", code, why)
	}
}

func TestKernelMonitorOtherRegistration(t *testing.T) {
	s := newKernelSite(t, "other", kUUID1, kUUID2)
	code, why := s.run("monitor", nil)
	if code != ocf.ErrGeneric || !strings.Contains(why, "cluster other registered, not test") {
		t.Errorf("monitor with another cluster in the kernel: %d %q; want 1 naming both", code, why)
	}
}

func TestKernelStopRefusesWhileMounted(t *testing.T) {
	s := newKernelSite(t, "test", kUUID1, kUUID2)
	o2cbfstest.Mount(t, s.k, "/dev/vdb", "/srv/web")
	before := o2cbfstest.Snapshot(t, s.k)
	code, why := s.run("stop", nil)
	if code != ocf.ErrGeneric || !strings.Contains(why, "/dev/vdb on /srv/web") {
		t.Errorf("stop with an OCFS2 volume mounted: %d %q; want 1 naming the mount", code, why)
	}
	if after := o2cbfstest.Snapshot(t, s.k); after != before {
		t.Errorf("a refused stop changed the kernel's files:\nbefore %s\nafter  %s", before, after)
	}
}

func TestBackendParameter(t *testing.T) {
	s := newKernelSite(t, "test")
	code, why := s.run("validate-all", map[string]string{"heartbeat_backend": "kernal"})
	if code != ocf.ErrConfigured || !strings.Contains(why, "heartbeat_backend") {
		t.Errorf("validate-all heartbeat_backend=kernal: %d %q; want %d naming the parameter", code, why, ocf.ErrConfigured)
	}
}
