package main

// End-to-end tests: the real o2cb-ra daemon and the real ocfs2_hb_ctl,
// both built from this module, on images made by mkfs.ocfs2.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// writeConf writes a cluster.conf for nodes n1..n3 (numbers 1 to 3) in
// local mode, or in global mode with the given heartbeat regions.
func writeConf(t *testing.T, dir string, global bool, regions ...string) string {
	t.Helper()
	return clustertest.Write(t, filepath.Join(dir, "cluster.conf"),
		clustertest.Cluster{Name: "o2cbtest", Global: global, Nodes: 3, Regions: regions})
}

// node is one running o2cb-ra daemon and the environment its tools use.
type node struct {
	*clustertest.Node
	t      *testing.T
	o2cbRA string
	hbCtl  string
}

// startDaemon starts `o2cb-ra daemon` as node n1 of conf, searching the
// images of imgDir, and stops it by pid when the test ends.
func startDaemon(t *testing.T, conf, imgDir string, intervalMS int) *node {
	t.Helper()
	testenv.RequireRoot(t)
	o2cbRA, hbCtl := testenv.Binaries(t)
	n := &node{t: t, o2cbRA: o2cbRA, hbCtl: hbCtl, Node: clustertest.NewNode(clustertest.NodeConfig{
		Bin: o2cbRA, Conf: conf, Name: "n1", Run: t.TempDir(), Devices: filepath.Join(imgDir, "*.img"),
		Interval: time.Duration(intervalMS) * time.Millisecond, Threshold: 5})}
	pid, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testenv.StopProcess(t, pid, syscall.SIGTERM)
		if log := n.Log(); t.Failed() && log != "" {
			t.Logf("daemon log:\n%s", log)
		}
	})
	return n
}

// result is one run of a command.
type result = fixture.Result

// exe runs a program with the node's environment plus extra.
func (n *node) exe(dir string, extra []string, prog string, args ...string) result {
	n.t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(slices.Clone(n.Env), extra...)
	cmd.Dir = dir
	return testenv.Exec(n.t, cmd)
}

// ctl runs ocfs2_hb_ctl.
func (n *node) ctl(args ...string) result {
	n.t.Helper()
	return n.exe("", nil, n.hbCtl, args...)
}

// ctlOK runs ocfs2_hb_ctl and fails the test unless it exits 0 with no
// output but want on stdout.
func (n *node) ctlOK(want string, args ...string) result {
	n.t.Helper()
	r := n.ctl(args...)
	if r.Code != 0 || r.Stdout != want || r.Stderr != "" {
		n.t.Errorf("ocfs2_hb_ctl %s: %v; want exit 0, stdout %q", strings.Join(args, " "), r, want)
	}
	return r
}

// ctlFails runs ocfs2_hb_ctl and fails the test unless it exits 1 with
// one line on stderr holding every one of want.
func (n *node) ctlFails(args []string, want ...string) {
	n.t.Helper()
	n.checkFails(n.ctl(args...), args, want...)
}

func (n *node) checkFails(r result, args []string, want ...string) {
	n.t.Helper()
	ok := r.Code == 1 && r.Stdout == "" && strings.HasPrefix(r.Stderr, "ocfs2_hb_ctl: ") && strings.Count(r.Stderr, "\n") == 1
	for _, w := range want {
		ok = ok && strings.Contains(r.Stderr, w)
	}
	if !ok {
		n.t.Errorf("ocfs2_hb_ctl %s: %v; want exit 1 and one line on stderr containing %q", strings.Join(args, " "), r, want)
	}
}

// refs checks what -I prints.
func (n *node) refs(uuid string, want int) {
	n.t.Helper()
	n.ctlOK(fmt.Sprintf("%s: %d refs\n", uuid, want), "-I", "-u", uuid)
}

// live checks what -I -q prints.
func (n *node) live(uuid string, want bool) {
	n.t.Helper()
	out := ""
	if want {
		out = "live\n"
	}
	n.ctlOK(out, "-I", "-q", "-u", uuid)
}

