package faults

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/retry"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// threeRegions is a global-mode cluster of two nodes on three volumes, the
// first of which sits behind a faulty loop device, with both nodes'
// o2cb resources started and every region seeing both nodes.
func threeRegions(t *testing.T, f *fault) (c *cluster, n1, n2 *node, bad *volume, good []*volume) {
	t.Helper()
	dir := t.TempDir()
	vols := []*volume{newVolume(t, f, dir, true), newVolume(t, f, dir, false), newVolume(t, f, dir, false)}
	c = newCluster(t, dir, 2, true, vols...)
	n1, n2 = c.node(1), c.node(2)
	for _, n := range []*node{n1, n2} {
		if r := n.agent("o2cb", "start"); r.Code != 0 {
			t.Fatalf("%s: o2cb start = %d, want 0: %s", n.Name, r.Code, r.Stderr)
		}
	}
	testenv.WaitFor(t, 20*interval, "both nodes see both in all three regions", func() bool {
		for _, v := range vols {
			if !n1.sees(v.UUID, 2) || !n2.sees(v.UUID, 1) {
				return false
			}
		}
		return true
	})
	return c, n1, n2, vols[0], vols[1:]
}

// waitState waits until n's region uuid is in state and returns how long
// it took.
func waitState(t *testing.T, n *node, uuid string, state hbclient.State, within time.Duration) time.Duration {
	t.Helper()
	return testenv.WaitFor(t, within, fmt.Sprintf("%s: region %s %s", n.Name, uuid[:8], state), func() bool {
		r := n.region(uuid)
		return r != nil && r.State == state
	})
}

