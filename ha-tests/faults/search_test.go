package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// probeChildren returns the pids of the device-probing children (see
// internal/ocfs2) still reading dev that were started with the node's run
// directory in their environment: the ones this test's commands left.
func probeChildren(t *testing.T, n *node, dev string) []int {
	t.Helper()
	return testenv.FindProcesses(t, func(p testenv.Proc) bool {
		return len(p.Args) >= 3 && p.Args[0] == "ocfs2-probe" && slices.Contains(p.Args, dev) &&
			slices.Contains(p.Env(), "O2CB_RUN_DIR="+n.Run)
	})
}

// procState returns the state letter of pid (R, S, D, Z, ...), "" if it
// is gone; D if any of its threads is in D (the read may wait on any).
func procState(pid int) string {
	state := func(stat string) string {
		b, err := os.ReadFile(stat)
		if err != nil {
			return ""
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) == 0 {
			return ""
		}
		return f[0]
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	tasks, _ := filepath.Glob(filepath.Join(dir, "task", "*", "stat"))
	for _, task := range tasks {
		if state(task) == "D" {
			return "D"
		}
	}
	return state(filepath.Join(dir, "stat"))
}

func TestSearchHungDevice(t *testing.T) {
	f := record(t, "device",
		"every read of one device of the searched list (a FUSE file under a loop device, not a region) blocks; the list ($O2CB_HB_DEVICES, the agents' devices) names it first, then a healthy image holding the global region; the daemon runs",
		"each within 1 s: `ocfs2_hb_ctl -S -u` succeeds with a warning naming the hung device; `-L` lists the healthy volume and fails naming the hung device; `-L -d HUNG` fails naming it; validate-all at depth 10 of o2cb and hbregion exit 0, hbregion's for the hung device's own UUID fails naming it with OCF_ERR_GENERIC (the device's trouble on this node, not a configuration error); the probing children left behind on the hung device end once it heals")
	dir := t.TempDir()
	good := newVolume(t, f, dir, false)
	bad := newVolume(t, f, dir, true)
	c := newCluster(t, dir, 1, true, good)
	n := c.node(1)
	devices := bad.Device + ":" + good.Image
	t.Cleanup(bad.Faulty.Heal) // before the daemon is stopped
	if r := n.agent("o2cb", "start", "devices="+devices); r.Code != 0 {
		t.Fatalf("o2cb start = %d, want 0: %s", r.Code, r.Stderr)
	}
	waitState(t, n, good.UUID, hbclient.StateSteady, 20*interval)

	env := []string{"O2CB_HB_DEVICES=" + devices}
	depth10 := []string{"OCF_CHECK_LEVEL=10"}
	// The same calls while the device is healthy, for their cost (each
	// includes starting the program), and nothing may be left behind.
	var healthy []string
	for _, c := range []struct {
		what string
		bin  string
		env  []string
		args []string
	}{
		{"-S -u", n.hbCtl, env, []string{"-S", "-u", good.UUID, "mnt"}},
		{"-L", n.hbCtl, env, []string{"-L"}},
		{"-L -d", n.hbCtl, env, []string{"-L", "-d", bad.Device}},
		{"o2cb validate-all depth 10", n.o2cbRA, agentEnv(n, "o2cb", depth10, "devices="+devices), []string{"agent", "o2cb", "validate-all"}},
		{"hbregion validate-all depth 10", n.o2cbRA, agentEnv(n, "hbregion", depth10, "devices="+devices, "uuid="+good.UUID), []string{"agent", "hbregion", "validate-all"}},
	} {
		testenv.Run(t, "blockdev", "--flushbufs", bad.Device)
		r := n.run1(c.bin, c.env, c.args...)
		if r.Code != 0 {
			t.Errorf("%s with the device healthy: exit %d, want 0: %s", c.what, r.Code, r.Stderr)
		}
		healthy = append(healthy, fmt.Sprintf("%s %v", c.what, r.Took.Round(time.Millisecond)))
	}
	if pids := probeChildren(t, n, bad.Device); len(pids) != 0 {
		t.Errorf("probing children left on %s while it is healthy: %v, want none", bad.Device, pids)
	}
	f.observe(t, "device healthy (page cache flushed before each): %s", strings.Join(healthy, ", "))

	bad.Faulty.Stall(faultdev.Reads, time.Minute)
	// Nothing of the device may stay in the page cache: every read must
	// reach the stalled file.
	testenv.Run(t, "blockdev", "--flushbufs", bad.Device)

	const bound = time.Second
	check := func(what string, r result, code int, stdout, stderr []string) {
		t.Helper()
		ok := r.Code == code && r.Took <= bound
		for _, s := range stdout {
			ok = ok && strings.Contains(r.Stdout, s)
		}
		for _, s := range stderr {
			ok = ok && strings.Contains(r.Stderr, s)
		}
		if !ok {
			t.Errorf("%s: exit %d in %v, stdout %q, stderr %q; want exit %d within %v, stdout with %q, stderr with %q",
				what, r.Code, r.Took, r.Stdout, r.Stderr, code, bound, stdout, stderr)
		}
		msg := strings.TrimSpace(testenv.ExitReason(r.Stderr))
		if msg == "" {
			msg = strings.TrimSpace(r.Stderr)
		}
		f.observe(t, "%s: exit %d in %v: %s", what, r.Code, r.Took.Round(time.Millisecond), strings.ReplaceAll(msg, dir, "$TMP"))
	}
	hung := []string{bad.Device, "did not answer"}
	check("ocfs2_hb_ctl -S -u (service mnt)", n.run1(n.hbCtl, env, "-S", "-u", good.UUID, "mnt"), 0, nil, append([]string{"warning"}, hung...))
	check("ocfs2_hb_ctl -L", n.run1(n.hbCtl, env, "-L"), 1, []string{good.UUID + ":" + good.Image}, hung)
	check("ocfs2_hb_ctl -L -d HUNG", n.run1(n.hbCtl, env, "-L", "-d", bad.Device), 1, nil, hung)
	check("o2cb validate-all depth 10", n.run1(n.o2cbRA, agentEnv(n, "o2cb", depth10, "devices="+devices), "agent", "o2cb", "validate-all"), 0, nil, nil)
	check("hbregion validate-all depth 10", n.run1(n.o2cbRA, agentEnv(n, "hbregion", depth10, "devices="+devices, "uuid="+good.UUID), "agent", "hbregion", "validate-all"), 0, nil, nil)
	check("hbregion validate-all depth 10, the hung device's UUID", n.run1(n.o2cbRA, agentEnv(n, "hbregion", depth10, "devices="+devices, "uuid="+bad.UUID), "agent", "hbregion", "validate-all"), 1, nil, hung)

	// What was left behind: one child per call, waiting in the kernel
	// on the stalled read.
	pids := probeChildren(t, n, bad.Device)
	var states []string
	for _, pid := range pids {
		states = append(states, procState(pid))
	}
	if len(pids) != 6 || !strings.Contains(strings.Join(states, ""), "D") {
		t.Errorf("probing children on %s: pids %v, states %v; want 6 (one per call), waiting on the device (D)", bad.Device, pids, states)
	}
	if st := bad.Faulty.Counts(); st.Stalled == 0 {
		t.Errorf("the faulty device has no stalled read: %+v", st)
	}
	f.observe(t, "left behind: %d probing children (states %s), %d reads stalled", len(pids), strings.Join(states, ""), bad.Faulty.Counts().Stalled)

	bad.Faulty.Heal()
	took := testenv.WaitFor(t, 10*time.Second, "the probing children end", func() bool {
		for _, pid := range pids {
			if s := procState(pid); s != "" && s != "Z" {
				return false
			}
		}
		return true
	})
	f.observe(t, "device healed: all %d children ended within %v", len(pids), took.Round(time.Millisecond))
}

// agentEnv is the environment of an agent action as node.agent makes it,
// with extra variables and parameters.
func agentEnv(n *node, agent string, extra []string, params ...string) []string {
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=" + agent + "-test",
		"OCF_RESKEY_cluster_conf=" + n.c.conf, "OCF_RESKEY_node_name=" + n.Name,
		"OCF_RESKEY_run_dir=" + n.Run}
	if agent == "o2cb" {
		env = append(env, "OCF_RESKEY_heartbeat_interval_ms="+strconv.Itoa(int(interval/time.Millisecond)),
			"OCF_RESKEY_dead_threshold="+strconv.Itoa(threshold))
	}
	env = append(env, extra...)
	for _, p := range params {
		env = append(env, "OCF_RESKEY_"+p)
	}
	return env
}