// status is `o2cb-ra status --json`.
func (n *node) status() hbclient.Status {
	n.t.Helper()
	r := n.exe("", nil, n.o2cbRA, "status", "--json")
	var st hbclient.Status
	if r.Code != 0 {
		n.t.Fatalf("o2cb-ra status --json: %v", r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		n.t.Fatalf("o2cb-ra status --json: %v\n%s", err, r.Stdout)
	}
	return st
}

// region returns uuid's entry of the status, or nil.
func (n *node) region(uuid string) *hbclient.RegionStatus {
	n.t.Helper()
	st := n.status()
	for i := range st.Regions {
		if st.Regions[i].UUID == uuid {
			return &st.Regions[i]
		}
	}
	return nil
}

// uuidOf is the UUID of an image as tunefs.ocfs2 reports it.
func uuidOf(t *testing.T, img string) string {
	t.Helper()
	return strings.TrimSpace(testenv.Run(t, "tunefs.ocfs2", "-Q", `%U\n`, img))
}

// slotLine is node 1's line of `o2cb-ra slots IMG`.
func (n *node) slotLine(img string) string {
	n.t.Helper()
	r := n.exe("", nil, n.o2cbRA, "slots", img)
	if r.Code != 0 {
		n.t.Fatalf("o2cb-ra slots: %v", r)
	}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "1" {
			return l
		}
	}
	n.t.Fatalf("o2cb-ra slots %s shows no slot of node 1:\n%s", img, r.Stdout)
	return ""
}

// localSetup makes a local-heartbeat image, a local-mode cluster.conf and
// a daemon at 100 ms.
func localSetup(t *testing.T) (n *node, img, uuid string) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mkfs.ocfs2", "tunefs.ocfs2")
	dir := t.TempDir()
	img = testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 32, Local: true})
	n = startDaemon(t, writeConf(t, dir, false), dir, 100)
	return n, img, uuidOf(t, img)
}

// TestStartStop: the life of one region through -S, -I, -P and -K, and
// the clean-stop block at the end.
func TestStartStop(t *testing.T) {
	t.Parallel()
	n, img, uuid := localSetup(t)

	n.refs(uuid, 0)
	n.live(uuid, false)
	r := n.ctlOK("", "-S", "-u", uuid, "svc1")
	t.Logf("ocfs2_hb_ctl -S at a 100 ms interval took %v", r.Took.Round(time.Millisecond))
	if r.Took > time.Second {
		t.Errorf("-S took %v at a 100 ms interval; steady needs 2 intervals", r.Took)
	}
	n.refs(uuid, 1)
	n.live(uuid, true)
	reg := n.region(uuid)
	if reg == nil || reg.Device != img || reg.State != hbclient.StateSteady {
		t.Fatalf("status of %s after -S: %+v, want steady on %s", uuid, reg, img)
	}
	gen := reg.Generation

	// A relative device path is the caller's, not the daemon's.
	r = n.exe(filepath.Dir(img), nil, n.hbCtl, "-S", "-d", filepath.Base(img), "svc2")
	if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Errorf("ocfs2_hb_ctl -S -d %s svc2 (relative): %v; want exit 0 and no output", filepath.Base(img), r)
	}
	n.ctlOK(uuid+": 2 refs\n", "-I", "-d", img)
	n.ctlOK("live\n", "-I", "-q", "-d", img)
	reg = n.region(uuid)
	want := []hbclient.Owner{{Name: "service:svc1", Refs: 1}, {Name: "service:svc2", Refs: 1}}
	if reg == nil || fmt.Sprint(reg.Owners) != fmt.Sprint(want) || reg.Generation != gen {
		t.Errorf("status after the second -S: %+v, want owners %v and generation %s (not restarted)", reg, want, gen)
	}

	// -P: ioprio_set on the region's I/O thread, real-time class.
	checkIOPrio := func(level int) {
		t.Helper()
		reg := n.region(uuid)
		if reg == nil || reg.IOThread == 0 {
			t.Fatalf("status shows no I/O thread for %s: %+v", uuid, reg)
		}
		v, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, 1 /* IOPRIO_WHO_PROCESS */, uintptr(reg.IOThread), 0)
		if e != 0 {
			t.Fatalf("ioprio_get(%d): %v", reg.IOThread, e)
		}
		if class, lvl := v>>13, v&0x1fff; class != 1 || int(lvl) != level {
			t.Errorf("I/O thread %d has ioprio class %d level %d, want 1 (real-time) level %d", reg.IOThread, class, lvl, level)
		}
	}
	n.ctlOK("", "-P", "-u", uuid, "-n", "2")
	checkIOPrio(2)
	n.ctlOK("", "-P", "-d", img) // level 0 when -n is absent, as ocfs2-tools
	checkIOPrio(0)

	n.ctlOK("", "-K", "-u", uuid, "svc1")
	n.refs(uuid, 1)
	n.live(uuid, true)
	n.ctlFails([]string{"-K", "-u", uuid, "svc1"}, "service:svc1 holds no reference")
	if l := n.slotLine(img); strings.Contains(l, "0x0000000000000000") {
		t.Errorf("node 1's slot while the region runs: %q, want a live generation", l)
	}
	n.ctlOK("", "-K", "-d", img, "svc2")
	n.refs(uuid, 0)
	n.live(uuid, false)
	if n.region(uuid) != nil {
		t.Errorf("status still lists %s after its last -K", uuid)
	}
	if l := n.slotLine(img); !strings.Contains(l, " 0x0000000000000000 ") || !strings.Contains(l, "stopped cleanly") {
		t.Errorf("node 1's slot after the last -K: %q, want generation 0, stopped cleanly", l)
	}
	n.ctlFails([]string{"-K", "-u", uuid, "svc2"}, "not running")
	n.ctlFails([]string{"-P", "-u", uuid, "-n", "1"}, "not running")

	// The kernel's umount: -K -u UUID drops service ocfs2.
	n.ctlOK("", "-S", "-u", uuid, "ocfs2")
	n.ctlOK("", "-S", "-u", uuid, "/mnt/data")
	n.ctlOK("", "-K", "-u", uuid)
	reg = n.region(uuid)
	if want := []hbclient.Owner{{Name: "service:/mnt/data", Refs: 1}}; reg == nil || fmt.Sprint(reg.Owners) != fmt.Sprint(want) {
		t.Errorf("owners after -K -u without a service: %+v, want %v", reg, want)
	}
	n.ctlFails([]string{"-K", "-u", uuid}, "service:ocfs2 holds no reference")
	n.ctlOK("", "-K", "-u", uuid, "/mnt/data")
	n.refs(uuid, 0)
}

