package o2cb_test

import (
	"os"
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
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

var (
	linkOnce sync.Once
	linkErr  error
)

// bin returns the directory of the o2cb-ra and ocfs2_hb_ctl built for the
// tests (world-readable), with the agent links as make install lays them
// out.
func bin(t *testing.T) string {
	t.Helper()
	o2cbRA, _ := testenv.Binaries(t)
	dir := filepath.Dir(o2cbRA)
	linkOnce.Do(func() {
		for _, a := range []string{"o2cb", "hbregion"} {
			if err := os.Symlink("o2cb-ra", filepath.Join(dir, a)); err != nil {
				linkErr = err
			}
		}
	})
	if linkErr != nil {
		t.Fatal(linkErr)
	}
	return dir
}

func TestMain(m *testing.M) { testenv.Main(m) }

// site is a file-backed o2cb setup: images, cluster.conf and a run dir,
// in a directory others may read (ocf-tester runs meta-data as nobody).
type site struct {
	t      *testing.T
	dir    string
	conf   string
	run    string
	uuids  []string
	images []string
}

func newSite(t *testing.T, mode string, images int, globalRegions int) *site {
	t.Helper()
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "o2cb-site")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s := &site{t: t, dir: dir, run: filepath.Join(dir, "run")}
	for range images {
		img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40, Dir: dir})
		sb, err := ocfs2.Probe(img)
		if err != nil {
			t.Fatal(err)
		}
		s.images, s.uuids = append(s.images, img), append(s.uuids, sb.UUID)
	}
	s.conf = s.writeConf(mode, s.uuids[:globalRegions]...)
	t.Cleanup(func() {
		s.agent("o2cb", "stop", nil) // stops the daemon if a test left it running
		if pid := s.daemonPID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		os.RemoveAll(dir)
	})
	return s
}

func (s *site) writeConf(mode string, regions ...string) string {
	return clustertest.Write(s.t, filepath.Join(s.dir, "cluster.conf"),
		clustertest.Cluster{Name: "test", Global: mode == "global", Nodes: 2, Regions: regions})
}

func (s *site) daemonPID() int { return testenv.ReadPID(filepath.Join(s.run, rundir.PIDName)) }

// params are the agent parameters of this site.
func (s *site) params() map[string]string {
	return map[string]string{
		"cluster_conf": s.conf, "node_name": "n1", "run_dir": s.run,
		"devices": s.dir + "/*.img", "heartbeat_interval_ms": "100", "dead_threshold": "5",
	}
}

// agent runs an agent action with the site's parameters changed by mod
// (an empty value removes a parameter) and returns its exit code and
// stderr.
func (s *site) agent(name, action string, mod map[string]string, env ...string) (int, string) {
	p := s.params()
	for k, v := range mod {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	if name == "hbregion" {
		delete(p, "heartbeat_interval_ms")
		delete(p, "dead_threshold")
	}
	cmd := exec.Command(filepath.Join(bin(s.t), name), action)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=" + name + "-test"}, env...)
	for k, v := range p {
		cmd.Env = append(cmd.Env, "OCF_RESKEY_"+k+"="+v)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s %s: %v", name, action, err)
	}
	return code, errOut.String()
}

// must runs an action that must exit with want.
func (s *site) must(want int, name, action string, mod map[string]string, env ...string) string {
	s.t.Helper()
	code, errOut := s.agent(name, action, mod, env...)
	if code != want {
		s.t.Fatalf("%s %s %v: exit %d, want %d\n%s", name, action, mod, code, want, errOut)
	}
	return errOut
}

// hbctl runs ocfs2_hb_ctl as the cluster (O2CB_HEARTBEAT_OWNER=global) or
// as a consumer.
func (s *site) hbctl(global bool, args ...string) {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(bin(s.t), "ocfs2_hb_ctl"), args...)
	cmd.Env = append(os.Environ(), "O2CB_RUN_DIR="+s.run, "O2CB_HB_DEVICES="+s.dir+"/*.img")
	if global {
		cmd.Env = append(cmd.Env, "O2CB_HEARTBEAT_OWNER=global")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("ocfs2_hb_ctl %v: %v\n%s", args, err, out)
	}
}

// TestExitCodes is the row of the exit-code table that needs devices:
// validate-all at depth 10 resolves every region's device. The
// parameter and cluster.conf rows run in-process, without root, in
// TestExitCodesInProcess (exitcodes_test.go, and hbregion's).
func TestExitCodes(t *testing.T) {
	s := newSite(t, "local", 1, 0)
	s.conf = s.writeConf("global", "00112233445566778899AABBCCDDEEFF")
	s.must(0, "o2cb", "validate-all", nil)
	s.must(6, "o2cb", "validate-all", nil, "OCF_CHECK_LEVEL=10")
}