func TestOneOfThreeRegionsFails(t *testing.T) {
	f := record(t, "device",
		"EIO on every read and write of one of three global regions (FUSE file under a loop device), node 1",
		"region failed within (threshold-1)*interval; node 1 still live to node 2 through the others; o2cb monitor 0 with a warning for region_quorum=any and majority, 1 with an exit reason for all; the region comes back by itself at the daemon's next retry once the device heals (global-mode policy; retries back off from 1 s to 60 s)")
	_, n1, n2, bad, good := threeRegions(t, f)

	bad.Faulty.Fail(faultdev.All, syscall.EIO)
	took := waitState(t, n1, bad.UUID, hbclient.StateFailed, time.Duration(threshold+5)*interval)
	r := n1.region(bad.UUID)
	f.observe(t, "region failed %v after the first EIO (write timeout %v): %s", took.Round(time.Millisecond),
		time.Duration(threshold-1)*interval, r.Error)
	if !strings.Contains(r.Error, "input/output error") {
		t.Errorf("failed region's error = %q, want the device's EIO named", r.Error)
	}
	if !strings.Contains(r.Error, bad.Device) {
		t.Errorf("failed region's error = %q, want the device %s named", r.Error, bad.Device)
	}

	// Node 1 stays live: node 2 sees it in the good regions, and for as
	// long as its own dead threshold.
	time.Sleep(time.Duration(threshold+1) * interval)
	for _, v := range good {
		if !n2.sees(v.UUID, 1) {
			t.Errorf("node 2 does not see node 1 in good region %s", v.UUID[:8])
		}
	}
	if st := n2.status(); !slices.Contains(st.LiveNodes, 1) {
		t.Errorf("node 2's live nodes = %v, want node 1 among them", st.LiveNodes)
	}
	if n2.sees(bad.UUID, 1) {
		t.Errorf("node 2 still sees node 1 in the failed region %s after %d intervals", bad.UUID[:8], threshold+1)
	}
	f.observe(t, "node 2 still sees node 1 live (union %v), not in the failed region", n2.status().LiveNodes)

	for _, q := range []struct {
		rule string
		want int
	}{{"any", 0}, {"majority", 0}, {"all", 1}} {
		res := n1.agent("o2cb", "monitor", "region_quorum="+q.rule)
		if res.Code != q.want {
			t.Errorf("o2cb monitor with region_quorum=%s = %d, want %d: %s", q.rule, res.Code, q.want, res.Stderr)
		}
		if q.want == 0 && !(strings.Contains(res.Stderr, "WARNING: ") && strings.Contains(res.Stderr, bad.UUID)) {
			t.Errorf("o2cb monitor with region_quorum=%s logged no warning naming region %s:\n%s", q.rule, bad.UUID, res.Stderr)
		}
		if q.want != 0 {
			why := testenv.ExitReason(res.Stderr)
			if !strings.Contains(why[:min(len(why), 128)], bad.UUID[:8]) {
				t.Errorf("exit reason with region_quorum=%s = %q, want the region %s named in its first 128 characters (what Pacemaker keeps)", q.rule, why, bad.UUID[:8])
			}
			f.observe(t, "monitor region_quorum=%s exit %d in %v: %s", q.rule, res.Code, res.Took.Round(time.Millisecond), why)
		} else {
			f.observe(t, "monitor region_quorum=%s exit %d in %v with a warning", q.rule, res.Code, res.Took.Round(time.Millisecond))
		}
	}

	// The device heals: the region comes back by itself at the daemon's
	// next retry, with a new generation, and node 2 sees node 1 in it
	// again.
	gen := r.Generation
	bad.Faulty.Heal()
	healed := time.Now()
	bound, retry := healBound(t, n1.region(bad.UUID), interval, threshold)
	back := testenv.WaitFor(t, bound+loadSlack, "node 2 sees node 1 in the healed region", func() bool { return n2.sees(bad.UUID, 1) })
	waitState(t, n1, bad.UUID, hbclient.StateSteady, 10*interval)
	r = n1.region(bad.UUID)
	if r.State != hbclient.StateSteady || r.Generation == gen {
		t.Errorf("healed region: state %s generation %s (was %s), want steady with a new generation", r.State, r.Generation, gen)
	}
	if res := n1.agent("o2cb", "monitor", "region_quorum=all"); res.Code != 0 {
		t.Errorf("o2cb monitor region_quorum=all after recovery = %d, want 0: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(n1.log(), "heartbeat region restarted after a failure") {
		t.Errorf("node 1's log does not say the region restarted")
	}
	f.observe(t, "device healed with %s: node 2 sees node 1 in the region again after %v (bound %v), new generation %s; monitor all 0",
		retry, back.Round(time.Millisecond), bound.Round(time.Millisecond), r.Generation)
	if took := time.Since(healed); took > bound+loadSlack {
		t.Errorf("region back %v after the heal, want by its next retry (%v)", took, bound)
	}
}

// loadSlack is what the suite allows beyond a bound for a loaded machine.
const loadSlack = 2 * time.Second

// healBound is how long a region the daemon retries may take to come
// back once its device has healed: until its next retry (or, while one
// runs, that one's end and the pause after it), plus a start, which
// ends by MaxStartIterations intervals or the write timeout (at the
// daemon's interval iv and dead threshold thr). It also says what the
// status showed.
func healBound(t *testing.T, r *hbclient.RegionStatus, iv time.Duration, thr int) (time.Duration, string) {
	t.Helper()
	start := time.Duration(max(hbdisk.MaxStartIterations, thr)) * iv
	switch {
	case r.NextRetry != nil:
		return time.Duration(*r.NextRetry*float64(time.Second)) + start,
			fmt.Sprintf("retry %d due in %.2fs", r.Retries+1, *r.NextRetry)
	case r.Retrying:
		return start + retry.Backoff{}.Pause(r.Retries) + start, fmt.Sprintf("retry %d under way", r.Retries)
	case r.RetryBlocked != "":
		return retry.Backoff{}.Pause(r.Retries) + start, fmt.Sprintf("retry %d waiting (%s)", r.Retries+1, r.RetryBlocked)
	}
	t.Fatalf("region %s %s with no retry scheduled (%+v), want the daemon retrying it", r.UUID[:8], r.State, r)
	return 0, ""
}

// poller calls fn every 50 ms until stopped and keeps the slowest call
// and any error.
type poller struct {
	mu      sync.Mutex
	slowest time.Duration
	calls   int
	errs    []string
	stop    chan struct{}
	done    sync.WaitGroup
}

func poll(fn func() error) *poller {
	p := &poller{stop: make(chan struct{})}
	p.done.Go(func() {
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			begin := time.Now()
			err := fn()
			took := time.Since(begin)
			p.mu.Lock()
			p.calls++
			p.slowest = max(p.slowest, took)
			if err != nil && len(p.errs) < 5 {
				p.errs = append(p.errs, err.Error())
			}
			p.mu.Unlock()
		}
	})
	return p
}