// TestRefcounts: concurrent callers, each count exact, and the region
// stops only when the last reference goes.
func TestRefcounts(t *testing.T) {
	t.Parallel()
	n, img, uuid := localSetup(t)

	parallel := func(args ...[]string) {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]result, len(args))
		for i, a := range args {
			wg.Go(func() { results[i] = n.ctl(a...) })
		}
		wg.Wait()
		for i, r := range results {
			if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
				t.Errorf("ocfs2_hb_ctl %s (one of %d at once): %v; want exit 0, no output", strings.Join(args[i], " "), len(args), r)
			}
		}
	}
	calls := func(action string, prefix string, from, to int) [][]string {
		var a [][]string
		for i := from; i < to; i++ {
			a = append(a, []string{action, "-u", uuid, fmt.Sprintf("%s%d", prefix, i)})
		}
		return a
	}

	start := time.Now()
	parallel(calls("-S", "s", 0, 20)...)
	t.Logf("20 concurrent -S took %v", time.Since(start).Round(time.Millisecond))
	n.refs(uuid, 20)
	n.live(uuid, true)
	gen := n.region(uuid).Generation

	// One service, several references (fsck and a mount of one service).
	parallel(calls("-S", "dup", 0, 5)[0], calls("-S", "dup", 0, 5)[0], calls("-S", "dup", 0, 5)[0])
	n.refs(uuid, 23)
	if reg := n.region(uuid); reg == nil || !strings.Contains(fmt.Sprint(reg.Owners), "{service:dup0 3}") {
		t.Errorf("owners: %+v, want service:dup0 with 3 references", reg)
	}
	parallel(calls("-K", "dup", 0, 1)[0], calls("-K", "dup", 0, 1)[0], calls("-K", "dup", 0, 1)[0])
	n.refs(uuid, 20)

	// Mixed: 10 leave while 10 others join.
	parallel(append(calls("-K", "s", 0, 10), calls("-S", "t", 0, 10)...)...)
	n.refs(uuid, 20)
	n.live(uuid, true)

	// 19 of the 20 leave at once: the region keeps running.
	parallel(append(calls("-K", "s", 10, 20), calls("-K", "t", 0, 9)...)...)
	n.refs(uuid, 1)
	n.live(uuid, true)
	reg := n.region(uuid)
	if reg == nil || reg.Generation != gen || fmt.Sprint(reg.Owners) != "[{service:t9 1}]" {
		t.Errorf("region after 19 of 20 left: %+v, want generation %s (never restarted) and owner service:t9", reg, gen)
	}
	if l := n.slotLine(img); strings.Contains(l, "stopped cleanly") {
		t.Errorf("node 1's slot with one reference left: %q, want it live", l)
	}
	n.ctlOK("", "-K", "-u", uuid, "t9")
	n.refs(uuid, 0)
	if l := n.slotLine(img); !strings.Contains(l, "stopped cleanly") {
		t.Errorf("node 1's slot after the last reference: %q, want stopped cleanly", l)
	}
}

