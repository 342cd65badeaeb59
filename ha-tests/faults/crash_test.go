package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/atomicfile"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// The crash tests kill the daemon while clients wait for it and check
// what a restart makes of state.json. The rule they assert, for every
// region u and owner o:
//
//	lo(u,o) <= refs after restart (u,o) <= hi(u,o)
//
// where both bounds start at the references held before the calls, each
// call the client saw succeed moves both by its delta (+1 for -S, -1 for
// -K), and each call the client saw fail moves only one bound: a failed
// -S may or may not have taken effect (hi+1), a failed -K likewise
// (lo-1). A reference above hi is a doubled one, below lo a lost one. The
// restarted daemon's `ocfs2_hb_ctl -I` must report, for every region,
// the sum of the owners' references of state.json.

// crashInterval is the heartbeat interval of the nodes these tests kill
// during a start: a new region needs about two intervals to become
// steady, the window in which the daemon dies.
const crashInterval = 500 * time.Millisecond

// clientBound is how long a client may take to return after the daemon
// died.
const clientBound = 5 * time.Second

// refKey is one owner of one region.
type refKey struct{ uuid, owner string }

// stateRefs reads the node's state.json: the references of every owner
// of every region.
func (n *node) stateRefs() (map[refKey]int, error) {
	path := filepath.Join(n.Run, rundir.StateName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st struct {
		Version int `json:"version"`
		Regions []struct {
			UUID   string         `json:"uuid"`
			Device string         `json:"device"`
			Owners map[string]int `json:"owners"`
		} `json:"regions"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", path, err, b)
	}
	refs := map[refKey]int{}
	for _, r := range st.Regions {
		for o, c := range r.Owners {
			refs[refKey{r.UUID, o}] = c
		}
	}
	return refs, nil
}

// call is one ocfs2_hb_ctl -S or -K for a service, run in the background.
type call struct {
	op   string // "-S" or "-K"
	uuid string
	svc  string
	res  result
	end  time.Time
	done chan struct{}
}

func (c *call) key() refKey { return refKey{c.uuid, "service:" + c.svc} }

func (c *call) delta() int {
	if c.op == "-S" {
		return 1
	}
	return -1
}

func (c *call) String() string {
	return fmt.Sprintf("ocfs2_hb_ctl %s -u %s %s", c.op, c.uuid[:8], c.svc)
}

// finished reports whether the call has returned.
func (c *call) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// start runs the call in the background, bounded by a minute.
func (n *node) start(c *call) {
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, n.hbCtl, c.op, "-u", c.uuid, c.svc)
		cmd.Env = n.Env
		var err error
		c.res, err = fixture.Exec(cmd)
		c.end = time.Now()
		if err != nil {
			c.res.Stderr += err.Error()
		}
	}()
}

// infoRefs runs ocfs2_hb_ctl -I -u uuid and returns the references it
// prints.
func (n *node) infoRefs(uuid string) int {
	n.t.Helper()
	r := n.hbctl("-I", "-u", uuid)
	var got string
	var refs int
	if _, err := fmt.Sscanf(r.Stdout, "%s %d refs", &got, &refs); r.Code != 0 || err != nil || got != uuid+":" {
		n.t.Fatalf("ocfs2_hb_ctl -I -u %s = %d %q %q, want 0 and %q", uuid, r.Code, r.Stdout, r.Stderr, uuid+": N refs")
	}
	return refs
}

// crashNode returns node 1 of a local-mode cluster over vols, its daemon
// running with the given heartbeat interval.
func crashNode(t *testing.T, dir string, every time.Duration, vols ...*volume) *node {
	t.Helper()
	c := newCluster(t, dir, 3, false, vols...)
	n := c.node(1)
	n.Env = append(n.Env, "O2CB_HEARTBEAT_INTERVAL_MS="+strconv.Itoa(int(every/time.Millisecond)))
	n.startDaemon()
	return n
}

// mustHbctl runs ocfs2_hb_ctl and fails the test unless it succeeds.
func (n *node) mustHbctl(args ...string) {
	n.t.Helper()
	if r := n.hbctl(args...); r.Code != 0 {
		n.t.Fatalf("ocfs2_hb_ctl %s = %d (%s), want 0", strings.Join(args, " "), r.Code, strings.TrimSpace(r.Stderr))
	}
}

// generations returns the generation of every region the daemon runs.
func (n *node) generations() map[string]string {
	n.t.Helper()
	g := map[string]string{}
	for _, r := range n.status().Regions {
		g[r.UUID] = r.Generation
	}
	return g
}

// afterKill waits for every call, checks each failed one got a clear,
// prompt error naming the daemon's socket, restarts the daemon and
// checks state.json and ocfs2_hb_ctl -I against the rule above, and that
// every resumed region is steady again with a new generation.
func afterKill(t *testing.T, f *fault, n *node, killed time.Time, before map[refKey]int, gens map[string]string, calls []*call) {
	t.Helper()
	sock := filepath.Join(n.Run, rundir.SocketName)
	succeeded, failed, slowest := 0, 0, time.Duration(0)
	for _, c := range calls {
		select {
		case <-c.done:
		case <-time.After(clientBound + time.Until(killed)):
			t.Fatalf("%v: still running %v after the daemon was killed, want an error within %v", c, time.Since(killed), clientBound)
		}
		if c.res.Code == 0 {
			succeeded++
			continue
		}
		failed++
		slowest = max(slowest, c.end.Sub(killed))
		msg := strings.TrimSpace(c.res.Stderr)
		if c.res.Code != 1 || strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "ocfs2_hb_ctl: ") ||
			!strings.Contains(msg, "heartbeat daemon") || !strings.Contains(msg, sock) {
			t.Errorf("%v after the daemon's death = exit %d, %q; want exit 1 and one line naming the heartbeat daemon and %s", c, c.res.Code, msg, sock)
		}
	}
	if failed > 0 {
		kinds := map[string]int{}
		example := ""
		for _, c := range calls {
			msg := strings.TrimSpace(c.res.Stderr)
			switch {
			case c.res.Code == 0:
			case strings.Contains(msg, "hung up without answering"):
				kinds["hung up without answering"]++
				example = msg
			case strings.Contains(msg, "not running"):
				kinds["daemon not running"]++
			default:
				kinds["other"]++
			}
		}
		var why []string
		for _, k := range slices.Sorted(maps.Keys(kinds)) {
			why = append(why, fmt.Sprintf("%d %s", kinds[k], k))
		}
		f.observe(t, "%d of %d calls had succeeded before the kill, %d failed (%s), the last %v after the kill (bound %v), e.g. %q",
			succeeded, len(calls), failed, strings.Join(why, ", "), slowest.Round(time.Millisecond), clientBound, strings.ReplaceAll(example, n.c.dir, "$DIR"))
	} else {
		f.observe(t, "all %d calls had succeeded before the kill", len(calls))
	}

	restart := time.Now()
	n.startDaemon()
	after, err := n.stateRefs()
	if err != nil {
		t.Fatalf("state.json after the restart: %v", err)
	}
	lo, hi := maps.Clone(before), maps.Clone(before)
	for _, c := range calls {
		if c.res.Code == 0 {
			lo[c.key()] += c.delta()
			hi[c.key()] += c.delta()
		} else if c.delta() > 0 {
			hi[c.key()]++
		} else {
			lo[c.key()]--
		}
	}
	keys := slices.Collect(maps.Keys(hi))
	for k := range after {
		if _, ok := hi[k]; !ok {
			keys = append(keys, k)
		}
	}
	applied, checked := 0, 0
	regions := map[string]int{}
	for _, k := range keys {
		got := after[k]
		regions[k.uuid] += got
		checked++
		switch {
		case got > hi[k]:
			t.Errorf("state.json after the restart: %s holds %d references on %s, want at most %d: a doubled reference", k.owner, got, k.uuid, hi[k])
		case got < max(lo[k], 0):
			t.Errorf("state.json after the restart: %s holds %d references on %s, want at least %d: a lost reference", k.owner, got, k.uuid, lo[k])
		case lo[k] != hi[k] && got != before[k]:
			applied++
		}
	}
	for _, v := range n.c.volumes {
		if got := n.infoRefs(v.UUID); got != regions[v.UUID] {
			t.Errorf("ocfs2_hb_ctl -I -u %s = %d refs after the restart, want %d as in state.json", v.UUID, got, regions[v.UUID])
		}
	}
	if !t.Failed() {
		f.dataChecked(fmt.Sprintf("%d owner references of state.json within the bounds of the calls' outcomes (none lost, none doubled), -I agrees", checked))
	}
	var steady time.Duration
	resumed := 0
	for u, refs := range regions {
		if refs == 0 {
			if r := n.region(u); r != nil {
				t.Errorf("region %s runs after the restart (state %s) with no reference in state.json", u, r.State)
			}
			continue
		}
		resumed++
		var r *hbclient.RegionStatus
		testenv.WaitFor(t, 20*crashInterval, "region "+u+" steady after the restart", func() bool {
			r = n.region(u)
			return r != nil && r.State == hbclient.StateSteady
		})
		steady = max(steady, time.Since(restart))
		if r.Generation == "" || r.Generation == gens[u] {
			t.Errorf("region %s resumed with generation %q, want a new one (before the kill: %q)", u, r.Generation, gens[u])
		}
		if !slices.Contains(r.LiveNodes, n.number) {
			t.Errorf("region %s steady after the restart with live nodes %v, want this node %d among them", u, r.LiveNodes, n.number)
		}
	}
	f.observe(t, "restarted: %d in-flight calls had taken effect; %d regions resumed, steady with new generations %v after the restart",
		applied, resumed, steady.Round(time.Millisecond))
}

func TestCrashKillDuringStart(t *testing.T) {
	f := record(t, "crash",
		"SIGKILL of the daemon while `ocfs2_hb_ctl -S -u UUID a` waits for a new region to become steady (interval 500 ms; killed as soon as the reference reaches state.json), beside a steady region with one reference",
		"the client fails within 5 s naming the daemon's socket; after a restart state.json and -I agree and hold the steady region's reference and at most one of the in-flight call's; resumed regions steady with a new generation")
	dir := t.TempDir()
	v1, v2 := newVolume(t, f, dir, false), newVolume(t, f, dir, false)
	n := crashNode(t, dir, crashInterval, v1, v2)
	n.mustHbctl("-S", "-u", v1.UUID, "base")
	before, err := n.stateRefs()
	if err != nil {
		t.Fatal(err)
	}
	gens := n.generations()

	c := &call{op: "-S", uuid: v2.UUID, svc: "a"}
	n.start(c)
	landed := testenv.WaitFor(t, 10*time.Second, "the start's reference in state.json", func() bool {
		refs, _ := n.stateRefs()
		return refs[c.key()] == 1
	})
	r := n.region(v2.UUID)
	if r == nil || r.State == hbclient.StateSteady || c.finished() {
		t.Fatalf("before the kill: region %s = %+v, call finished %v; want a start in flight", v2.UUID, r, c.finished())
	}
	killed := time.Now()
	n.kill(syscall.SIGKILL)
	f.observe(t, "reference in state.json %v after the call began; killed with the region %s", landed.Round(time.Millisecond), r.State)
	afterKill(t, f, n, killed, before, gens, []*call{c})
}

func TestCrashKillDuringStop(t *testing.T) {
	f := record(t, "crash",
		"SIGKILL of the daemon during two `ocfs2_hb_ctl -K` calls: one drops a region's last reference, the other one of two on another region; strace delays the daemon's state.json rename by 10 s so that the kill lands after the first stop is saved and before it is answered, the second waiting for the daemon's lock",
		"both clients fail within 5 s naming the daemon's socket; after a restart each reference is either dropped or kept (none lost, none doubled), state.json and -I agree; the stopped region does not come back, the others resume steady with a new generation")
	testenvRequireStrace(t)
	dir := t.TempDir()
	v1, v2 := newVolume(t, f, dir, false), newVolume(t, f, dir, false)
	n := crashNode(t, dir, interval, v1, v2)
	n.mustHbctl("-S", "-u", v1.UUID, "x")
	n.mustHbctl("-S", "-u", v1.UUID, "y")
	n.mustHbctl("-S", "-u", v2.UUID, "b")
	before, err := n.stateRefs()
	if err != nil {
		t.Fatal(err)
	}
	gens := n.generations()

	release := delayRenames(t, n.pid(), 10*time.Second)
	calls := []*call{{op: "-K", uuid: v2.UUID, svc: "b"}, {op: "-K", uuid: v1.UUID, svc: "x"}}
	for _, c := range calls {
		n.start(c)
	}
	landed := testenv.WaitFor(t, 10*time.Second, "a stop saved in state.json", func() bool {
		refs, _ := n.stateRefs()
		return refs[calls[0].key()] == 0 || refs[calls[1].key()] == 0
	})
	for _, c := range calls {
		if c.finished() {
			t.Fatalf("%v returned before the kill (exit %d, %q), want it in flight", c, c.res.Code, c.res.Stderr)
		}
	}
	killed := time.Now()
	syscall.Kill(n.pid(), syscall.SIGKILL)
	release()
	n.kill(syscall.SIGKILL)
	f.observe(t, "a stop reached state.json %v after the calls began; killed during its delayed rename", landed.Round(time.Millisecond))
	afterKill(t, f, n, killed, before, gens, calls)
}

func TestCrashKillWithTenCalls(t *testing.T) {
	f := record(t, "crash",
		"SIGKILL of the daemon with 10 `ocfs2_hb_ctl` calls on 3 regions (interval 500 ms): 3 -K and one -S on a steady region with 4 references, 2 -S and one -K on a steady region with one, 3 -S on a new region; strace delays each state.json rename by 300 ms so that the calls queue; killed once every call is connected or done and 2 are done",
		"every client returns within 5 s: success, or an error naming the daemon's socket; after a restart state.json and -I agree; each reference is what the successful calls made it, plus at most the effect of each failed call once (none lost, none doubled); resumed regions steady with new generations")
	dir := t.TempDir()
	v1, v2, v3 := newVolume(t, f, dir, false), newVolume(t, f, dir, false), newVolume(t, f, dir, false)
	n := crashNode(t, dir, crashInterval, v1, v2, v3)
	setup := []*call{{op: "-S", uuid: v1.UUID, svc: "k1"}, {op: "-S", uuid: v2.UUID, svc: "m1"}}
	for _, c := range setup {
		n.start(c)
	}
	for _, c := range setup {
		if <-c.done; c.res.Code != 0 {
			t.Fatalf("%v = %d (%s), want 0", c, c.res.Code, c.res.Stderr)
		}
	}
	for _, svc := range []string{"k2", "k3", "k4"} {
		n.mustHbctl("-S", "-u", v1.UUID, svc)
	}
	before, err := n.stateRefs()
	if err != nil {
		t.Fatal(err)
	}
	gens := n.generations()

	calls := []*call{
		{op: "-K", uuid: v1.UUID, svc: "k1"}, {op: "-K", uuid: v1.UUID, svc: "k2"}, {op: "-K", uuid: v1.UUID, svc: "k3"},
		{op: "-S", uuid: v1.UUID, svc: "s1"},
		{op: "-S", uuid: v2.UUID, svc: "s2"}, {op: "-S", uuid: v2.UUID, svc: "s3"}, {op: "-K", uuid: v2.UUID, svc: "m1"},
		{op: "-S", uuid: v3.UUID, svc: "s4"}, {op: "-S", uuid: v3.UUID, svc: "s5"}, {op: "-S", uuid: v3.UUID, svc: "s6"},
	}
	// Each state.json save takes 300 ms: the calls queue behind the
	// daemon's lock, connected and unanswered.
	release := delayRenames(t, n.pid(), 300*time.Millisecond)
	for _, c := range calls {
		n.start(c)
	}
	var finished, connected int
	landed := testenv.WaitFor(t, 20*time.Second, "10 calls connected or done, 2 of them done", func() bool {
		finished = 0
		for _, c := range calls {
			if c.finished() {
				finished++
			}
		}
		connected = n.connections()
		return finished >= 2 && finished+connected >= len(calls)
	})
	killed := time.Now()
	syscall.Kill(n.pid(), syscall.SIGKILL)
	release()
	n.kill(syscall.SIGKILL)
	f.observe(t, "killed %v after the calls began: %d calls done, %d connected and unanswered", landed.Round(time.Millisecond), finished, connected)
	if connected < 3 {
		t.Errorf("%d calls in flight at the kill, want at least 3", connected)
	}
	afterKill(t, f, n, killed, before, gens, calls)
}

// testenvRequireStrace skips without strace, or fails under CI.
func testenvRequireStrace(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strace is missing (run.sh installs it)")
		}
		t.Skip("strace is missing")
	}
}

// delayRenames attaches strace to every thread of pid and makes each
// rename the process makes return only after d: the state.json it saves
// is in place, but the daemon is stuck before it answers, holding its
// lock. The returned function ends strace (which releases the process's
// threads); call it right after killing the process, whose threads
// would otherwise wait for strace's delay to end before they die.
func delayRenames(t *testing.T, pid int, d time.Duration) (release func()) {
	t.Helper()
	set := "rename,renameat,renameat2"
	cmd := exec.Command("strace", "-f", "-p", strconv.Itoa(pid), "-e", "trace="+set,
		"-e", fmt.Sprintf("inject=%s:delay_exit=%d", set, d.Microseconds()), "-o", os.DevNull)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	attached := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var all []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "attached") && !slices.ContainsFunc(all, func(l string) bool { return strings.Contains(l, "attached") }) {
				close(attached)
			}
			all = append(all, sc.Text())
		}
		exited <- fmt.Errorf("%v: %s", cmd.Wait(), strings.Join(all, "; "))
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("strace -p %d still runs 10s after SIGKILL", pid)
			}
		})
	}
	t.Cleanup(release)
	select {
	case <-attached:
	case err := <-exited:
		t.Fatalf("strace -p %d: %v", pid, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("strace -p %d: not attached within 10s", pid)
	}
	return release
}

// connections counts the connections the daemon has accepted on the
// node's socket and not yet closed.
func (n *node) connections() int {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		n.t.Fatal(err)
	}
	sock := filepath.Join(n.Run, rundir.SocketName)
	count := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Num RefCount Protocol Flags Type St Inode Path: St 03 is
		// connected; the listener is unconnected (01).
		if len(f) == 8 && f[7] == sock && f[5] == "03" {
			count++
		}
	}
	return count
}

// daemons returns the pids of the running heartbeat daemons of the node:
// processes of our o2cb-ra binary running `daemon --foreground` (the
// detached daemon; the parent that detaches it is not counted) for the
// node's run directory, by flag or by environment.
func (n *node) daemons() []int {
	n.t.Helper()
	return testenv.FindProcesses(n.t, func(p testenv.Proc) bool {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID)); exe != n.o2cbRA {
			return false
		}
		if len(p.Args) < 2 || p.Args[1] != "daemon" || !slices.Contains(p.Args, "--foreground") {
			return false
		}
		if slices.ContainsFunc(p.Args, func(a string) bool { return strings.HasPrefix(a, "--run-dir=") }) {
			return slices.Contains(p.Args, "--run-dir="+n.Run)
		}
		return slices.Contains(p.Env(), "O2CB_RUN_DIR="+n.Run)
	})
}

func TestCrashTwoO2cbStarts(t *testing.T) {
	f := record(t, "crash",
		"two `o2cb` agent starts at once on one node (global mode, 2 regions), 6 rounds, in every other round with a plain `o2cb-ra daemon` racing them; stop between rounds",
		"after each round exactly one daemon process runs for the node's run directory, the pid file's; both agents exit 0; a racing `o2cb-ra daemon` exits 0 or 1 with \"another heartbeat daemon runs\"; monitor 0; each region owned once by the cluster")
	dir := t.TempDir()
	v1, v2 := newVolume(t, f, dir, false), newVolume(t, f, dir, false)
	c := newCluster(t, dir, 3, true, v1, v2)
	n := c.node(1)
	const rounds = 6
	var slowest time.Duration
	extraWon, extraLost := 0, 0
	for round := range rounds {
		var wg sync.WaitGroup
		res := make([]result, 2)
		for i := range res {
			wg.Go(func() { res[i] = n.agent("o2cb", "start") })
		}
		var extra *result
		if round%2 == 1 {
			wg.Go(func() {
				r := n.run1(n.o2cbRA, nil, "daemon")
				extra = &r
			})
		}
		wg.Wait()
		for i, r := range res {
			slowest = max(slowest, r.Took)
			if r.Code != 0 {
				t.Errorf("round %d: o2cb start %d = %d (%s), want 0", round, i, r.Code, strings.TrimSpace(r.Stderr))
			}
		}
		if extra != nil {
			switch {
			case extra.Code == 0:
				extraWon++
			case extra.Code == 1 && strings.Contains(extra.Stderr, "another heartbeat daemon runs"):
				extraLost++
			default:
				t.Errorf("round %d: o2cb-ra daemon racing the agents = %d (%s), want 0, or 1 and \"another heartbeat daemon runs\"", round, extra.Code, strings.TrimSpace(extra.Stderr))
			}
		}
		pids := n.daemons()
		if len(pids) != 1 || pids[0] != n.pid() {
			t.Fatalf("round %d: daemons of %s = %v, want exactly the pid file's %d", round, n.Run, pids, n.pid())
		}
		if st := n.status(); st.PID != pids[0] {
			t.Errorf("round %d: the daemon answering is pid %d, want %d", round, st.PID, pids[0])
		}
		for _, v := range c.volumes {
			r := n.region(v.UUID)
			if r == nil || len(r.Owners) != 1 || r.Owners[0] != (hbclient.Owner{Name: hbclient.OwnerGlobal, Refs: 1}) {
				t.Errorf("round %d: region %s = %+v, want owned once by the cluster", round, v.UUID, r)
			}
		}
		if r := n.agent("o2cb", "monitor"); r.Code != 0 {
			t.Errorf("round %d: o2cb monitor = %d (%s), want 0", round, r.Code, strings.TrimSpace(r.Stderr))
		}
		if r := n.agent("o2cb", "stop"); r.Code != 0 {
			t.Fatalf("round %d: o2cb stop = %d (%s), want 0", round, r.Code, strings.TrimSpace(r.Stderr))
		}
		if pids := n.daemons(); len(pids) != 0 {
			t.Fatalf("round %d: daemons after o2cb stop = %v, want none", round, pids)
		}
	}
	f.observe(t, "%d rounds: one daemon after each, both starts exit 0 (slowest %v), monitor 0; racing `o2cb-ra daemon` won %d times, refused %d times",
		rounds, slowest.Round(time.Millisecond), extraWon, extraLost)

	// The narrow window, held open: agent A's daemon has the run
	// directory's lock but does not listen yet (strace delays its
	// listen by 1 s) when agent B starts. B's own daemon loses the lock;
	// B must wait for A's daemon to answer, not fail.
	ws := filepath.Join(dir, "window")
	if err := os.Mkdir(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	testenvRequireStrace(t)
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=o2cb-test",
		"OCF_RESKEY_cluster_conf=" + c.conf, "OCF_RESKEY_node_name=" + n.Name,
		"OCF_RESKEY_run_dir=" + n.Run, "OCF_RESKEY_devices=" + c.devices(n.number),
		"OCF_RESKEY_heartbeat_interval_ms=" + strconv.Itoa(int(interval/time.Millisecond)),
		"OCF_RESKEY_dead_threshold=" + strconv.Itoa(threshold)}
	a := exec.Command("strace", "-f", "-qq", "-o", os.DevNull, "-e", "trace=listen", "-e", "inject=listen:delay_enter=1000000", "--",
		"sh", "-c", `"$0" agent o2cb start 2>"$1"; echo $? >"$1.rc"`, n.o2cbRA, filepath.Join(ws, "a.err"))
	a.Env = append(slices.Clone(n.Env), env...)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Process.Kill(); a.Wait() })
	testenv.WaitFor(t, 10*time.Second, "agent A's daemon holding the lock", func() bool { return process.Running(n.pid()) })
	if _, err := n.client().Status(context.Background()); !errors.Is(err, hbclient.ErrNotRunning) {
		t.Fatalf("status while A's daemon waits to listen = %v, want %v", err, hbclient.ErrNotRunning)
	}
	b := n.agent("o2cb", "start")
	// Done when its exit code is written: the shell creates the file
	// before it writes the code to it.
	testenv.WaitFor(t, 20*time.Second, "agent A done", func() bool {
		b, err := os.ReadFile(filepath.Join(ws, "a.err.rc"))
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	a.Process.Kill() // strace: lets go of A's daemon
	a.Wait()
	rcA, _ := os.ReadFile(filepath.Join(ws, "a.err.rc"))
	errA, _ := os.ReadFile(filepath.Join(ws, "a.err"))
	if strings.TrimSpace(string(rcA)) != "0" || b.Code != 0 {
		t.Errorf("o2cb start A (its daemon slow to listen) = %s (%s), B = %d (%s); want both 0",
			strings.TrimSpace(string(rcA)), strings.TrimSpace(string(errA)), b.Code, strings.TrimSpace(b.Stderr))
	}
	pids := n.daemons()
	if len(pids) != 1 || pids[0] != n.pid() {
		t.Fatalf("daemons of %s after the held window = %v, want exactly the pid file's %d", n.Run, pids, n.pid())
	}
	if r := n.agent("o2cb", "monitor"); r.Code != 0 {
		t.Errorf("o2cb monitor after the held window = %d (%s), want 0", r.Code, strings.TrimSpace(r.Stderr))
	}
	f.observe(t, "with A's daemon locked but not listening for 1 s: B exit %d after %v, A exit %s, one daemon (pid %d)",
		b.Code, b.Took.Round(time.Millisecond), strings.TrimSpace(string(rcA)), pids[0])
}

// The power-cut tests run this test binary again as a writer that
// rewrites one file in a loop, with the project's own writers, and kill
// it at random moments.
const writerEnv = "O2CB_FAULTS_WRITER" // "<kind> <path>": kind state or conf, "-once" to write once

func init() {
	spec := os.Getenv(writerEnv)
	if spec == "" {
		return
	}
	kind, path, _ := strings.Cut(spec, " ")
	once := strings.HasSuffix(kind, "-once")
	kind = strings.TrimSuffix(kind, "-once")
	// Continue from the file's content: each write is the next version.
	seq := 0
	if b, err := os.ReadFile(path); err == nil {
		if seq, err = parseVersion(kind, b); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(2)
		}
	}
	for {
		seq++
		if err := writeVersion(kind, path, seq); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(2)
		}
		if once {
			os.Exit(0)
		}
	}
}

// version returns version seq of a file of kind: a state.json of 64
// regions whose owner holds seq references, or a cluster.conf of 3 nodes
// and 16 heartbeat regions whose UUIDs begin with seq. Each is several
// KiB, more than one page: a torn write shows.
func version(kind string, seq int) ([]byte, error) {
	switch kind {
	case "state":
		type region struct {
			UUID   string         `json:"uuid"`
			Device string         `json:"device"`
			Owners map[string]int `json:"owners"`
		}
		st := struct {
			Version int      `json:"version"`
			Regions []region `json:"regions"`
		}{Version: 1}
		for i := range 64 {
			st.Regions = append(st.Regions, region{UUID: fmt.Sprintf("%08X%024X", seq, i),
				Device: fmt.Sprintf("/dev/mapper/volume-%d-%d", seq, i), Owners: map[string]int{"service:writer": seq}})
		}
		b, err := json.MarshalIndent(st, "", "  ")
		return append(b, '\n'), err
	case "conf":
		conf, err := confVersion(seq)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err = conf.Write(&b)
		return b.Bytes(), err
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// confVersion is version seq of cluster.conf.
func confVersion(seq int) (*clusterconf.Config, error) {
	conf := &clusterconf.Config{}
	cl, err := conf.AddCluster("o2cbtest", clusterconf.ModeGlobal)
	if err != nil {
		return nil, err
	}
	for i := range 16 {
		if _, err := cl.AddRegion(fmt.Sprintf("%08X%024X", seq, i), ""); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= 3; i++ {
		if _, err := cl.AddNode(clusterconf.Node{Name: "n" + strconv.Itoa(i), Number: i, Address: netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), Port: 7777}); err != nil {
			return nil, err
		}
	}
	return conf, nil
}

// writeVersion writes version seq with the writer the product uses for
// that file: atomicfile for state.json, clusterconf's WriteFile for
// cluster.conf.
func writeVersion(kind, path string, seq int) error {
	if kind == "conf" {
		conf, err := confVersion(seq)
		if err != nil {
			return err
		}
		return conf.WriteFile(path)
	}
	b, err := version(kind, seq)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

// parseVersion parses a file of kind, as the product reads it, and
// returns its version; the bytes must be exactly that version's.
func parseVersion(kind string, b []byte) (int, error) {
	var first string
	switch kind {
	case "state":
		var st struct {
			Regions []struct{ UUID string } `json:"regions"`
		}
		if err := json.Unmarshal(b, &st); err != nil || len(st.Regions) == 0 {
			return 0, fmt.Errorf("state.json of %d bytes does not parse (%v)", len(b), err)
		}
		first = st.Regions[0].UUID
	case "conf":
		conf, err := clusterconf.Parse("cluster.conf", bytes.NewReader(b))
		if err != nil {
			return 0, fmt.Errorf("cluster.conf of %d bytes does not parse: %v", len(b), err)
		}
		cl, err := conf.Cluster("o2cbtest")
		if err != nil {
			return 0, err
		}
		hb, err := cl.Heartbeat()
		if err != nil || len(hb.Regions) == 0 {
			return 0, fmt.Errorf("cluster.conf of %d bytes has no heartbeat regions (%v)", len(b), err)
		}
		first = hb.Regions[0].UUID
	}
	seq, err := strconv.ParseInt(first[:min(8, len(first))], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: first region %q: %v", kind, first, err)
	}
	want, err := version(kind, int(seq))
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(b, want) {
		return 0, fmt.Errorf("%s parses as version %d but differs from it (%d bytes, want %d)", kind, seq, len(b), len(want))
	}
	return int(seq), nil
}

// temporaries lists the writers' temporary files of name in dir.
func temporaries(t *testing.T, dir, name string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "."+name+".tmp") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

func TestCrashPowerCutWrites(t *testing.T) {
	f := record(t, "crash",
		"a writer (this test binary re-run) rewrites state.json with atomicfile, and cluster.conf with clusterconf's WriteFile, in a loop, each version several KiB; SIGKILLed 200 times per file at a random moment 0-30 ms after it starts",
		"after every kill the file parses and is byte for byte one version, the old one or a newer one, never an older one; a killed writer's temporary file is removed by the next write: never more than 2 at once, none after a clean write")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const kills = 200
	for _, kf := range []struct{ kind, name string }{{"state", rundir.StateName}, {"conf", "cluster.conf"}} {
		dir := t.TempDir()
		path := filepath.Join(dir, kf.name)
		if err := writeVersion(kf.kind, path, 1); err != nil {
			t.Fatal(err)
		}
		old, wrote, maxTmp, leftBehind := 1, 0, 0, 0
		begin := time.Now()
		for i := range kills {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), writerEnv+"="+kf.kind+" "+path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
			cmd.Process.Kill()
			if err := cmd.Wait(); err != nil && !strings.Contains(err.Error(), "killed") {
				t.Fatalf("kill %d: writer %v: %s", i, err, stderr.String())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("kill %d: %v", i, err)
			}
			v, err := parseVersion(kf.kind, b)
			if err != nil {
				t.Fatalf("kill %d: %s after the kill: %v", i, kf.name, err)
			}
			if v < old {
				t.Fatalf("kill %d: %s holds version %d after the kill, older than the %d it held before", i, kf.name, v, old)
			}
			if v > old {
				wrote++
			}
			old = v
			tmp := temporaries(t, dir, kf.name)
			if len(tmp) > 0 {
				leftBehind++
			}
			maxTmp = max(maxTmp, len(tmp))
		}
		took := time.Since(begin)
		if maxTmp > 2 {
			t.Errorf("%s: up to %d temporary files at once after kills, want at most 2 (the last killed writers')", kf.name, maxTmp)
		}
		if err := writeVersion(kf.kind, path, old+1); err != nil {
			t.Fatal(err)
		}
		after := temporaries(t, dir, kf.name)
		if len(after) != 0 {
			t.Errorf("%s: %d temporary files after a clean write (%s...), want none", kf.name, len(after), after[0])
		}
		if wrote == 0 || wrote == kills {
			t.Errorf("%s: %d of %d kills found a newer version, want some kills before and some after a write", kf.name, wrote, kills)
		}
		f.observe(t, "%s: %d kills in %v: file always one whole version (%d kills after a newer one landed, %d before; %d versions written in all); a temporary file left after %d kills, at most %d at once, %d after the next clean write",
			kf.name, kills, took.Round(time.Millisecond), wrote, kills-wrote, old, leftBehind, maxTmp, len(after))
		f.dataChecked(fmt.Sprintf("%s: never torn, never older after %d kills", kf.name, kills))
	}
}

// syscall is one system call of an strace -f -y log.
type sysCall struct {
	name, args, ret string
	start, end      int // line numbers: where it began and where it returned
}

// straceRet splits a call's text into its arguments and its result
// (strace pads before the "=" to align results).
var straceRet = regexp.MustCompile(`^(.*)\)\s+=\s+(\S.*)$`)

// parseStrace reads an strace -f -o log, joining unfinished and resumed
// calls.
func parseStrace(log string) []*sysCall {
	var calls []*sysCall
	pending := map[string]*sysCall{}
	for i, line := range strings.Split(log, "\n") {
		pid, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(rest, "<... "):
			c := pending[pid]
			if c == nil {
				continue
			}
			delete(pending, pid)
			_, tail, _ := strings.Cut(rest, "resumed>")
			c.args += tail
			c.end = i
			if m := straceRet.FindStringSubmatch(c.args); m != nil {
				c.args, c.ret = m[1], m[2]
			}
		case strings.HasSuffix(rest, "<unfinished ...>"):
			name, args, _ := strings.Cut(strings.TrimSuffix(rest, "<unfinished ...>"), "(")
			c := &sysCall{name: name, args: strings.TrimSpace(args), start: i, end: -1}
			pending[pid] = c
			calls = append(calls, c)
		default:
			name, args, ok := strings.Cut(rest, "(")
			if !ok || strings.HasPrefix(rest, "+++") || strings.HasPrefix(rest, "---") {
				continue
			}
			c := &sysCall{name: name, args: args, start: i, end: i}
			if m := straceRet.FindStringSubmatch(args); m != nil {
				c.args, c.ret = m[1], m[2]
			}
			calls = append(calls, c)
		}
	}
	return calls
}

// onFD reports whether the call's first argument is a descriptor of path
// (strace -y prints "3</path>").
func (c *sysCall) onFD(path string) bool {
	_, rest, ok := strings.Cut(c.args, "<")
	return ok && strings.HasPrefix(rest, path+">")
}

// checkAtomicOrder checks every replacement of dir/name in the log: the
// temporary file written and fsynced, then renamed over the file, then
// the directory fsynced, each call returning before the next begins; and
// the file itself never opened for writing. It returns the sequence of
// the first replacement, how many it checked and what was wrong.
func checkAtomicOrder(log, dir, name string) (seq string, n int, problems []string) {
	errorf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	calls := parseStrace(log)
	target := filepath.Join(dir, name)
	for _, c := range calls {
		if c.name == "openat" && strings.Contains(c.args, `"`+target+`"`) && strings.Contains(c.args, "O_WRONLY") ||
			c.name == "openat" && strings.Contains(c.args, `"`+target+`"`) && strings.Contains(c.args, "O_RDWR") {
			errorf("%s opened for writing in place: %s(%s)", target, c.name, c.args)
		}
	}
	for i, r := range calls {
		if !strings.HasPrefix(r.name, "rename") || !strings.Contains(r.args, `"`+target+`"`) {
			continue
		}
		n++
		q := strings.Split(r.args, `"`)
		if len(q) < 2 || !strings.HasPrefix(q[1], filepath.Join(dir, "."+name+".tmp")) || r.ret != "0" {
			errorf("%s(%s) = %s: want a rename of a temporary file .%s.tmp* of %s that succeeds", r.name, r.args, r.ret, name, dir)
			continue
		}
		tmp := q[1]
		var write, sync *sysCall
		for _, c := range calls[:i] {
			switch {
			case c.name == "write" && c.onFD(tmp) && c.end >= 0:
				write = c
			case (c.name == "fsync" || c.name == "fdatasync") && c.onFD(tmp) && c.ret == "0" && write != nil && c.start > write.end:
				sync = c
			}
		}
		var dsync *sysCall
		for _, c := range calls[i+1:] {
			if c.name == "fsync" && c.onFD(dir) && c.start > r.end {
				dsync = c
				break
			}
		}
		switch {
		case write == nil:
			errorf("rename of %s: no write to it before", tmp)
		case sync == nil || sync.end > r.start:
			errorf("rename of %s: no fsync of it between its last write (line %d) and the rename (line %d)", tmp, write.end, r.start)
		case dsync == nil:
			errorf("rename of %s over %s (line %d): no fsync of %s after it", tmp, target, r.end, dir)
		case dsync.ret != "0":
			errorf("fsync of %s after the rename = %s, want 0", dir, dsync.ret)
		}
		if seq == "" && write != nil && sync != nil && dsync != nil {
			seq = fmt.Sprintf("write(%s, %s B) → %s(%s) → %s(→ %s) → fsync(%s)",
				filepath.Base(tmp), write.ret, sync.name, filepath.Base(tmp), r.name, name, filepath.Base(dir))
		}
	}
	if n == 0 {
		errorf("no rename over %s in the trace", target)
	}
	return seq, n, problems
}

