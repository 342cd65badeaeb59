package pacemaker

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
)

// configureOneNode configures, with pcs on a copy of the CIB pushed at
// once, the o2cb clone on the regions of cluster.conf and hb-extra, an
// hbregion resource for a region outside it, started after the clone and
// with it. The cluster has no fencing: o2cb is told so it may start
// (allow_stonith_disabled).
func configureOneNode(t *testing.T, n *node, conf string, extra region) {
	t.Helper()
	common := []string{"cluster_conf=" + conf, "devices=" + n.w.images + "/*.img"}
	cib := filepath.Join(n.w.base, "cib-config.xml")
	n.pcs("cluster", "cib", cib)
	n.pcs(slices.Concat([]string{"-f", cib, "resource", "create", "o2cb", "ocf:ocfs2:o2cb"}, common,
		[]string{fmt.Sprintf("heartbeat_interval_ms=%d", interval.Milliseconds()), fmt.Sprintf("dead_threshold=%d", threshold),
			"region_quorum=any", "allow_stonith_disabled=true",
			"op", "monitor", fmt.Sprintf("interval=%dms", o2cbMonitor.Milliseconds()), "timeout=20s", "clone", "interleave=true"})...)
	configureHBExtra(t, n, cib, extra, common)
	n.pcs("cluster", "cib-push", cib, "--config")
}

// configureHBExtra adds to the CIB file cib hb-extra, an hbregion
// resource for region extra, started after the o2cb clone and with it.
// Its monitor is faster than the clone's (hbMonitor) and its start may
// wait for the daemon up to hbStartTimeout.
func configureHBExtra(t *testing.T, n *node, cib string, extra region, common []string) {
	t.Helper()
	n.pcs(slices.Concat([]string{"-f", cib, "resource", "create", "hb-extra", "ocf:ocfs2:hbregion", "uuid=" + extra.uuid}, common,
		[]string{"op", "monitor", fmt.Sprintf("interval=%dms", hbMonitor.Milliseconds()), "timeout=20s",
			"start", fmt.Sprintf("timeout=%ds", int(hbStartTimeout.Seconds()))})...)
	n.pcs("-f", cib, "constraint", "order", "start", "o2cb-clone", "then", "hb-extra")
	n.pcs("-f", cib, "constraint", "colocation", "add", "hb-extra", "with", "o2cb-clone")
}

// waitStarted waits until crm_mon shows o2cb and hb-extra started on node1.
func waitStarted(t *testing.T, n *node, timeout time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, timeout, "o2cb and hb-extra started on node1", func() (bool, string) {
		m, err := n.crmMon()
		if err != nil {
			return false, err.Error()
		}
		o, h := m.startedOn("o2cb"), m.startedOn("hb-extra")
		return slices.Equal(o, []string{"node1"}) && slices.Equal(h, []string{"node1"}),
			fmt.Sprintf("o2cb started on %v, hb-extra on %v; failures %v", o, h, m.Failures)
	})
}

// checkOneNodeStatus waits until the daemon reports the three regions
// steady with node 1 live in each, and checks what it reports.
func checkOneNodeStatus(t *testing.T, n *node, rs []region) *hbclient.Status {
	t.Helper()
	var st *hbclient.Status
	waitFor(t, 20*time.Second, "o2cb-ra status: three regions steady, node 1 live in each", func() (bool, string) {
		var err error
		if st, err = n.status(); err != nil || st == nil {
			return false, fmt.Sprintf("%v (no daemon: %v)", err, st == nil)
		}
		for _, r := range rs {
			rs := regionOf(st, r.uuid)
			if rs == nil || rs.State != hbclient.StateSteady || !slices.Equal(rs.LiveNodes, []int{1}) {
				return false, fmt.Sprintf("region %s: %+v", r.uuid, rs)
			}
		}
		return true, ""
	})
	if st.Node.Name != "node1" || st.Node.Number != 1 || st.Mode != "global" || st.Cluster != clusterName {
		t.Errorf("status: node %+v, mode %q, cluster %q; want node1 (1), global, %s", st.Node, st.Mode, st.Cluster, clusterName)
	}
	// Pacemaker passed the parameters: the daemon runs at their pace.
	if st.IntervalMS != int(interval.Milliseconds()) || st.DeadThreshold != threshold {
		t.Errorf("status: interval %d ms, dead threshold %d; want the resource's %v and %d", st.IntervalMS, st.DeadThreshold, interval, threshold)
	}
	owners := map[string]string{rs[0].uuid: hbclient.OwnerGlobal, rs[1].uuid: hbclient.OwnerGlobal, rs[2].uuid: "pacemaker:hb-extra"}
	for _, r := range rs {
		got := regionOf(st, r.uuid)
		var names []string
		for _, o := range got.Owners {
			names = append(names, o.Name)
		}
		if !slices.Equal(names, []string{owners[r.uuid]}) {
			t.Errorf("region %s: owners %v, want [%s]", r.uuid, names, owners[r.uuid])
		}
		if got.Device != r.img {
			t.Errorf("region %s: device %s, want %s (found through devices)", r.uuid, got.Device, r.img)
		}
	}
	if len(st.Regions) != 3 || !slices.Equal(st.LiveNodes, []int{1}) {
		t.Errorf("status: %d regions, live nodes %v; want 3 and [1]", len(st.Regions), st.LiveNodes)
	}
	return st
}

