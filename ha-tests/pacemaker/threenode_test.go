package pacemaker

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
	"golang.org/x/sys/unix"
)

const (
	// subnet is the nodes' network; it exists only inside the namespaces
	// of the test.
	subnet = "192.168.250."
	// regionsDir is, in every node's private /run, the node's own view of
	// the region devices: links to the shared image files, or (node 3) to
	// loop devices over them, on which a fault hits that node only. The
	// clone's devices parameter is the same on every node.
	regionsDir = "/run/o2cb-test-regions"
	// nodeConf is, in every node's private /run, the node's own copy of
	// cluster.conf (the clone's cluster_conf): a fault in it hits that
	// node only.
	nodeConf = "/run/o2cb-test/cluster.conf"
)

// switchScript sets up the switch: a network namespace with a bridge.
const switchScript = `set -eu
mount --make-rprivate /
mount -t proc proc /proc
ip link set lo up
ip link add br0 type bridge
ip link set br0 up
echo ready
exec > /dev/null
set +e
while :; do sleep 3600 & wait $!; done
`

// netSwitch is the namespace holding the bridge and the host ends of the
// nodes' veths; it all goes away with its holder.
type netSwitch struct {
	t *testing.T
	h *holder
	w *world
}

func (s *netSwitch) must(args ...string) {
	s.t.Helper()
	r := nsExec(s.h.pid, []string{"-m", "-n"}, s.w.home, 10*time.Second, "ip", args...)
	if r.Code != 0 {
		s.t.Fatalf("switch: ip %s: %s", strings.Join(args, " "), r)
	}
}

// plug connects a node to the switch through veth<id> and gives it its
// address.
func (s *netSwitch) plug(n *node) {
	s.t.Helper()
	veth := fmt.Sprintf("veth%d", n.id)
	s.must("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", fmt.Sprint(n.h.pid))
	s.must("link", "set", veth, "master", "br0")
	s.must("link", "set", veth, "up")
	n.must(10*time.Second, "ip", "addr", "add", n.addr+"/24", "dev", "eth0")
	n.must(10*time.Second, "ip", "link", "set", "eth0", "up")
}

// loopDevice attaches img to a loop device until the test ends. The
// device is marked autoclear and held open by the test: if the test
// process dies, the kernel detaches it once the last user (node 3's
// daemon, killed with its node) has closed it.
func loopDevice(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("losetup", "-f", "--show", "--direct-io=off", img).Output()
	dev := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(dev, "/dev/loop") {
		testenv.Unavailable(t, fmt.Sprintf("losetup -f --show %s: %q %v", img, out, err))
	}
	f, err := os.Open(dev)
	if err != nil {
		exec.Command("losetup", "-d", dev).Run()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The read-only flag belongs to the block device and outlives the
		// attachment: the next user of this loop device must not get it.
		exec.Command("blockdev", "--setrw", dev).Run()
		f.Close() // autoclear: detached now, or when its last user closes it
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such device") {
			if b, _ := os.ReadFile("/sys/block/" + filepath.Base(dev) + "/loop/backing_file"); len(b) > 0 {
				t.Errorf("losetup -d %s: %v: %s", dev, err, out)
			}
		}
	})
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err == nil {
		info.Flags |= unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopSetStatus64(int(f.Fd()), info)
	}
	if err != nil {
		t.Fatalf("%s: set autoclear: %v", dev, err)
	}
	if out, err := exec.Command("blockdev", "--getro", dev).Output(); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Logf("%s was left read-only by an earlier user (blockdev --getro: %q %v): making it writable", dev, out, err)
		blockdev(t, "--setrw", dev)
	}
	return dev
}

func blockdev(t *testing.T, flag, dev string) {
	t.Helper()
	if out, err := exec.Command("blockdev", flag, dev).CombinedOutput(); err != nil {
		t.Fatalf("blockdev %s %s: %v: %s", flag, dev, err, out)
	}
}

// view is what a set of nodes' daemons report: for each reporting node,
// the live nodes of each region (nil: the daemon does not run it) and
// the region's state.
type view map[string]map[string]*hbclient.RegionStatus

func (v view) String() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(v)) {
		fmt.Fprintf(&b, "%s:", name)
		if v[name] == nil {
			b.WriteString(" no daemon;")
			continue
		}
		for _, u := range slices.Sorted(maps.Keys(v[name])) {
			r := v[name][u]
			if r == nil {
				fmt.Fprintf(&b, " %.8s not running", u)
				continue
			}
			fmt.Fprintf(&b, " %.8s %s live %v", u, r.State, r.LiveNodes)
			if r.Error != "" {
				fmt.Fprintf(&b, " (%s)", r.Error)
			}
		}
		b.WriteString(";")
	}
	return b.String()
}