func (p *poller) finish() (slowest time.Duration, calls int, errs []string) {
	close(p.stop)
	p.done.Wait()
	return p.slowest, p.calls, p.errs
}

func TestStalledWrite(t *testing.T) {
	f := record(t, "device",
		"every write of one of three global regions blocks (FUSE request never answered) for 30 s, node 1",
		"region failed (threshold-1)*interval after its last write; status and o2cb monitor answer within 1 s throughout; the other regions keep their deadlines; an owner's restart is refused while the write hangs, and the daemon does not retry (status says why); the region comes back at the daemon's next check once the write completes")
	_, n1, n2, bad, good := threeRegions(t, f)

	iters := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, r := range n1.status().Regions {
			m[r.UUID] = r.Iterations
		}
		return m
	}
	statusPoll := poll(func() error {
		_, err := n1.client().Status(t.Context())
		return err
	})
	monitorPoll := poll(func() error {
		if r := n1.agent("o2cb", "monitor"); r.Code != 0 {
			return fmt.Errorf("monitor exit %d: %s", r.Code, testenv.ExitReason(r.Stderr))
		}
		return nil
	})
	before, begin := iters(), time.Now()
	lastWrite := n1.region(bad.UUID).LastWriteAge
	bad.Faulty.Stall(faultdev.Writes, 30*time.Second)
	took := waitState(t, n1, bad.UUID, hbclient.StateFailed, time.Duration(threshold+5)*interval)
	failedAfter := took + time.Duration(lastWrite*float64(time.Second))
	timeout := time.Duration(threshold-1) * interval
	if failedAfter < timeout-interval || failedAfter > timeout+3*interval {
		t.Errorf("region failed %v after its last completed write, want about the write timeout %v", failedAfter, timeout)
	}
	r := n1.region(bad.UUID)
	f.observe(t, "region failed %v after its last completed write (write timeout %v): %s", failedAfter.Round(time.Millisecond), timeout, r.Error)

	// An owner asking the daemon for the region now gets a clear
	// refusal: the failed write has not returned. (ocfs2_hb_ctl itself
	// would first block in its device search, reading the hung device.)
	resp, err := n1.client().Do(t.Context(), hbclient.Request{Op: hbclient.OpStart, UUID: bad.UUID, Owner: hbclient.OwnerGlobal})
	if err == nil || !strings.Contains(err.Error(), "still in flight") {
		t.Errorf("start request on the hung region = %v, %v; want a refusal saying a device call is still in flight", resp, err)
	} else {
		f.observe(t, "the cluster's start request while the write hangs: refused (%v)", err)
	}

	// Keep the write stalled a while longer, still watching the answers.
	time.Sleep(2 * time.Second)
	elapsed := time.Since(begin)
	after := iters()
	slowStatus, nStatus, errStatus := statusPoll.finish()
	slowMonitor, nMonitor, errMonitor := monitorPoll.finish()
	if slowStatus > time.Second || len(errStatus) > 0 {
		t.Errorf("status during the stall: slowest %v, errors %v; want every answer within 1s", slowStatus, errStatus)
	}
	if slowMonitor > time.Second || len(errMonitor) > 0 {
		t.Errorf("o2cb monitor (region_quorum=any) during the stall: slowest %v, errors %v; want exit 0 within 1s", slowMonitor, errMonitor)
	}
	f.observe(t, "during %v of stall: %d status calls, slowest %v; %d monitors, slowest %v, all exit 0",
		elapsed.Round(time.Millisecond), nStatus, slowStatus.Round(time.Millisecond), nMonitor, slowMonitor.Round(time.Millisecond))
	want := uint64(elapsed / interval)
	for _, v := range good {
		got := after[v.UUID] - before[v.UUID]
		if got < want*8/10 {
			t.Errorf("good region %s ran %d iterations in %v, want about %d", v.UUID[:8], got, elapsed, want)
		}
		rs := n1.region(v.UUID)
		if rs.LatenessP99 > float64(interval/time.Millisecond)/2 {
			t.Errorf("good region %s: lateness p99 %.1f ms, want under half the %v interval", v.UUID[:8], rs.LatenessP99, interval)
		}
		if !n2.sees(v.UUID, 1) {
			t.Errorf("node 2 lost node 1 in good region %s during the stall", v.UUID[:8])
		}
		f.observe(t, "good region %s: %d iterations of %d due, lateness p99 %.1f ms, node 2 sees node 1", v.UUID[:8], got, want, rs.LatenessP99)
	}
	if st := n1.region(bad.UUID); st.State != hbclient.StateFailed || !strings.Contains(st.RetryBlocked, "still in flight") || st.Retries != 0 || st.Generation != r.Generation {
		t.Errorf("hung region while its write still hangs: state %s, retry_blocked %q, %d retries, generation %s (was %s); want failed, not retried (a call in flight), same generation",
			st.State, st.RetryBlocked, st.Retries, st.Generation, r.Generation)
	} else {
		f.observe(t, "while the write hangs: failed, not retried, retry_blocked %q", st.RetryBlocked)
	}

	// The write completes: the failed engine's call returns, then the
	// daemon restarts the region (global mode, node still seen
	// elsewhere).
	gen := r.Generation
	bad.Faulty.Heal()
	bound, retry := healBound(t, n1.region(bad.UUID), interval, threshold)
	back := testenv.WaitFor(t, bound+loadSlack, "node 2 sees node 1 in the region again", func() bool { return n2.sees(bad.UUID, 1) })
	waitState(t, n1, bad.UUID, hbclient.StateSteady, 10*interval)
	if r := n1.region(bad.UUID); r.Generation == gen {
		t.Errorf("after the stall: state %s generation %s (was %s), want steady with a new generation", r.State, r.Generation, gen)
	}
	f.observe(t, "stall released with %s: region back, seen by node 2 after %v (bound %v)", retry, back.Round(time.Millisecond), bound.Round(time.Millisecond))
}