// straceArgs traces what makes a write last.
var straceArgs = []string{"-f", "-qq", "-y", "-e", "trace=openat,write,fsync,fdatasync,rename,renameat,renameat2,close"}

func TestCrashAtomicWriteOrder(t *testing.T) {
	f := record(t, "crash",
		"strace -f -y of a cluster.conf write (clusterconf's WriteFile, in this test binary re-run) and of a real daemon's state.json saves during `ocfs2_hb_ctl -S` and `-K`",
		"each replacement: the temporary file written, fsynced, renamed over the file, then the directory fsynced, each call done before the next; the file never opened for writing in place")
	testenvRequireStrace(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	confDir := filepath.Join(dir, "etc")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(confDir, "cluster.conf")
	if err := writeVersion("conf", path, 1); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, "conf.strace")
	cmd := exec.Command("strace", append(slices.Clone(straceArgs), "-o", trace, self)...)
	cmd.Env = append(os.Environ(), writerEnv+"=conf-once "+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace of a cluster.conf write: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, must(version("conf", 2))) {
		t.Fatalf("cluster.conf after the traced write is not version 2")
	}
	log, _ := os.ReadFile(trace)
	seq, n, problems := checkAtomicOrder(string(log), confDir, "cluster.conf")
	for _, p := range problems {
		t.Error("cluster.conf: " + p)
	}
	f.observe(t, "cluster.conf: %d replacement traced: %s", n, seq)
	// The check itself: the same trace without its fsyncs must fail it.
	var mutated []string
	for _, line := range strings.Split(string(log), "\n") {
		if !strings.Contains(line, "fsync(") {
			mutated = append(mutated, line)
		}
	}
	if _, _, p := checkAtomicOrder(strings.Join(mutated, "\n"), confDir, "cluster.conf"); len(p) == 0 {
		t.Errorf("checkAtomicOrder(the trace without fsyncs) found nothing wrong")
	}

	v := newVolume(t, f, dir, false)
	nd := crashNode(t, dir, interval, v)
	trace = filepath.Join(dir, "state.strace")
	// Without -qq strace says when it has attached.
	st := exec.Command("strace", append(slices.DeleteFunc(slices.Clone(straceArgs), func(a string) bool { return a == "-qq" }),
		"-o", trace, "-p", strconv.Itoa(nd.pid()))...)
	stderr, err := st.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Process.Kill(); st.Wait() })
	attached := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "attached") {
				select {
				case attached <- true:
				default:
				}
			}
		}
		attached <- false
	}()
	if !<-attached {
		t.Fatalf("strace -p %d did not attach", nd.pid())
	}
	nd.mustHbctl("-S", "-u", v.UUID, "traced")
	nd.mustHbctl("-K", "-u", v.UUID, "traced")
	st.Process.Kill()
	st.Wait()
	log, _ = os.ReadFile(trace)
	seq, n, problems = checkAtomicOrder(string(log), nd.Run, rundir.StateName)
	for _, p := range problems {
		t.Error("state.json: " + p)
	}
	if n < 2 {
		t.Errorf("%d state.json replacements traced for a start and a stop, want at least 2", n)
	}
	f.observe(t, "state.json: %d replacements by the daemon traced, each in order: %s", n, seq)
	f.observe(t, "a failing directory fsync (after the rename) is returned as an error by atomicfile (it was ignored): the file holds the new content but may not survive a power cut; the daemon logs it, clusterconf's WriteFile returns it")
	if !t.Failed() {
		f.dataChecked("state.json and cluster.conf replaced only by fsynced temporary files, directory fsynced after")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