// slotState is what `o2cb-ra slots` says of node's slot on an image.
func slotState(t *testing.T, w *world, img string, node int) string {
	t.Helper()
	out, err := exec.Command(w.o2cbRA, "slots", img).CombinedOutput()
	if err != nil {
		t.Fatalf("o2cb-ra slots %s: %v\n%s", img, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[0] == fmt.Sprint(node) {
			return strings.Join(f[5:], " ")
		}
	}
	return "not written"
}

// TestOneNode runs the agents under a real one-node Pacemaker cluster.
func TestOneNode(t *testing.T) {
	suiteBegin := time.Now()
	w := newWorld(t)
	rs := w.mkRegions(t, 3)
	conf := w.writeClusterConf(t, 1, rs[0], rs[1]) // the third region is hb-extra's
	n := newNode(t, w, 1, "127.0.0.1")
	startCluster(t, cibOptions{noQuorumPolicy: "freeze"}, n)

	// Configure and start.
	configureOneNode(t, n, conf, rs[2])
	took := waitStarted(t, n, 60*time.Second)
	t.Logf("o2cb clone and hb-extra started %v after the configuration was pushed", took.Round(10*time.Millisecond))
	st := checkOneNodeStatus(t, n, rs)
	pid := n.daemonPID()
	if pid == 0 || st.PID == 0 {
		t.Fatalf("no daemon pid (pid file: %d, status: %d)", pid, st.PID)
	}

	// pcs resource disable: hb-extra (ordered after the clone) stops, then
	// o2cb, which stops the daemon: the regions end with a clean-stop block.
	begin := time.Now()
	n.pcs("resource", "disable", "o2cb-clone", "--wait=60")
	waitFor(t, 30*time.Second, "o2cb and hb-extra stopped, the daemon gone", func() (bool, string) {
		m, err := n.crmMon()
		if err != nil {
			return false, err.Error()
		}
		o, h := m.startedOn("o2cb"), m.startedOn("hb-extra")
		return len(o) == 0 && len(h) == 0 && !process.Running(pid), fmt.Sprintf("o2cb on %v, hb-extra on %v, daemon %d alive %v", o, h, pid, process.Running(pid))
	})
	t.Logf("pcs resource disable o2cb-clone: everything stopped in %v", time.Since(begin).Round(10*time.Millisecond))
	if st, err := n.status(); err != nil || st != nil {
		t.Errorf("o2cb-ra status after disable: %+v, %v; want no daemon", st, err)
	}
	for _, r := range rs {
		if s := slotState(t, w, r.img, 1); s != "valid, stopped cleanly" {
			t.Errorf("after disable, node 1's slot in %s: %q, want a clean stop", r.uuid, s)
		}
	}
	begin = time.Now()
	n.pcs("resource", "enable", "o2cb-clone", "--wait=60")
	waitStarted(t, n, 60*time.Second)
	t.Logf("pcs resource enable o2cb-clone: both started again in %v", time.Since(begin).Round(10*time.Millisecond))
	checkOneNodeStatus(t, n, rs)
	pid = n.daemonPID()
	if m, err := n.crmMon(); err != nil || m.failCount("node1", "o2cb") != 0 || len(m.Failures) != 0 {
		t.Fatalf("before the kills: crm_mon %v, failures %v", err, m.Failures)
	}

	// SIGKILL the daemon, ten times: each time a monitor notices (as a
	// rule hb-extra's, the faster) and Pacemaker recovers both resources.
	if pid == 0 {
		t.Fatal("no daemon after enable")
	}
	const kills = 10
	killAndRecover(t, n, []*node{n}, uuidsOf(rs[0], rs[1]), rs[2].uuid, kills)
	checkOneNodeStatus(t, n, rs)
	m, err := n.crmMon()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d kills: fail counts o2cb %d, hb-extra %d; failures %v",
		kills, m.failCount("node1", "o2cb"), m.failCount("node1", "hb-extra"), m.Failures)
	n.pcs("resource", "cleanup")
	waitFor(t, 20*time.Second, "fail counts cleared", func() (bool, string) {
		m, err := n.crmMon()
		if err != nil {
			return false, err.Error()
		}
		return m.failCount("node1", "o2cb") == 0 && m.failCount("node1", "hb-extra") == 0 && len(m.Failures) == 0, fmt.Sprint(m.Failures)
	})
	waitStarted(t, n, 30*time.Second)

	// Stop the cluster: pacemakerd stops the resources, then corosync.
	begin = time.Now()
	stopCluster(t, n)
	t.Logf("cluster stopped in %v", time.Since(begin).Round(10*time.Millisecond))
	if left := n.leftovers(); len(left) > 0 {
		t.Errorf("left running in the node after the cluster stopped: %v", left)
	}
	for _, r := range rs {
		if s := slotState(t, w, r.img, 1); s != "valid, stopped cleanly" {
			t.Errorf("after the stop, node 1's slot in %s: %q, want a clean stop", r.uuid, s)
		}
	}
	t.Logf("one-node suite: %v", time.Since(suiteBegin).Round(100*time.Millisecond))
}