func TestAllRegionsFailNoSelfRestart(t *testing.T) {
	f := record(t, "device",
		"EIO on the only global region of node 1 (FUSE file under a loop device), then the device heals",
		"region failed; o2cb monitor 1 with region_quorum=any; the daemon does not restart the region by itself (node 2 has taken node 1 for dead: recovery is the cluster manager's); o2cb start (Pacemaker's recovery) brings it back")
	dir := t.TempDir()
	v := newVolume(t, f, dir, true)
	c := newCluster(t, dir, 2, true, v)
	n1, n2 := c.node(1), c.node(2)
	for _, n := range []*node{n1, n2} {
		if r := n.agent("o2cb", "start"); r.Code != 0 {
			t.Fatalf("%s: o2cb start = %d: %s", n.Name, r.Code, r.Stderr)
		}
	}
	testenv.WaitFor(t, 20*interval, "node 2 sees node 1", func() bool { return n2.sees(v.UUID, 1) })
	v.Faulty.Fail(faultdev.All, syscall.EIO)
	waitState(t, n1, v.UUID, hbclient.StateFailed, time.Duration(threshold+5)*interval)
	res := n1.agent("o2cb", "monitor")
	if res.Code != 1 || !strings.Contains(testenv.ExitReason(res.Stderr), v.UUID[:8]) {
		t.Errorf("o2cb monitor with the only region failed = %d (%q), want 1 naming %s", res.Code, testenv.ExitReason(res.Stderr), v.UUID[:8])
	}
	f.observe(t, "monitor exit %d: %s", res.Code, testenv.ExitReason(res.Stderr))
	testenv.WaitFor(t, time.Duration(threshold+3)*interval, "node 2 takes node 1 for dead", func() bool { return !n2.sees(v.UUID, 1) })
	v.Faulty.Heal()
	time.Sleep(20 * interval)
	if r := n1.region(v.UUID); r.State != hbclient.StateFailed || n2.sees(v.UUID, 1) || r.Retries != 0 || r.RetryBlocked == "" {
		t.Errorf("2 s after the device healed: state %s, node 2 sees node 1: %v, %d retries, retry_blocked %q; want still failed, never retried, saying why",
			r.State, n2.sees(v.UUID, 1), r.Retries, r.RetryBlocked)
	}
	f.observe(t, "device healed: still failed after %v, never retried (%q), node 2 does not see node 1", 20*interval, n1.region(v.UUID).RetryBlocked)
	if r := n1.agent("o2cb", "start"); r.Code != 0 {
		t.Fatalf("o2cb start (recovery) = %d: %s", r.Code, r.Stderr)
	}
	back := testenv.WaitFor(t, 20*interval, "node 2 sees node 1 after o2cb start", func() bool { return n2.sees(v.UUID, 1) })
	if r := n1.agent("o2cb", "monitor"); r.Code != 0 {
		t.Errorf("o2cb monitor after recovery = %d: %s", r.Code, r.Stderr)
	}
	f.observe(t, "o2cb start: region steady, node 2 sees node 1 after %v; monitor 0", back.Round(time.Millisecond))
}

