package faults

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// Timing of the suite's daemons: fast, so that thresholds pass in
// seconds. A region fails after (threshold-1) * interval without a write.
const (
	interval  = 100 * time.Millisecond
	threshold = 5
)

// volume is an OCFS2 image made by mkfs.ocfs2 for global heartbeat, and
// the device the daemons use for it: the image itself, or for node 1 a
// loop device over a faulty FUSE file (node 1's own path to the shared
// disk, as a host's multipath device is its own).
type volume struct {
	Image  string
	UUID   string
	Device string              // what node 1 opens; the other nodes open Image
	Faulty *testenv.FaultyDisk // nil: node 1 opens the image too
	// Slots is the byte range of the heartbeat slots on the image for the
	// device's sector size: the only bytes anything may change.
	SlotsOff, SlotsLen int64
	Geometry           ocfs2.Geometry
}

// newVolume formats an image in dir and guards it: when the test ends
// (after the daemons that use it have stopped) the bytes outside the slot
// area must hash as they did before. faulty puts a loop device with
// 512-byte sectors over a FUSE file in front of it for node 1; the other
// nodes use the image: a fault is on node 1's path only.
func newVolume(t *testing.T, f *fault, dir string, faulty bool) *volume {
	t.Helper()
	img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 64})
	v := &volume{Image: img, Device: img}
	vol, err := ocfs2.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	v.UUID, v.Geometry = vol.UUID, vol.Heartbeat
	v.SlotsOff = v.Geometry.SlotOffset(0)
	v.SlotsLen = int64(v.Geometry.Blocks) * int64(v.Geometry.BlockBytes)
	guard(t, f, v)
	if faulty {
		v.Faulty = testenv.FaultyLoop(t, img, 512)
		v.Device = v.Faulty.Device
	}
	return v
}

// hashOutside hashes the image but for the slot area.
func (v *volume) hashOutside() ([32]byte, error) {
	f, err := os.Open(v.Image)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, v.SlotsOff)); err != nil {
		return [32]byte{}, err
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, v.SlotsOff+v.SlotsLen, 1<<62)); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}

// guard checks, when the test ends, that nothing outside the slot area
// of v's image changed. Cleanups run in reverse: the daemons started
// after this call are stopped before the check.
func guard(t *testing.T, f *fault, v *volume) {
	t.Helper()
	before, err := v.hashOutside()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		after, err := v.hashOutside()
		switch {
		case err != nil:
			t.Errorf("hash %s after the test: %v", v.Image, err)
		case after != before:
			t.Errorf("%s changed outside its heartbeat slots (bytes %d-%d): sha256 %x before, %x after",
				v.Image, v.SlotsOff, v.SlotsOff+v.SlotsLen, before[:8], after[:8])
		default:
			if f != nil {
				f.dataChecked(fmt.Sprintf("%s outside the slots unchanged", v.UUID[:8]))
			}
		}
	})
}

// cluster is a cluster.conf for nodes n1..nN and the volumes they share.
type cluster struct {
	t       *testing.T
	dir     string
	conf    string
	global  bool
	volumes []*volume
}

// newCluster writes a cluster.conf for n nodes over the volumes; in
// global mode the volumes are its heartbeat regions.
func newCluster(t *testing.T, dir string, n int, global bool, vols ...*volume) *cluster {
	t.Helper()
	var uuids []string
	for _, v := range vols {
		uuids = append(uuids, v.UUID)
	}
	c := &cluster{t: t, dir: dir, global: global, volumes: vols}
	c.conf = clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
		clustertest.Cluster{Name: "o2cbtest", Global: global, Nodes: n, Regions: uuids})
	return c
}

// devices is O2CB_HB_DEVICES of node number n for the cluster's volumes:
// node 1 opens a faulty volume through its loop device, the others the
// image.
func (c *cluster) devices(n int) string {
	var d []string
	for _, v := range c.volumes {
		if n == 1 {
			d = append(d, v.Device)
		} else {
			d = append(d, v.Image)
		}
	}
	return strings.Join(d, ":")
}

// node is one simulated node: its daemon (its run directory and the
// environment its daemon, agents and ocfs2_hb_ctl run with) and the
// cluster it is in.
type node struct {
	*clustertest.Node
	t      *testing.T
	c      *cluster
	number int
	o2cbRA string
	hbCtl  string
}