// TestGlobalMode: consumers change nothing; the cluster's owner, through
// the layout-driver contract, starts and stops the region.
func TestGlobalMode(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mkfs.ocfs2", "tunefs.ocfs2")
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 32})
	other := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 32})
	uuid, otherUUID := uuidOf(t, img), uuidOf(t, other)
	n := startDaemon(t, writeConf(t, dir, true, uuid), dir, 100)
	global := []string{"O2CB_HEARTBEAT_OWNER=global"}

	// A consumer (mount, fsck, the kernel's umount) succeeds and changes nothing.
	n.ctlOK("", "-S", "-u", uuid, "svc")
	n.ctlOK("", "-S", "-d", img, "svc")
	n.refs(uuid, 0)
	n.live(uuid, false)
	n.ctlOK("", "-K", "-u", uuid)

	r := n.exe("", global, n.hbCtl, "-S", "-u", uuid)
	if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Fatalf("O2CB_HEARTBEAT_OWNER=global ocfs2_hb_ctl -S -u %s: %v; want exit 0, no output", uuid, r)
	}
	n.refs(uuid, 1)
	n.live(uuid, true)
	if reg := n.region(uuid); reg == nil || fmt.Sprint(reg.Owners) != "[{global 1}]" {
		t.Errorf("region after the global -S: %+v, want owner global", reg)
	}
	n.ctlOK("", "-K", "-u", uuid) // the kernel's umount: a consumer, no-op
	n.refs(uuid, 1)
	n.ctlOK("", "-P", "-u", uuid, "-n", "4")

	// A region cluster.conf does not name is not the cluster's.
	n.checkFails(n.exe("", global, n.hbCtl, "-S", "-u", otherUUID), []string{"-S", "-u", otherUUID}, "not a heartbeat region of cluster o2cbtest")
	n.refs(otherUUID, 0)

	r = n.exe("", global, n.hbCtl, "-K", "-u", uuid)
	if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Errorf("O2CB_HEARTBEAT_OWNER=global ocfs2_hb_ctl -K -u %s: %v; want exit 0, no output", uuid, r)
	}
	n.refs(uuid, 0)
	n.live(uuid, false)
	if l := n.slotLine(img); !strings.Contains(l, "stopped cleanly") {
		t.Errorf("node 1's slot after the global -K: %q, want stopped cleanly", l)
	}
}

// TestErrors: each failure is exit 1 with one line that says why.
func TestErrors(t *testing.T) {
	t.Parallel()
	n, img, uuid := localSetup(t)
	dir := filepath.Dir(img)

	t.Run("no daemon", func(t *testing.T) {
		down := &node{t: t, Node: &clustertest.Node{Env: append(os.Environ(), "O2CB_RUN_DIR="+t.TempDir())}, hbCtl: n.hbCtl}
		for _, args := range [][]string{
			{"-S", "-u", uuid, "svc"}, {"-S", "-d", img, "svc"}, {"-K", "-u", uuid}, {"-I", "-u", uuid}, {"-P", "-u", uuid},
		} {
			down.ctlFails(args, "is not running", "start the o2cb resource first")
		}
		down.ctlOK("", "-I", "-q", "-u", uuid) // a status probe: nothing is live
	})

	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	n.ctlFails([]string{"-S", "-d", junk, "svc"}, junk, "not an OCFS2 volume")
	n.ctlFails([]string{"-S", "-d", filepath.Join(dir, "missing"), "svc"}, filepath.Join(dir, "missing"))
	const nowhere = "0123456789ABCDEF0123456789ABCDEF"
	n.ctlFails([]string{"-S", "-u", nowhere, "svc"}, "no device holds this region", nowhere)
	n.refs(nowhere, 0)

	// Usage errors.
	for _, args := range [][]string{{"-P", "-u", uuid, "-n", "9"}, {"-S", "-u", uuid}, {"-I", "-u", "xyz"}} {
		r := n.ctl(args...)
		if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "Usage: ocfs2_hb_ctl -S -d <device> <service>") {
			t.Errorf("ocfs2_hb_ctl %s: %v; want usage on stderr, exit 1", strings.Join(args, " "), r)
		}
	}
	r := n.exe("", []string{"O2CB_HEARTBEAT_OWNER=cluster"}, n.hbCtl, "-S", "-u", uuid)
	if r.Code != 1 || !strings.Contains(r.Stderr, `O2CB_HEARTBEAT_OWNER="cluster"`) {
		t.Errorf("O2CB_HEARTBEAT_OWNER=cluster ocfs2_hb_ctl -S: %v; want the variable named, exit 1", r)
	}

	// The cluster owns no region in local mode.
	n.checkFails(n.exe("", []string{"O2CB_HEARTBEAT_OWNER=global"}, n.hbCtl, "-S", "-u", uuid), []string{"-S", "-u", uuid}, "local heartbeat mode")
	n.refs(uuid, 0)

	// A second daemon using our node number on the same volume: a collision.
	n.ctlOK("", "-S", "-u", uuid, "first")
	twin := startDaemon(t, n.envValue("O2CB_CLUSTER_CONF"), dir, 100)
	twin.ctlFails([]string{"-S", "-u", uuid, "second"}, "collision")
	twin.refs(uuid, 0)
	deadline := time.Now().Add(3 * time.Second)
	for reg := n.region(uuid); reg == nil || reg.State != hbclient.StateCollision; reg = n.region(uuid) {
		if time.Now().After(deadline) {
			t.Fatalf("the first daemon's region after the twin wrote: %+v, want state collision", reg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.live(uuid, false)
	n.refs(uuid, 1)
	n.ctlFails([]string{"-S", "-u", uuid, "third"}, "collision")
	n.ctlOK("", "-K", "-u", uuid, "first")
	n.refs(uuid, 0)
}

// envValue returns the node's value of an environment variable (the
// last of that name, as the programs it runs see it).
func (n *node) envValue(key string) string {
	val := ""
	for _, kv := range n.Env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			val = v
		}
	}
	return val
}