func TestStaleReads(t *testing.T) {
	f := record(t, "device",
		"node 1's path to one of three global regions returns stale data: every read answers the content of the moment the fault began, writes still land",
		"no collision (the block read back is ours, older); node 1 counts its own slot and node 2's as unchanged and drops both from the region after the dead threshold; node 2 still sees node 1 (its writes land); the stale reads are logged once; o2cb monitor any 0 with a warning; all recovers when the device heals")
	_, n1, n2, bad, _ := threeRegions(t, f)
	if err := bad.Faulty.Stale(); err != nil {
		t.Fatal(err)
	}
	took := testenv.WaitFor(t, time.Duration(threshold+5)*interval, "node 1 loses itself and node 2 in the stale region", func() bool {
		r := n1.region(bad.UUID)
		return r != nil && len(r.LiveNodes) == 0
	})
	r := n1.region(bad.UUID)
	if r.State != hbclient.StateSteady || r.StaleReads == 0 {
		t.Errorf("stale region on node 1: state %s, %d stale reads; want steady (writing on) with stale reads counted", r.State, r.StaleReads)
	}
	f.observe(t, "node 1 saw no live node in the region %v after the fault began; state %s, %d stale reads", took.Round(time.Millisecond), r.State, r.StaleReads)
	time.Sleep(5 * interval)
	if !n2.sees(bad.UUID, 1) {
		t.Errorf("node 2 no longer sees node 1 in the region whose writes still land")
	}
	if got := strings.Count(n1.log(), "the device returns stale data"); got != 1 {
		t.Errorf("node 1 logged the stale data %d times, want once", got)
	}
	res := n1.agent("o2cb", "monitor")
	if res.Code != 0 || !strings.Contains(res.Stderr, "WARNING: ") {
		t.Errorf("o2cb monitor (any) = %d, want 0 with a warning: %s", res.Code, res.Stderr)
	}
	f.observe(t, "node 2 still sees node 1; stale data logged once over %d reads; monitor any exit %d with a warning", n1.region(bad.UUID).StaleReads, res.Code)
	bad.Faulty.Heal()
	back := testenv.WaitFor(t, 10*interval, "node 1 sees itself and node 2 again", func() bool {
		r := n1.region(bad.UUID)
		return r != nil && slices.Equal(r.LiveNodes, []int{1, 2})
	})
	if !strings.Contains(n1.log(), "the device returns current data again") {
		t.Errorf("node 1 did not log that the device returns current data again")
	}
	f.observe(t, "device healed: node 1 sees nodes 1 and 2 again after %v", back.Round(time.Millisecond))
}