// node returns node number i (name n<i>) of the cluster. Its daemon, if
// one is started, is stopped by pid when the test ends, after every
// faulty disk has been healed.
func (c *cluster) node(i int) *node {
	c.t.Helper()
	testenv.RequireRoot(c.t)
	o2cbRA, hbCtl := testenv.Binaries(c.t)
	name := "n" + strconv.Itoa(i)
	n := &node{t: c.t, c: c, number: i, o2cbRA: o2cbRA, hbCtl: hbCtl,
		Node: clustertest.NewNode(clustertest.NodeConfig{Bin: o2cbRA, Conf: c.conf, Name: name,
			Run: filepath.Join(c.dir, "run-"+name), Devices: c.devices(i), Interval: interval, Threshold: threshold})}
	c.t.Cleanup(func() {
		for _, v := range c.volumes {
			if v.Faulty != nil {
				v.Faulty.Heal()
			}
		}
		n.kill(syscall.SIGTERM)
		if c.t.Failed() {
			c.t.Logf("%s's daemon log:\n%s", n.Name, n.Log())
		}
	})
	return n
}

// startDaemon starts the node's daemon as the o2cb agent would: detached.
func (n *node) startDaemon() {
	n.t.Helper()
	if _, err := n.Start(); err != nil {
		n.t.Fatal(err)
	}
}

// pid returns the pid of the daemon's pid file, 0 if none.
func (n *node) pid() int { return n.PID() }

// kill sends sig to the daemon and waits until it is gone (SIGKILL, and
// a test failure, after 10 s).
func (n *node) kill(sig syscall.Signal) {
	n.t.Helper()
	testenv.StopProcess(n.t, n.pid(), sig)
}

// client returns a client of the node's daemon.
func (n *node) client() *hbclient.Client { return n.Client(5 * time.Second) }

// status returns the daemon's status, failing the test if it does not
// answer.
func (n *node) status() *hbclient.Status {
	n.t.Helper()
	st, err := n.client().Status(context.Background())
	if err != nil {
		n.t.Fatalf("%s: status: %v", n.Name, err)
	}
	return st
}

// region returns the status of one region, nil if the daemon has none.
func (n *node) region(uuid string) *hbclient.RegionStatus {
	n.t.Helper()
	for _, r := range n.status().Regions {
		if r.UUID == uuid {
			return &r
		}
	}
	return nil
}

// sees reports whether the node's daemon sees peer live in uuid.
func (n *node) sees(uuid string, peer int) bool {
	n.t.Helper()
	r := n.region(uuid)
	return r != nil && slices.Contains(r.LiveNodes, peer)
}

// log returns the daemon's log so far.
func (n *node) log() string { return n.Log() }

// result is how a command ended.
type result = fixture.Result

// run1 runs one of our binaries with the node's environment and extra
// variables, bounded by a minute.
func (n *node) run1(bin string, extraEnv []string, args ...string) result {
	n.t.Helper()
	return n.runCmd(nil, bin, extraEnv, args...)
}

// runCmd is run1 with a last say on the command (its credentials, its
// directory) before it starts: mod may be nil.
func (n *node) runCmd(mod func(*exec.Cmd), bin string, extraEnv []string, args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(slices.Clone(n.Env), extraEnv...)
	if mod != nil {
		mod(cmd)
	}
	return testenv.Exec(n.t, cmd)
}

// oneRegion is a local-mode node n1 whose daemon runs one region, started
// by `ocfs2_hb_ctl -S -d` for the service "mnt".
func oneRegion(t *testing.T, f *fault) (*node, *volume) {
	t.Helper()
	dir := t.TempDir()
	v := newVolume(t, f, dir, false)
	n := newCluster(t, dir, 1, false, v).node(1)
	n.startDaemon()
	if r := n.hbctl("-S", "-d", v.Device, "mnt"); r.Code != 0 {
		t.Fatalf("ocfs2_hb_ctl -S -d %s mnt = exit %d, want 0: %s", v.Device, r.Code, r.Stderr)
	}
	return n, v
}

// hbctl runs ocfs2_hb_ctl with the node's environment.
func (n *node) hbctl(args ...string) result {
	n.t.Helper()
	return n.run1(n.hbCtl, nil, args...)
}

// agent runs an action of an OCF agent (o2cb or hbregion) as Pacemaker
// would, with the given OCF_RESKEY_ parameters.
func (n *node) agent(agent, action string, params ...string) result {
	n.t.Helper()
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=" + agent + "-test",
		"OCF_RESKEY_cluster_conf=" + n.c.conf, "OCF_RESKEY_node_name=" + n.Name,
		"OCF_RESKEY_run_dir=" + n.Run, "OCF_RESKEY_devices=" + n.c.devices(n.number)}
	if agent == "o2cb" {
		env = append(env, "OCF_RESKEY_heartbeat_interval_ms="+strconv.Itoa(int(interval/time.Millisecond)),
			"OCF_RESKEY_dead_threshold="+strconv.Itoa(threshold))
	}
	for _, p := range params { // after the defaults: the last of a name wins
		env = append(env, "OCF_RESKEY_"+p)
	}
	return n.run1(n.o2cbRA, env, "agent", agent, action)
}
