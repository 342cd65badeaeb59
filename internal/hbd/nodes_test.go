package hbd

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// o2cbRA returns the o2cb-ra binary built for the package's tests.
func o2cbRA(t *testing.T) string {
	t.Helper()
	p, _ := testenv.Binaries(t)
	return p
}

func TestMain(m *testing.M) { testenv.Main(m) }

// node is one simulated node: an o2cb-ra daemon process with its own run
// directory, sharing images and cluster.conf with the others.
type node struct {
	*clustertest.Node
	t *testing.T
}

func newNode(t *testing.T, name, conf, devices string) *node {
	n := &node{t: t, Node: clustertest.NewNode(clustertest.NodeConfig{Bin: o2cbRA(t), Conf: conf, Name: name,
		Run: filepath.Join(t.TempDir(), "run-"+name), Devices: devices, Interval: testInterval, Threshold: testThreshold})}
	t.Cleanup(n.stop)
	return n
}

func (n *node) client() *hbclient.Client { return n.Client(0) }

func (n *node) start() {
	n.t.Helper()
	if _, err := n.Start(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) pid() int { return n.PID() }

// signal sends sig to the daemon and waits until it is gone.
func (n *node) signal(sig syscall.Signal) {
	n.t.Helper()
	testenv.StopProcess(n.t, n.pid(), sig)
}

func (n *node) stop() { n.signal(syscall.SIGTERM) }

// regionStart asks the node's daemon to start uuid for a service.
func (n *node) regionStart(uuid, service string) {
	n.t.Helper()
	if _, err := n.client().Do(n.t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:" + service, Consumer: true}); err != nil {
		n.t.Fatalf("%s: start %s: %v", n.Name, uuid, err)
	}
}

// liveIn returns the live nodes of each region as the node sees them.
func (n *node) liveIn() map[string][]int {
	st, err := n.client().Status(context.Background())
	if err != nil {
		return nil
	}
	out := map[string][]int{}
	for _, r := range st.Regions {
		out[r.UUID] = r.LiveNodes
	}
	return out
}

func TestThreeDaemonsTwoRegions(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	_, u1 := image(t, dir)
	_, u2 := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 3)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		n := newNode(t, fmt.Sprintf("n%d", i), conf, dir+"/*.img")
		n.start()
		nodes = append(nodes, n)
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		for _, u := range []string{u1, u2} {
			wg.Go(func() { n.regionStart(u, "/mnt/"+u[:4]) })
		}
	}
	wg.Wait()
	all := []int{1, 2, 3}
	everyone := func(want []int, among ...*node) func() bool {
		return func() bool {
			for _, n := range among {
				l := n.liveIn()
				if !slices.Equal(l[u1], want) || !slices.Equal(l[u2], want) {
					return false
				}
			}
			return true
		}
	}
	testenv.WaitFor(t, 3*testInterval, "every node sees all three in both regions", everyone(all, nodes...))

	gen := func(n *node, uuid string) string {
		resp, err := n.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Region.Generation
	}
	oldGen := gen(nodes[2], u1)
	// Count node 1's own iterations in region 1, so that the bound holds
	// however loaded the machine is: once node 3 is dead, its last write
	// is seen by at most one read, then threshold equal reads follow.
	iterations := func() (uint64, []int) {
		st, err := nodes[0].client().Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range st.Regions {
			if r.UUID == u1 {
				return r.Iterations, r.LiveNodes
			}
		}
		t.Fatalf("node 1 has no region %s", u1)
		return 0, nil
	}
	nodes[2].signal(syscall.SIGKILL)
	before, _ := iterations() // after the kill: no iteration before it counts
	var after uint64
	took := testenv.WaitFor(t, (testThreshold+5)*testInterval, "node 1 sees node 3 dead", func() bool {
		var live []int
		after, live = iterations()
		return slices.Equal(live, []int{1, 2})
	})
	t.Logf("node 3 killed: node 1 declared it dead after %v, %d of its iterations (threshold %d)", took, after-before, testThreshold)
	if after-before > testThreshold+1 {
		t.Errorf("node 3 declared dead after %d iterations of node 1, want within threshold+1 = %d", after-before, testThreshold+1)
	}
	testenv.WaitFor(t, (testThreshold+3)*testInterval, "nodes 1 and 2 see node 3 dead everywhere", everyone([]int{1, 2}, nodes[:2]...))

	nodes[2].start() // resumes its regions from state.json
	took = testenv.WaitFor(t, 10*testInterval, "all three live again after the restart", everyone(all, nodes...))
	t.Logf("node 3 restarted: all live again after %v", took)
	if got := nodes[2].liveIn(); len(got) != 2 {
		t.Fatalf("restarted node resumed %d regions, want 2", len(got))
	}
	if newGen := gen(nodes[2], u1); newGen == oldGen {
		t.Fatalf("restarted node kept generation %s", oldGen)
	}
}