// TestSlowStart: at a 1 s interval a start takes about 2 s. One that
// does not settle within O2CB_HB_CTL_TIMEOUT fails and leaves no
// reference; SIGTERM and SIGINT wait until the start has ended, as
// ocfs2-tools blocks them, so the caller's reference is never left behind.
func TestSlowStart(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mkfs.ocfs2", "tunefs.ocfs2")
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, SizeMiB: 32, Local: true})
	uuid := uuidOf(t, img)
	n := startDaemon(t, writeConf(t, dir, false), dir, 1000)

	r := n.exe("", []string{"O2CB_HB_CTL_TIMEOUT=0.3"}, n.hbCtl, "-S", "-u", uuid, "svc")
	n.checkFails(r, []string{"-S", "-u", uuid, "svc"}, "not steady in time")
	if r.Took > 1500*time.Millisecond {
		t.Errorf("-S with O2CB_HB_CTL_TIMEOUT=0.3 took %v", r.Took)
	}
	n.refs(uuid, 0)

	cmd := exec.Command(n.hbCtl, "-S", "-u", uuid, "svc")
	cmd.Env = n.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	took := time.Since(start)
	t.Logf("-S at a 1 s interval, signalled after 300 ms, took %v", took.Round(time.Millisecond))
	if err != nil || out.Len() != 0 || took < time.Second {
		t.Errorf("-S signalled while starting: %v, %q after %v; want exit 0 once the region is steady (about 2 s)", err, out.String(), took)
	}
	n.refs(uuid, 1)
	n.live(uuid, true)
	n.ctlOK("", "-K", "-u", uuid, "svc")
	n.refs(uuid, 0)
}

// TestUsage: misuse prints the usage on stderr and exits 1; -h prints it
// on stdout and exits 0.
func TestUsage(t *testing.T) {
	_, hbCtl := testenv.Binaries(t)
	n := &node{t: t, hbCtl: hbCtl, Node: &clustertest.Node{Env: append(os.Environ(), "O2CB_RUN_DIR="+t.TempDir())}}
	const first = "Usage: ocfs2_hb_ctl -S -d <device> <service>\n"
	for _, args := range [][]string{nil, {"-X"}, {"-S"}, {"-S", "-u"}, {"-K", "-d", "/dev/null"}, {"-I"}, {"-P", "-n", "8", "-u", "0123456789ABCDEF0123456789ABCDEF"}, {"svc"}} {
		r := n.ctl(args...)
		line, rest, _ := strings.Cut(r.Stderr, "\n")
		if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(line, "ocfs2_hb_ctl: ") || !strings.HasPrefix(rest, first) {
			t.Errorf("ocfs2_hb_ctl %q: %v; want a reason, then the usage on stderr, exit 1", args, r)
		}
	}
	r := n.ctl("-h")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, first) || r.Stderr != "" {
		t.Errorf("ocfs2_hb_ctl -h: %v; want the usage on stdout, exit 0", r)
	}
}