// look asks the nodes' daemons for the regions.
func look(nodes []*node, rs []region) (view, error) {
	v := view{}
	for _, n := range nodes {
		st, err := n.status()
		if err != nil {
			return nil, err
		}
		if st == nil {
			v[n.name] = nil
			continue
		}
		if st.Node.Name != n.name || st.Node.Number != n.id {
			return nil, fmt.Errorf("%s's daemon says it is %s (%d): the default node name is the host name", n.name, st.Node.Name, st.Node.Number)
		}
		v[n.name] = map[string]*hbclient.RegionStatus{}
		for _, r := range rs {
			v[n.name][r.uuid] = regionOf(st, r.uuid)
		}
	}
	return v, nil
}

// sees reports whether every node of the view sees exactly want live in
// every region of uuids, with the region steady or (for a node's own
// failed region) as given.
func (v view) sees(uuids []string, want []int) bool {
	for _, regions := range v {
		if regions == nil {
			return false
		}
		for _, u := range uuids {
			r := regions[u]
			if r == nil || !slices.Equal(r.LiveNodes, want) {
				return false
			}
		}
	}
	return true
}

func uuidsOf(rs ...region) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.uuid)
	}
	return out
}

// TestThreeNodes runs the o2cb clone on three nodes of one machine, first
// with fencing (a fence device per node), then without.
func TestThreeNodes(t *testing.T) {
	suiteBegin := time.Now()
	w := newWorld(t)
	rs := w.mkRegions(t, 2)       // the regions of cluster.conf
	extra := w.mkRegions(t, 1)[0] // hb-extra's
	conf, err := os.ReadFile(w.writeClusterConf(t, 3, rs...))
	if err != nil {
		t.Fatal(err)
	}
	all := uuidsOf(rs...)
	// Node 3 reaches the regions through loop devices (made before the
	// nodes, so that they are detached after the nodes are gone).
	loops := []string{loopDevice(t, rs[0].img), loopDevice(t, rs[1].img)}

	sw := &netSwitch{t: t, w: w}
	sw.h = startHolder(t, w.base+"/switch.log", syscall.CLONE_NEWNS|syscall.CLONE_NEWNET|syscall.CLONE_NEWPID, switchScript)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		n := newNode(t, w, i, fmt.Sprintf("%s%d", subnet, i))
		sw.plug(n)
		targets := []string{rs[0].img, rs[1].img}
		if i == 3 {
			targets = loops
		}
		n.must(10*time.Second, "sh", "-c", `mkdir -p "$1" "$(dirname "$5")" && ln -s "$2" "$1/r0" && ln -s "$3" "$1/r1" && ln -s "$4" "$1/r2"`,
			"sh", regionsDir, targets[0], targets[1], extra.img, nodeConf)
		if err := os.WriteFile(n.rootPath(nodeConf), conf, 0o644); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	startCluster(t, cibOptions{noQuorumPolicy: "stop", stonith: true}, nodes...)

	// A fence device per node, and the o2cb clone on all three (node
	// names from the host names).
	common := []string{"cluster_conf=" + nodeConf, "devices=" + regionsDir + "/*"}
	cib := w.base + "/cib-config.xml"
	n1.pcs("cluster", "cib", cib)
	fenced := configureFencing(t, n1, cib, nodes)
	n1.pcs(slices.Concat([]string{"-f", cib, "resource", "create", "o2cb", "ocf:ocfs2:o2cb"}, common, []string{
		fmt.Sprintf("heartbeat_interval_ms=%d", interval.Milliseconds()), fmt.Sprintf("dead_threshold=%d", threshold), "region_quorum=any",
		"op", "monitor", fmt.Sprintf("interval=%dms", o2cbMonitor.Milliseconds()), "timeout=20s", "clone", "interleave=true"})...)
	n1.pcs("cluster", "cib-push", cib, "--config")
	pushed := time.Now()
	waitClone := func(desc string, want []string, timeout time.Duration) time.Duration {
		t.Helper()
		return waitFor(t, timeout, desc, func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			on := m.startedOn("o2cb")
			return slices.Equal(on, want), fmt.Sprintf("o2cb started on %v; failures %v", on, m.Failures)
		})
	}
	waitClone("o2cb started on all three", []string{"node1", "node2", "node3"}, 60*time.Second)
	var v view
	allLive := func(desc string, timeout time.Duration) time.Duration {
		t.Helper()
		return waitFor(t, timeout, desc, func() (bool, string) {
			var err error
			if v, err = look(nodes, rs); err != nil {
				return false, err.Error()
			}
			return v.sees(all, []int{1, 2, 3}), v.String()
		})
	}
	allLive("every node sees 1, 2 and 3 live in both regions", 30*time.Second)
	t.Logf("o2cb clone started and all three live in both regions on every node %v after the push", time.Since(pushed).Round(10*time.Millisecond))
	for _, n := range nodes {
		for _, r := range rs {
			if got := v[n.name][r.uuid]; got.State != hbclient.StateSteady {
				t.Errorf("%s: region %s is %s", n.name, r.uuid, got.State)
			}
		}
	}

	waitFor(t, 60*time.Second, "a fence device started for every node", func() (bool, string) {
		m, err := n1.crmMon()
		if err != nil {
			return false, err.Error()
		}
		for _, n := range nodes {
			if on := m.startedOn("fence-" + n.name); len(on) != 1 || on[0] == n.name {
				return false, fmt.Sprintf("fence-%s started on %v", n.name, on)
			}
		}
		return true, ""
	})
	noFencing := func(when string) {
		t.Helper()
		if f, detail := fenced(); f {
			t.Fatalf("%s: a node was fenced: %s", when, detail)
		}
	}
	// The observation works: a request to fence a node no device can
	// fence fails, and the fencer's history shows it.
	if r := n1.exec(60*time.Second, "stonith_admin", "--reboot", "node9", "--timeout", "5"); r.Code == 0 {
		t.Fatalf("stonith_admin --reboot node9 (no such node) succeeded: %s", r)
	}
	waitFor(t, 20*time.Second, "the fencer's history shows the request for node9", func() (bool, string) {
		if f, detail := fenced(); f && strings.Contains(detail, "Target:node9") {
			return true, ""
		}
		return false, n1.exec(20*time.Second, "stonith_admin", "--history=*", "--verbose", "--output-as=xml").String()
	})
	n1.must(20*time.Second, "stonith_admin", "--history=node9", "--cleanup")
	noFencing("after the start")
	everyone := []string{"node1", "node2", "node3"}

	// A syntax error in node 3's cluster.conf: node 3's monitor fails
	// naming the file and line; Pacemaker stops o2cb there (the stop works
	// from what runs) and cannot start it again; node 1 and 2 keep
	// running; nobody is fenced. Repaired and cleaned up, all three run.
	t.Run("broken cluster.conf on one node", func(t *testing.T) {
		pids := map[string]int{"node1": n1.daemonPID(), "node2": n2.daemonPID()}
		lines := strings.SplitAfter(string(conf), "\n")
		header := slices.IndexFunc(lines, func(l string) bool { return strings.HasSuffix(strings.TrimSpace(l), ":") })
		if header < 0 {
			t.Fatalf("cluster.conf has no stanza header:\n%s", conf)
		}
		bad := strings.Join(slices.Concat(lines[:header+1], []string{"\tthis_attribute_has_no_value\n"}, lines[header+1:]), "")
		where := fmt.Sprintf("%s:%d", nodeConf, header+2)
		if err := os.WriteFile(n3.rootPath(nodeConf), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		broken := time.Now()
		t.Logf("node3: a line without '=' at %s", where)
		var fails []monFailure
		waitFor(t, 30*time.Second, "node3's o2cb monitor fails naming "+where, func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			noFencing("with node3's cluster.conf broken")
			fails = m.failures("node3", "o2cb")
			return slices.ContainsFunc(fails, func(f monFailure) bool {
				return f.Task == "monitor" && f.ExitCode == 1 && strings.Contains(f.ExitReason, where)
			}), fmt.Sprint(m.Failures)
		})
		t.Logf("node3's monitor failed %v after the corruption: %v", time.Since(broken).Round(10*time.Millisecond), fails)
		waitFor(t, 60*time.Second, "o2cb stopped on node3 (its start fails naming the file and line), running on node1 and node2", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			noFencing("with node3's cluster.conf broken")
			on := m.startedOn("o2cb")
			fails = m.failures("node3", "o2cb")
			startFailed := slices.ContainsFunc(fails, func(f monFailure) bool {
				return f.Task == "start" && f.ExitCode == 1 && strings.Contains(f.ExitReason, where)
			})
			return slices.Equal(on, []string{"node1", "node2"}) && startFailed && n3.daemonPID() == 0,
				fmt.Sprintf("o2cb on %v, node3 failures %v, node3 daemon %d", on, fails, n3.daemonPID())
		})
		m, err := n1.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node3: o2cb stopped, fail count %d, failures %v", m.failCount("node3", "o2cb"), m.failures("node3", "o2cb"))
		for _, f := range m.Failures {
			if f.Task == "stop" {
				t.Errorf("a stop failed: %v", f)
			}
		}
		for _, nd := range m.Nodes {
			if !nd.Online || nd.Unclean {
				t.Errorf("node %s: online %v, unclean %v; want every node online and clean", nd.Name, nd.Online, nd.Unclean)
			}
		}
		// The stop was clean: node 1 and 2 see node 3 gone at once.
		waitFor(t, 10*time.Second, "node1 and node2 see only 1 and 2 live", func() (bool, string) {
			v, err := look([]*node{n1, n2}, rs)
			if err != nil {
				return false, err.Error()
			}
			return v.sees(all, []int{1, 2}), v.String()
		})
		for name, pid := range pids {
			if now := map[string]*node{"node1": n1, "node2": n2}[name].daemonPID(); now != pid {
				t.Errorf("%s's daemon changed from %d to %d", name, pid, now)
			}
		}
		noFencing("with node3's cluster.conf broken")

		if err := os.WriteFile(n3.rootPath(nodeConf), conf, 0o644); err != nil {
			t.Fatal(err)
		}
		repaired := time.Now()
		n1.must(60*time.Second, "crm_resource", "--cleanup", "--resource", "o2cb")
		waitClone("o2cb started on all three after the repair", everyone, 60*time.Second)
		allLive("all three live again in both regions on every node", 30*time.Second)
		t.Logf("repaired and cleaned up: all three live again %v later", time.Since(repaired).Round(10*time.Millisecond))
		if m, err := n1.crmMon(); err != nil || len(m.Failures) > 0 {
			t.Errorf("after the cleanup: failures %v (%v)", m.Failures, err)
		}
		noFencing("after the repair")
	})
	if t.Failed() {
		return
	}

	// hb-extra, an hbregion resource for a region outside cluster.conf,
	// on one node; its node's daemon SIGKILLed ten times in a row.
	t.Run("daemon killed 10 times", func(t *testing.T) {
		cib := w.base + "/cib-hb.xml"
		n1.pcs("cluster", "cib", cib)
		configureHBExtra(t, n1, cib, extra, common)
		n1.pcs("cluster", "cib-push", cib, "--config")
		waitFor(t, 60*time.Second, "hb-extra started", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			return len(m.startedOn("hb-extra")) == 1, fmt.Sprintf("hb-extra on %v, failures %v", m.startedOn("hb-extra"), m.Failures)
		})
		killAndRecover(t, n1, nodes, all, extra.uuid, 10)
		noFencing("after the kills")
		n1.pcs("resource", "delete", "hb-extra")
		waitFor(t, 60*time.Second, "hb-extra deleted: stopped, its region in no daemon", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			if on := m.startedOn("hb-extra"); len(on) > 0 {
				return false, fmt.Sprintf("hb-extra on %v", on)
			}
			for _, n := range nodes {
				st, err := n.status()
				if err != nil || st == nil {
					return false, fmt.Sprintf("%s: status %v", n.name, err)
				}
				if r := regionOf(st, extra.uuid); r != nil {
					return false, fmt.Sprintf("%s runs hb-extra's region: %+v", n.name, r)
				}
			}
			return true, ""
		})
		n1.pcs("resource", "cleanup")
		waitClone("o2cb started on all three after hb-extra's removal", everyone, 60*time.Second)
		allLive("all three live in both regions on every node", 30*time.Second)
	})
	if t.Failed() {
		return
	}

	// Parameters: dead_threshold is not reloadable (Pacemaker restarts the
	// clone everywhere: stop, start); region_quorum is (reload-agent only,
	// the daemon untouched).
	t.Run("parameter changes", func(t *testing.T) {
		counts := func() map[string]map[string]int {
			out := map[string]map[string]int{}
			for _, n := range nodes {
				out[n.name] = n.opResults("o2cb")
			}
			return out
		}
		pids := func() map[string]int {
			out := map[string]int{}
			for _, n := range nodes {
				out[n.name] = n.daemonPID()
			}
			return out
		}
		before, pidsBefore := counts(), pids()
		newThreshold := threshold + 2
		n1.pcs("resource", "update", "o2cb", fmt.Sprintf("dead_threshold=%d", newThreshold))
		changed := time.Now()
		waitFor(t, 60*time.Second, "o2cb stopped and started on every node, status showing the new dead_threshold", func() (bool, string) {
			now := counts()
			for _, n := range nodes {
				if now[n.name]["stop"] <= before[n.name]["stop"] || now[n.name]["start"] <= before[n.name]["start"] {
					return false, fmt.Sprintf("%s: operations %v, before %v", n.name, now[n.name], before[n.name])
				}
				st, err := n.status()
				if err != nil || st == nil || st.DeadThreshold != newThreshold {
					return false, fmt.Sprintf("%s: status %+v %v", n.name, st, err)
				}
			}
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			return slices.Equal(m.startedOn("o2cb"), everyone), fmt.Sprintf("o2cb on %v", m.startedOn("o2cb"))
		})
		t.Logf("dead_threshold=%d: restarted on every node in %v", newThreshold, time.Since(changed).Round(10*time.Millisecond))
		after, pidsAfter := counts(), pids()
		for _, n := range nodes {
			b, a := before[n.name], after[n.name]
			if a["stop"] != b["stop"]+1 || a["start"] != b["start"]+1 || a["reload-agent"] != b["reload-agent"] {
				t.Errorf("%s: operations of o2cb %v, before the change %v: want one stop, one start, no reload-agent", n.name, a, b)
			}
			if pidsAfter[n.name] == pidsBefore[n.name] {
				t.Errorf("%s: the daemon (pid %d) was not restarted", n.name, pidsAfter[n.name])
			}
		}

		before, pidsBefore = after, pidsAfter
		n1.pcs("resource", "update", "o2cb", "region_quorum=majority")
		changed = time.Now()
		waitFor(t, 60*time.Second, "reload-agent ran on every node", func() (bool, string) {
			now := counts()
			for _, n := range nodes {
				if now[n.name]["reload-agent"] <= before[n.name]["reload-agent"] {
					return false, fmt.Sprintf("%s: operations %v, before %v", n.name, now[n.name], before[n.name])
				}
			}
			return true, ""
		})
		t.Logf("region_quorum=majority: reload-agent ran on every node in %v", time.Since(changed).Round(10*time.Millisecond))
		// Two monitors later: still no stop or start, the same daemons.
		time.Sleep(2*o2cbMonitor + time.Second)
		after, pidsAfter = counts(), pids()
		for _, n := range nodes {
			b, a := before[n.name], after[n.name]
			if a["stop"] != b["stop"] || a["start"] != b["start"] || a["reload-agent"] != b["reload-agent"]+1 {
				t.Errorf("%s: operations of o2cb %v, before the change %v: want one reload-agent, no stop or start", n.name, a, b)
			}
			if pidsAfter[n.name] != pidsBefore[n.name] || pidsAfter[n.name] == 0 {
				t.Errorf("%s: the daemon's pid changed from %d to %d", n.name, pidsBefore[n.name], pidsAfter[n.name])
			}
			if st, err := n.status(); err != nil || st == nil || st.DeadThreshold != newThreshold {
				t.Errorf("%s: status %+v %v, want dead_threshold %d still", n.name, st, err, newThreshold)
			}
		}
		m, err := n1.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.startedOn("o2cb"), everyone) || len(m.Failures) > 0 {
			t.Errorf("after the reload: o2cb on %v, failures %v", m.startedOn("o2cb"), m.Failures)
		}
		noFencing("after the parameter changes")
	})
	if t.Failed() {
		return
	}

	// The rest runs without fencing (a cut-off node would be fenced, and
	// fence_dummy does not reboot it): the parameters back, o2cb told that
	// fencing is off, then stonith-enabled=false.
	n1.pcs("resource", "update", "o2cb", fmt.Sprintf("dead_threshold=%d", threshold), "region_quorum=any", "allow_stonith_disabled=true")
	waitFor(t, 60*time.Second, "o2cb restarted everywhere with the original parameters", func() (bool, string) {
		for _, n := range nodes {
			st, err := n.status()
			if err != nil || st == nil || st.DeadThreshold != threshold {
				return false, fmt.Sprintf("%s: status %+v %v", n.name, st, err)
			}
		}
		m, err := n1.crmMon()
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(m.startedOn("o2cb"), everyone), fmt.Sprintf("o2cb on %v", m.startedOn("o2cb"))
	})
	n1.pcs("property", "set", "stonith-enabled=false")
	allLive("all three live in both regions on every node", 30*time.Second)

	// Node health: node 3's device of one region turns read-only. Its
	// region fails there, the monitor publishes #health-o2cb=yellow (one
	// of two regions lost, region_quorum=any holds) and o2cb-regions=1,
	// and a location rule on the attribute moves a Dummy off node 3, which
	// it prefers. Writable again, the region comes back, node 3 is green
	// and the Dummy returns.
	t.Run("heartbeat health", func(t *testing.T) {
		// custom: the health attributes score nodes as the yellow and
		// red scores say (0 by default), and crm_mon names a node's
		// health; the rule below does the moving.
		n1.pcs("property", "set", "node-health-strategy=custom")
		n1.pcs("resource", "update", "o2cb", "dampen=1s")
		n1.pcs("resource", "create", "dummy", "ocf:heartbeat:Dummy", "op", "monitor", "interval=10s")
		n1.pcs("constraint", "location", "dummy", "prefers", "node3=100")
		n1.pcs("constraint", "location", "dummy", "rule", "score=-INFINITY", "#health-o2cb", "eq", "yellow", "or", "#health-o2cb", "eq", "red")
		defer func() {
			blockdev(t, "--setrw", loops[0])
			n1.pcs("resource", "delete", "dummy")
			n1.pcs("property", "set", "node-health-strategy=none")
			n1.pcs("resource", "cleanup")
		}()
		// attrs are the node attribute name's values by node, as the
		// attribute manager holds them.
		attrs := func(name string) map[string]string {
			out := map[string]string{}
			r := n1.exec(20*time.Second, "attrd_updater", "-Q", "-A", "-n", name)
			for _, l := range strings.Split(r.Stdout, "\n") {
				if m := regexp.MustCompile(`host="([^"]*)" value="([^"]*)"`).FindStringSubmatch(l); m != nil {
					out[m[1]] = m[2]
				}
			}
			return out
		}
		// dummyOn3 is where the Dummy must be: on node3, or on one other
		// node.
		health := func(desc, want string, dummyOn3 bool, timeout time.Duration) time.Duration {
			t.Helper()
			return waitFor(t, timeout, desc, func() (bool, string) {
				m, err := n1.crmMon()
				if err != nil {
					return false, err.Error()
				}
				var got []string
				on := m.startedOn("dummy")
				ok := len(on) == 1 && (on[0] == "node3") == dummyOn3
				hs, regions := attrs("#health-o2cb"), attrs("o2cb-regions")
				for _, n := range nodes {
					w := "green"
					if n == n3 {
						w = want
					}
					ok = ok && hs[n.name] == w
					got = append(got, fmt.Sprintf("%s %s (o2cb-regions %s)", n.name, hs[n.name], regions[n.name]))
				}
				return ok, fmt.Sprintf("%s; dummy on %v; failures %v", strings.Join(got, ", "), m.startedOn("dummy"), m.Failures)
			})
		}
		health("every node green, the Dummy on node3", "green", true, 60*time.Second)

		blockdev(t, "--setro", loops[0])
		ro := time.Now()
		yellow := health("node3 yellow, the Dummy moved off it", "yellow", false, 60*time.Second)
		m, err := n1.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.attribute("node3", "o2cb-regions"); got != "1" {
			t.Errorf("node3's o2cb-regions %q in crm_mon -A with one of two regions failed, want 1", got)
		}
		if on := m.startedOn("o2cb"); !slices.Equal(on, everyone) {
			t.Errorf("o2cb on %v while node3 is yellow, want still everywhere (degraded is not a failure)", on)
		}
		// Within the region's failure (threshold × interval), the dampen
		// delay and one monitor interval, and the time to see it.
		if bound := time.Duration(threshold)*interval + time.Second + o2cbMonitor + 2*time.Second; yellow > bound {
			t.Errorf("node3 yellow %v after --setro, want within %v (failure, dampen 1s, one monitor interval, 2 s to see it)", yellow, bound)
		}
		ops := n3.opResults("o2cb")
		t.Logf("--setro on node3's device of region %s: #health-o2cb yellow and the Dummy moved off it %v later (o2cb monitor every %v, dampen 1s); node3's o2cb operations %v",
			rs[0].uuid, yellow.Round(10*time.Millisecond), o2cbMonitor, ops)
		if r := n3.exec(20*time.Second, "crm_mon", "-1", "-A"); !regexp.MustCompile(`node3.*health is YELLOW`).MatchString(r.Stdout) {
			t.Errorf("crm_mon on node3 does not show node3's health yellow:\n%s", r.Stdout)
		} else {
			t.Logf("crm_mon -1 -A on node3:\n%s", r.Stdout)
		}

		blockdev(t, "--setrw", loops[0])
		green := health("node3 green again, the Dummy back on it", "green", true, 90*time.Second)
		t.Logf("--setrw: node3 green and the Dummy back %v later (the daemon's retry, then a monitor); %v since --setro", green.Round(10*time.Millisecond), time.Since(ro).Round(10*time.Millisecond))
	})
	if t.Failed() {
		return
	}

	// Cut node 3 off: its link down, its daemon killed.
	t.Run("cut off and rejoin", func(t *testing.T) {
		pid := n3.daemonPID()
		if pid == 0 {
			t.Fatal("node3: no heartbeat daemon")
		}
		sw.must("link", "set", "veth3", "down")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cut := time.Now()
		majority := []*node{n1, n2}
		dead := waitFor(t, 15*time.Second, "node1 and node2 see node 3 dead in both regions", func() (bool, string) {
			v, err := look(majority, rs)
			if err != nil {
				return false, err.Error()
			}
			return v.sees(all, []int{1, 2}), v.String()
		})
		window := time.Duration(threshold) * interval
		t.Logf("node1 and node2 saw node 3 dead in both regions %v after the kill (threshold %d × %v = %v)",
			dead.Round(10*time.Millisecond), threshold, interval, window)
		// Dead after threshold unchanged samples: within one more
		// interval, plus the time to ask two daemons.
		if dead > window+interval+time.Second {
			t.Errorf("death noticed after %v, want within the threshold (%v) and an interval", dead, window)
		}
		off := waitFor(t, 30*time.Second, "node1 and node2 report node3 offline, with quorum", func() (bool, string) {
			for _, n := range majority {
				m, err := n.crmMon()
				if err != nil {
					return false, err.Error()
				}
				if m.online("node3") || !m.Summary.DC.WithQuorum || !m.online("node1") || !m.online("node2") {
					return false, fmt.Sprintf("%s: nodes %+v, quorum %v", n.name, m.Nodes, m.Summary.DC.WithQuorum)
				}
			}
			return true, ""
		})
		t.Logf("Pacemaker on node1 and node2 reported node3 offline %v after the cut", time.Since(cut).Round(10*time.Millisecond))
		_ = off
		waitFor(t, 30*time.Second, "node3 alone: partition without quorum, its o2cb stopped", func() (bool, string) {
			m, err := n3.crmMon()
			if err != nil {
				return false, err.Error()
			}
			return !m.Summary.DC.WithQuorum && len(m.startedOn("o2cb")) == 0 && n3.daemonPID() == 0,
				fmt.Sprintf("quorum %v, o2cb on %v, daemon %d", m.Summary.DC.WithQuorum, m.startedOn("o2cb"), n3.daemonPID())
		})
		if m, err := n1.crmMon(); err == nil {
			if on := m.startedOn("o2cb"); !slices.Equal(on, []string{"node1", "node2"}) {
				t.Errorf("majority: o2cb started on %v, want node1 and node2", on)
			}
		}
		if v, err := look(majority, rs); err != nil || !v.sees(all, []int{1, 2}) {
			t.Errorf("majority after the cut: %v %v, want node 3 dead", v, err)
		}

		// Rejoin: the link up; Pacemaker starts o2cb on node3 again.
		sw.must("link", "set", "veth3", "up")
		rejoin := time.Now()
		waitFor(t, 60*time.Second, "node3 online again", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			return m.online("node3"), fmt.Sprintf("nodes %+v", m.Nodes)
		})
		t.Logf("node3 online again %v after its link came up", time.Since(rejoin).Round(10*time.Millisecond))
		waitClone("o2cb started on all three after the rejoin", []string{"node1", "node2", "node3"}, 60*time.Second)
		allLive("all three live again in both regions on every node", 30*time.Second)
		t.Logf("all three live again on every node %v after the link came up", time.Since(rejoin).Round(10*time.Millisecond))
		if m, err := n1.crmMon(); err == nil && len(m.Failures) > 0 {
			t.Logf("failures recorded around the cut: %v", m.Failures)
		}
		n1.pcs("resource", "cleanup")
		// The cleanup forgets the history: Pacemaker probes node3 again.
		waitClone("o2cb started on all three after the cleanup", []string{"node1", "node2", "node3"}, 30*time.Second)
	})
	if t.Failed() {
		return
	}

	// A region device that fails on node 3 only.
	t.Run("read-only region on one node", func(t *testing.T) {
		m, err := n1.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		if on := m.startedOn("o2cb"); !slices.Equal(on, []string{"node1", "node2", "node3"}) || len(m.Failures) > 0 {
			t.Fatalf("before: o2cb on %v, failures %v", on, m.Failures)
		}
		blockdev(t, "--setro", loops[0])
		ro := time.Now()
		t.Logf("blockdev --setro %s (node3's region %s)", loops[0], rs[0].uuid)
		waitFor(t, 20*time.Second, "node3 lost region 0 and heartbeats in region 1; node1 and node2 see it so", func() (bool, string) {
			v, err := look(nodes, rs)
			if err != nil {
				return false, err.Error()
			}
			for _, n := range []*node{n1, n2} {
				if !slices.Equal(v[n.name][rs[0].uuid].LiveNodes, []int{1, 2}) || !slices.Equal(v[n.name][rs[1].uuid].LiveNodes, []int{1, 2, 3}) {
					return false, v.String()
				}
			}
			r0, r1 := v["node3"][rs[0].uuid], v["node3"][rs[1].uuid]
			return r0 != nil && r0.State == hbclient.StateFailed && !slices.Contains(r0.LiveNodes, 3) &&
				r1 != nil && r1.State == hbclient.StateSteady && slices.Equal(r1.LiveNodes, []int{1, 2, 3}), v.String()
		})
		t.Logf("node3's region 0 failed, seen by every node, %v after setro", time.Since(ro).Round(10*time.Millisecond))
		// Two monitors later the clone still runs everywhere: with
		// region_quorum=any, one region of two is enough. Node 3's
		// monitor says degraded (OCF 1.1), which Pacemaker lists but
		// neither counts as a failure nor recovers.
		time.Sleep(2*o2cbMonitor + time.Second)
		m, err = n1.crmMon()
		if err != nil {
			t.Fatal(err)
		}
		degraded := slices.ContainsFunc(m.Failures, func(f monFailure) bool {
			return f.Node == "node3" && f.Task == "monitor" && f.ExitCode == 190
		})
		other := slices.ContainsFunc(m.Failures, func(f monFailure) bool { return f.ExitCode != 190 })
		if on := m.startedOn("o2cb"); !slices.Equal(on, []string{"node1", "node2", "node3"}) || m.failCount("node3", "o2cb") != 0 || !degraded || other {
			t.Fatalf("one region lost on node3: o2cb on %v, node3 fail count %d, failures %v; want node3's monitor degraded (190), no failure",
				on, m.failCount("node3", "o2cb"), m.Failures)
		}
		// The monitors ran and tolerated the loss: the agent logs it (to
		// stderr without syslog, which Pacemaker's executor logs).
		if log := tailMatching(n3.dir+"/var/log/pacemaker/pacemaker.log", 5, "heartbeat region lost; this node is still seen in others"); !strings.Contains(log, rs[0].uuid) {
			t.Errorf("node3's pacemaker.log has no monitor warning about the lost region %s:\n%s", rs[0].uuid, log)
		}
		if st, err := n3.status(); err != nil || st == nil || !slices.Equal(st.LiveNodes, []int{1, 2, 3}) {
			t.Errorf("node3 status: %+v, %v; want live nodes 1, 2, 3 (region 1 sees them all)", st, err)
		}

		// Both of node 3's regions fail: its monitor fails, Pacemaker
		// recovers it (stop, start); the start cannot write, so under the
		// default start-failure-is-fatal o2cb stays stopped on node3.
		blockdev(t, "--setro", loops[1])
		ro = time.Now()
		t.Logf("blockdev --setro %s (node3's region %s): node3 has no region left", loops[1], rs[1].uuid)
		var fails []monFailure
		took := waitFor(t, 30*time.Second, "Pacemaker records node3's failed o2cb monitor", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			fails = m.failures("node3", "o2cb")
			return slices.ContainsFunc(fails, func(f monFailure) bool { return f.Task == "monitor" && f.ExitCode == 1 }), fmt.Sprint(m.Failures)
		})
		t.Logf("monitor failure on node3 recorded %v after the second setro: %v", took.Round(10*time.Millisecond), fails)
		for _, f := range fails {
			if f.Task == "monitor" && !strings.Contains(f.ExitReason, "2 of 2 heartbeat regions lost") {
				t.Errorf("monitor exit reason %q: want it to say that 2 of 2 regions are lost", f.ExitReason)
			}
		}
		waitFor(t, 60*time.Second, "recovery per policy: o2cb stopped on node3 (its start failed), running on node1 and node2", func() (bool, string) {
			m, err := n1.crmMon()
			if err != nil {
				return false, err.Error()
			}
			on := m.startedOn("o2cb")
			fails = m.failures("node3", "o2cb")
			startFailed := slices.ContainsFunc(fails, func(f monFailure) bool { return f.Task == "start" })
			return slices.Equal(on, []string{"node1", "node2"}) && startFailed && n3.daemonPID() == 0,
				fmt.Sprintf("o2cb on %v, node3 fail count %d, failures %v, node3 daemon %d", on, m.failCount("node3", "o2cb"), fails, n3.daemonPID())
		})
		m, _ = n1.crmMon()
		t.Logf("Pacemaker recovered %v after the second setro: o2cb on %v; node3: fail count %d, failures %v",
			time.Since(ro).Round(10*time.Millisecond), m.startedOn("o2cb"), m.failCount("node3", "o2cb"), m.failures("node3", "o2cb"))
		waitFor(t, 10*time.Second, "node1 and node2 see node 3 dead in both regions", func() (bool, string) {
			v, err := look([]*node{n1, n2}, rs)
			if err != nil {
				return false, err.Error()
			}
			return v.sees(all, []int{1, 2}), v.String()
		})

		// Repair the devices; a cleanup lets Pacemaker start it again.
		blockdev(t, "--setrw", loops[0])
		blockdev(t, "--setrw", loops[1])
		repaired := time.Now()
		n1.pcs("resource", "cleanup", "o2cb")
		waitClone("o2cb started on all three after the repair", []string{"node1", "node2", "node3"}, 60*time.Second)
		allLive("all three live again in both regions on every node", 30*time.Second)
		t.Logf("after the repair and a cleanup, all three live again %v", time.Since(repaired).Round(10*time.Millisecond))
	})
	if t.Failed() {
		return
	}

	// A clean stop of the whole cluster leaves nothing running and every
	// node's slot with a clean-stop block.
	begin := time.Now()
	stopCluster(t, nodes...)
	t.Logf("cluster stopped in %v", time.Since(begin).Round(10*time.Millisecond))
	for _, n := range nodes {
		if left := n.leftovers(); len(left) > 0 {
			t.Errorf("%s: left running after the cluster stopped: %v", n.name, left)
		}
		for _, r := range rs {
			if s := slotState(t, w, r.img, n.id); s != "valid, stopped cleanly" {
				t.Errorf("after the stop, node %d's slot in %s: %q, want a clean stop", n.id, r.uuid, s)
			}
		}
	}
	t.Logf("three-node suite: %v", time.Since(suiteBegin).Round(100*time.Millisecond))
}