func TestSameNodeNumberCollides(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	img, uuid := image(t, dir)
	conf := writeClusterConf(t, dir, "local", 2)
	a := newNode(t, "n1", conf, dir+"/*.img")
	b := newNode(t, "n1", conf, dir+"/*.img")
	a.start()
	b.start()
	a.regionStart(uuid, "/a")
	time.Sleep(testInterval / 3)
	_, errB := b.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:/b", Consumer: true})
	state := func(n *node) string {
		resp, err := n.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
		if err != nil {
			return err.Error()
		}
		return string(resp.Region.State)
	}
	collided := func() bool {
		return state(a) == string(hbclient.StateCollision) || errors.Is(errB, hbclient.ErrCode(hbclient.CodeCollision)) || state(b) == string(hbclient.StateCollision)
	}
	took := testenv.WaitFor(t, 4*testInterval, "a collision reported", collided)
	t.Logf("collision reported %v after the second writer started (b's start: %v)", took, errB)
	// Neither keeps writing: node 1's slot stops changing.
	time.Sleep(2 * testInterval)
	s1 := ownSlot(t, img, 1).Block()
	time.Sleep(3 * testInterval)
	if s2 := ownSlot(t, img, 1).Block(); s2 != s1 {
		t.Fatalf("node 1's slot still changes after the collision: %v then %v (a: %s, b: %s)", s1, s2, state(a), state(b))
	}
	// A new start is refused while the region sits in collision.
	if state(a) == string(hbclient.StateCollision) {
		if _, err := a.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:/c", Consumer: true}); !errors.Is(err, hbclient.ErrCode(hbclient.CodeCollision)) {
			t.Fatalf("start on a region in collision = %v, want collision", err)
		}
	}
}

func TestReadOnlyDeviceFailsItsRegionOnly(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "blockdev")
	dir := t.TempDir()
	img1, u1 := image(t, dir)
	_, u2 := image(t, dir)
	loop := testenv.LoopDevice(t, img1, 0)
	conf := writeClusterConf(t, dir, "local", 2)
	n := newNode(t, "n1", conf, loop+":"+dir+"/*.img")
	n.start()
	if _, err := n.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: u1, Device: loop, Owner: "service:/a", Consumer: true}); err != nil {
		t.Fatal(err)
	}
	n.regionStart(u2, "/b")
	testenv.Run(t, "blockdev", "--setro", loop)
	t.Cleanup(func() { exec.Command("blockdev", "--setrw", loop).Run() })
	info := func(u string) hbclient.RegionStatus {
		resp, err := n.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpInfo, UUID: u})
		if err != nil {
			t.Fatalf("info %s: %v", u, err)
		}
		return *resp.Region
	}
	took := testenv.WaitFor(t, (testThreshold+2)*testInterval, "the read-only region fails", func() bool { return info(u1).State == hbclient.StateFailed })
	t.Logf("read-only device: region failed after %v", took)
	if r := info(u1); r.WriteErrors == 0 || !strings.Contains(r.Error, "no write") {
		t.Errorf("failed region: %+v", r)
	}
	before := info(u2).Iterations
	time.Sleep(3 * testInterval)
	if r := info(u2); r.State != hbclient.StateSteady || r.Iterations-before < 2 {
		t.Errorf("the other region: %+v (iterations %d -> %d)", r, before, r.Iterations)
	}
	begin := time.Now()
	if _, err := n.client().Status(t.Context()); err != nil || time.Since(begin) > time.Second {
		t.Errorf("status with a failed region: %v after %v", err, time.Since(begin))
	}
}