func TestHungDeviceMonitor(t *testing.T) {
	f := record(t, "device",
		"every read and write of one of two global regions hangs, at the kernel's timing (2 s interval, threshold 31: the region fails only after 60 s)",
		"o2cb monitor answers within 1 s throughout: at depth 0 the region still counts (not failed yet); at depth 10 it is lost once the daemon has not read its own slot back for 3 intervals (warning, exit 0 with region_quorum=any, exit 1 with all); the monitor itself never touches the hung device")
	dir := t.TempDir()
	bad, good := newVolume(t, f, dir, true), newVolume(t, f, dir, false)
	c := newCluster(t, dir, 2, true, bad, good)
	n1 := c.node(1)
	slow := []string{"heartbeat_interval_ms=2000", "dead_threshold=31"}
	if r := n1.agent("o2cb", "start", slow...); r.Code != 0 {
		t.Fatalf("o2cb start = %d: %s", r.Code, r.Stderr)
	}
	bad.Faulty.Stall(faultdev.All, time.Minute)
	stalled := time.Now()
	monitor := func(depth string, extra ...string) result {
		return n1.run1(n1.o2cbRA, append([]string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=o2cb-test", "OCF_CHECK_LEVEL=" + depth,
			"OCF_RESKEY_cluster_conf=" + c.conf, "OCF_RESKEY_node_name=n1", "OCF_RESKEY_run_dir=" + n1.Run,
			"OCF_RESKEY_devices=" + c.devices(1)}, extra...), "agent", "o2cb", "monitor")
	}
	fiveRuns := func(depth, warning string) {
		var slowest time.Duration
		for range 5 {
			res := monitor(depth)
			slowest = max(slowest, res.Took)
			if res.Code != 0 {
				t.Errorf("o2cb monitor depth %s with a hung device = %d, want 0 (region_quorum=any): %s", depth, res.Code, res.Stderr)
			}
			if warning != "" && !(strings.Contains(res.Stderr, "WARNING: ") && strings.Contains(res.Stderr, warning)) {
				t.Errorf("o2cb monitor depth %s did not warn %q:\n%s", depth, warning, res.Stderr)
			}
		}
		if slowest >= time.Second {
			t.Errorf("o2cb monitor depth %s with a hung device: slowest of 5 took %v, want under 1s", depth, slowest)
		}
		f.observe(t, "%v into the hang, monitor depth %s: 5 runs, slowest %v, exit 0", time.Since(stalled).Round(100*time.Millisecond), depth, slowest.Round(time.Millisecond))
	}
	testenv.WaitFor(t, 5*time.Second, "a device call of the hung region in flight", func() bool {
		r := n1.region(bad.UUID)
		return r.State == hbclient.StateSteady && r.IOInFlight > 0
	})
	fiveRuns("0", "")
	testenv.WaitFor(t, 10*time.Second, "the own slot of the hung region unread for 3 intervals", func() bool { return n1.region(bad.UUID).OwnSlotAge > 6 })
	fiveRuns("10", "not read back for")
	fiveRuns("0", "")
	res := monitor("10", "OCF_RESKEY_region_quorum=all")
	if res.Code != 1 || !strings.Contains(testenv.ExitReason(res.Stderr), bad.UUID[:8]) || res.Took >= time.Second {
		t.Errorf("o2cb monitor depth 10, region_quorum=all = %d in %v (%q), want 1 within 1s naming %s", res.Code, res.Took, testenv.ExitReason(res.Stderr), bad.UUID[:8])
	}
	f.observe(t, "monitor depth 10 region_quorum=all: exit %d in %v: %s", res.Code, res.Took.Round(time.Millisecond), testenv.ExitReason(res.Stderr))
	if r := n1.region(bad.UUID); r.State != hbclient.StateSteady {
		t.Errorf("hung region after %v: state %s, want still steady (it fails at the 60s write timeout)", time.Since(stalled), r.State)
	}
}