func TestNotRootIsErrPerm(t *testing.T) {
	s := newSite(t, "local", 1, 0)
	for _, a := range []string{"o2cb", "hbregion"} {
		p := s.params()
		p["uuid"] = s.uuids[0]
		cmd := exec.Command(filepath.Join(bin(t), a), "start")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		for k, v := range p {
			cmd.Env = append(cmd.Env, "OCF_RESKEY_"+k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(string(out), "needs root") {
			t.Errorf("%s start as nobody: %v, want exit 4\n%s", a, err, out)
		}
	}
}

func TestGlobalQuorum(t *testing.T) {
	s := newSite(t, "global", 3, 3)
	s.must(0, "o2cb", "start", nil)
	for _, q := range []string{"any", "majority", "all"} {
		s.must(0, "o2cb", "monitor", map[string]string{"region_quorum": q})
	}
	s.must(0, "o2cb", "monitor", nil, "OCF_CHECK_LEVEL=10")
	// A Pacemaker region resource may not take a region the cluster runs.
	errOut := s.must(6, "hbregion", "start", map[string]string{"uuid": s.uuids[0]})
	if !strings.Contains(errOut, "manage_regions=false") {
		t.Errorf("hbregion on a global region: %s", errOut)
	}
	s.hbctl(true, "-K", "-u", s.uuids[1]) // lose one region of three
	for q, want := range map[string]int{"any": 0, "majority": 0, "all": 1} {
		errOut := s.must(want, "o2cb", "monitor", map[string]string{"region_quorum": q})
		if want == 1 && !strings.Contains(errOut, "1 of 3 heartbeat regions lost (region_quorum=all): "+s.uuids[1][:8]+": not running") {
			t.Errorf("monitor with all: exit reason does not name the lost region: %s", errOut)
		}
	}
	s.hbctl(true, "-K", "-u", s.uuids[0])
	s.hbctl(true, "-K", "-u", s.uuids[2]) // all lost
	for _, q := range []string{"any", "majority", "all"} {
		s.must(1, "o2cb", "monitor", map[string]string{"region_quorum": q})
	}
	s.must(0, "o2cb", "stop", nil)
	s.must(7, "o2cb", "monitor", nil)
	if pid := s.daemonPID(); pid > 0 && process.Running(pid) {
		t.Errorf("daemon %d still runs after stop", pid)
	}
	s.must(0, "o2cb", "stop", nil) // idempotent
}

func TestStartStopGlobalAndReload(t *testing.T) {
	s := newSite(t, "global", 3, 2)
	s.must(0, "o2cb", "start", nil)
	s.must(0, "o2cb", "start", nil) // idempotent
	status := func() string {
		out, _ := exec.Command(filepath.Join(bin(t), "o2cb-ra"), "status", "--run-dir", s.run).CombinedOutput()
		return string(out)
	}
	st := status()
	if !strings.Contains(st, s.uuids[0]) || !strings.Contains(st, s.uuids[1]) || strings.Contains(st, s.uuids[2]) {
		t.Fatalf("after start: %s", st)
	}
	// cluster.conf now names regions 1 and 2: reload swaps region 0 for 2.
	s.writeConf("global", s.uuids[1], s.uuids[2])
	s.must(0, "o2cb", "reload", nil)
	st = status()
	if strings.Contains(st, s.uuids[0]) || !strings.Contains(st, s.uuids[1]) || !strings.Contains(st, s.uuids[2]) {
		t.Fatalf("after reload: %s", st)
	}
	s.must(0, "o2cb", "stop", nil)
	s.must(7, "o2cb", "monitor", nil)
}

func TestStopRefusedWhileConsumersHoldRegions(t *testing.T) {
	s := newSite(t, "local", 1, 0)
	s.must(0, "o2cb", "start", nil)
	s.hbctl(false, "-S", "-u", s.uuids[0], "/mnt/data")
	errOut := s.must(1, "o2cb", "stop", nil)
	if !strings.Contains(errOut, "service:/mnt/data") {
		t.Errorf("stop with a consumer: %s", errOut)
	}
	s.must(0, "o2cb", "monitor", nil)
	s.hbctl(false, "-K", "-u", s.uuids[0], "/mnt/data")
	s.must(0, "o2cb", "stop", nil)
}

// ocfTester runs resource-agents' ocf-tester on an agent.
func ocfTester(t *testing.T, s *site, agent string, params map[string]string) {
	t.Helper()
	testenv.RequireCommand(t, "ocf-tester")
	args := []string{"-n", agent + "-tester"}
	for k, v := range params {
		args = append(args, "-o", k+"="+v)
	}
	args = append(args, filepath.Join(bin(t), agent))
	out, err := exec.Command("ocf-tester", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester %s: %v\n%s", agent, err, out)
	}
}

func TestOCFTester(t *testing.T) {
	t.Run("o2cb local", func(t *testing.T) {
		s := newSite(t, "local", 1, 0)
		ocfTester(t, s, "o2cb", s.params())
	})
	t.Run("o2cb global", func(t *testing.T) {
		s := newSite(t, "global", 2, 2)
		ocfTester(t, s, "o2cb", s.params())
	})
	t.Run("hbregion", func(t *testing.T) {
		s := newSite(t, "local", 1, 0)
		s.must(0, "o2cb", "start", nil)
		p := s.params()
		delete(p, "heartbeat_interval_ms")
		delete(p, "dead_threshold")
		p["uuid"] = strings.ToLower(s.uuids[0])
		ocfTester(t, s, "hbregion", p)
		s.must(0, "o2cb", "stop", nil)
	})
}

// Pacemaker keeps the first 128 characters of an exit reason: the cause
// of a failed start must be among them.
func TestStartFailureReasonIsShort(t *testing.T) {
	s := newSite(t, "global", 1, 0)
	missing := "00112233445566778899AABBCCDDEEFF"
	s.conf = s.writeConf("global", missing)
	errOut := s.must(1, "o2cb", "start", nil)
	reason := testenv.ExitReason(errOut)
	head := reason[:min(128, len(reason))]
	if !strings.HasPrefix(head, "0 of 1 heartbeat regions started (region_quorum=any): 00112233: ") ||
		!strings.Contains(head, "no OCFS2 volume") || strings.Count(reason, missing) > 0 {
		t.Fatalf("exit reason %q: want the short region name and its cause first", reason)
	}
	t.Logf("exit reason: %s", reason)
	s.must(0, "o2cb", "stop", nil)
}

// status returns the daemon's status, or nil when none answers.
func (s *site) status() *hbclient.Status {
	st, err := hbclient.NewClient(s.run).Status(s.t.Context())
	if err != nil {
		return nil
	}
	return st
}

// TestStopAndMonitorFromWhatRuns: a broken, missing or changed
// cluster.conf never makes a stop fail nor a monitor lie about a daemon
// that heartbeats.
func TestStopAndMonitorFromWhatRuns(t *testing.T) {
	s := newSite(t, "global", 2, 2)
	good, _ := os.ReadFile(s.conf)
	for _, tc := range []struct {
		name   string
		break_ func()
		reason string // of the monitor that fails
	}{
		{"syntax error", func() { os.WriteFile(s.conf, append(good, []byte("node\n")...), 0o644) }, s.conf + ":"},
		{"deleted", func() { os.Remove(s.conf) }, s.conf},
		{"this node removed", func() {
			clustertest.Write(t, s.conf, clustertest.Cluster{Name: "test", Global: true, Nodes: 2, NamePrefix: "other", Regions: s.uuids})
		}, "n1"},
		{"a region removed", func() { s.writeConf("global", s.uuids[0]) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(s.conf, good, 0o644)
			s.must(0, "o2cb", "start", nil)
			pid := s.daemonPID()
			tc.break_()
			if tc.reason != "" {
				errOut := s.must(1, "o2cb", "monitor", nil)
				if r := testenv.ExitReason(errOut); !strings.Contains(r, tc.reason) {
					t.Errorf("monitor with cluster.conf %s: exit reason %q, want it to name %s", tc.name, r, tc.reason)
				}
			} else {
				s.must(0, "o2cb", "monitor", nil)
			}
			s.must(0, "o2cb", "stop", nil)
			if process.Running(pid) {
				t.Errorf("daemon %d still runs after the stop with cluster.conf %s", pid, tc.name)
			}
			s.must(7, "o2cb", "monitor", nil)
			s.must(0, "o2cb", "stop", nil)
		})
	}
	os.WriteFile(s.conf, good, 0o644)
}

// TestHbregionBringsBackADeadDaemon: when the daemon dies, the hbregion
// resource may be recovered before the o2cb clone; its start brings the
// daemon back as the o2cb resource launched it, with the regions of the
// state file. After a clean o2cb stop it does not.
func TestHbregionBringsBackADeadDaemon(t *testing.T) {
	s := newSite(t, "local", 2, 0)
	region := map[string]string{"uuid": s.uuids[0]}
	s.must(0, "o2cb", "start", nil)
	s.must(0, "hbregion", "start", region)
	s.must(0, "hbregion", "monitor", region, "OCF_CHECK_LEVEL=10")
	s.hbctl(false, "-S", "-u", s.uuids[1], "/mnt/other")
	before := s.status()
	pid := s.daemonPID()
	syscall.Kill(pid, syscall.SIGKILL)
	// Gone with its last thread, which holds the socket and the lock: a
	// monitor that a dying daemon hangs up on fails (exit 1) instead.
	testenv.WaitFor(t, 5*time.Second, "the daemon gone", func() bool { return hbclient.Gone(s.run, pid) })
	s.must(7, "hbregion", "monitor", region)
	s.must(7, "o2cb", "monitor", nil)
	s.must(0, "hbregion", "stop", region)
	s.must(0, "hbregion", "start", region)
	after := s.status()
	if after == nil || after.PID == pid {
		t.Fatalf("after hbregion start: status %+v, want a new daemon (the old was %d)", after, pid)
	}
	if after.IntervalMS != before.IntervalMS || after.DeadThreshold != before.DeadThreshold || after.Node != before.Node {
		t.Errorf("relaunched daemon: interval %d ms, threshold %d, node %+v; want the o2cb resource's %d, %d, %+v",
			after.IntervalMS, after.DeadThreshold, after.Node, before.IntervalMS, before.DeadThreshold, before.Node)
	}
	for _, u := range s.uuids {
		if !slices.ContainsFunc(after.Regions, func(r hbclient.RegionStatus) bool { return r.UUID == u }) {
			t.Errorf("relaunched daemon runs no region %s: %+v", u, after.Regions)
		}
	}
	s.must(0, "hbregion", "monitor", region)
	s.must(0, "o2cb", "monitor", nil)
	s.hbctl(false, "-K", "-u", s.uuids[1], "/mnt/other")
	s.must(0, "hbregion", "stop", region)
	s.must(0, "o2cb", "stop", nil)
	if _, err := os.Stat(filepath.Join(s.run, "daemon-launch.json")); !os.IsNotExist(err) {
		t.Errorf("launch record after a clean stop: %v, want none", err)
	}
	errOut := s.must(1, "hbregion", "start", region, "OCF_RESKEY_CRM_meta_timeout=2000")
	if !strings.Contains(errOut, "not running") {
		t.Errorf("hbregion start after the o2cb stop: %s", errOut)
	}
}

// TestStopAfterTheDaemonDied: a stop with no daemon succeeds and forgets
// what the dead daemon left, so the next start begins afresh rather than
// resuming regions whose owners have all been stopped. The wait below
// sees the daemon's first thread gone; the stops may come while its last
// ones still listen, and hang up (daemonctl's StopStatus).
func TestStopAfterTheDaemonDied(t *testing.T) {
	s := newSite(t, "local", 1, 0)
	region := map[string]string{"uuid": s.uuids[0]}
	s.must(0, "o2cb", "start", nil)
	s.must(0, "hbregion", "start", region)
	pid := s.daemonPID()
	syscall.Kill(pid, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "the daemon gone", func() bool { return !process.Running(pid) })
	s.must(0, "hbregion", "stop", region)
	s.must(0, "o2cb", "stop", nil)
	for _, name := range []string{rundir.StateName, "daemon-launch.json"} {
		if _, err := os.Stat(filepath.Join(s.run, name)); !os.IsNotExist(err) {
			t.Errorf("%s after the stop: %v, want it removed", name, err)
		}
	}
	s.must(0, "o2cb", "start", nil)
	if st := s.status(); st == nil || len(st.Regions) != 0 {
		t.Errorf("start after the stop: %+v, want a daemon with no region", st)
	}
	s.must(0, "o2cb", "stop", nil)
}

// TestStopEndsAHungDaemon: a daemon that holds the run directory but does
// not answer (stopped here with SIGSTOP) is killed, and the stop
// succeeds: a failed stop would get the node fenced.
func TestStopEndsAHungDaemon(t *testing.T) {
	s := newSite(t, "local", 1, 0)
	s.must(0, "o2cb", "start", nil)
	pid := s.daemonPID()
	if pid <= 1 {
		t.Fatalf("daemon pid %d from its pid file", pid)
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	// Until every thread has stopped, one may still answer.
	testenv.WaitFor(t, 5*time.Second, "the daemon stopped", func() bool { return process.Stopped(pid) })
	s.must(1, "o2cb", "monitor", nil)
	begin := time.Now()
	s.must(0, "o2cb", "stop", nil, "OCF_RESKEY_CRM_meta_timeout=30000")
	t.Logf("stop of a hung daemon took %v", time.Since(begin).Round(time.Millisecond))
	if process.Running(pid) {
		t.Errorf("hung daemon %d still runs after the stop", pid)
	}
	s.must(7, "o2cb", "monitor", nil)
}
