// Command bench measures o2cb-ra against the performance targets of its
// design with real daemons on image files, prints a table of targets and
// measured values, and writes it to BENCHMARKS.md with the machine it ran
// on. It needs root (O_DIRECT images, the daemon's run directories) and
// ocfs2-tools; `make bench` builds the binaries and runs it.
//
//	go run ./bench -bin bin -out BENCHMARKS.md
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/rundir"
)

var (
	binDir = flag.String("bin", "bin", "directory with o2cb-ra and ocfs2_hb_ctl")
	out    = flag.String("out", "BENCHMARKS.md", "report to write (empty: none)")
	quick  = flag.Bool("quick", false, "shorter measurement windows")
	only   = flag.String("only", "", "comma-separated scenarios to run (join, load32, agents, tmpfs, load256, hung); empty: all (tmpfs as -tmpfs says)")
	tmpfs  = flag.Bool("tmpfs", true, "also run the 32-region load with its images on tmpfs, to tell the device's cost from ours")
)

// want reports whether scenario name is to run.
func want(name string) bool {
	if *only == "" {
		return name != "tmpfs" || *tmpfs
	}
	return slices.Contains(strings.Split(*only, ","), name)
}

// row is one line of the report.
type row struct {
	what, target, measured string
	ok                     bool
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if os.Geteuid() != 0 {
		log.Fatal("bench: needs root (O_DIRECT on image files, daemon run directories)")
	}
	for _, tool := range []string{"mkfs.ocfs2", "tunefs.ocfs2"} {
		if _, err := exec.LookPath(tool); err != nil {
			log.Fatalf("bench: %s not found (make deps installs ocfs2-tools)", tool)
		}
	}
	abs, err := filepath.Abs(*binDir)
	if err != nil {
		log.Fatal(err)
	}
	*binDir = abs
	tmp, err := os.MkdirTemp("", "o2cb-bench")
	if err != nil {
		log.Fatal(err)
	}
	os.Chmod(tmp, 0o755)
	defer os.RemoveAll(tmp)
	b := &bench{dir: tmp}
	cleanup = func() { b.stopAll(); undoAll(); b.unmountAll(); os.RemoveAll(tmp) }
	defer cleanup()

	window := 30 * time.Second
	if *quick {
		window = 10 * time.Second
	}
	var rows []row
	if want("join") {
		rows = append(rows, b.startAndDetect(100*time.Millisecond, 31, 5)...)
		rows = append(rows, b.startAndDetect(2*time.Second, 5, 3)...)
	}
	if want("load32") || want("agents") {
		load32, agentRows := b.daemonLoad(32, 255, 2*time.Second, window, want("agents"), "")
		if want("load32") {
			rows = append(rows, load32...)
		}
		rows = append(rows, agentRows...)
	}
	if want("tmpfs") {
		rows = append(rows, b.tmpfsLoad(window)...)
	}
	if want("load256") {
		// Local mode, one region per mounted volume (seed 001): a
		// cluster of 32 nodes, each region reading their 32 slots.
		load256, _ := b.daemonLoad(256, 32, 200*time.Millisecond, window/2, false, "")
		rows = append(rows, load256...)
	}
	if want("hung") {
		rows = append(rows, b.hungMonitor()...)
	}

	report := render(rows)
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			die("%v", err)
		}
	}
}

// bench holds what the measurements share: the work directory and every
// daemon started, stopped by PID at the end.
type bench struct {
	dir    string
	mu     sync.Mutex
	pids   []int
	mounts []string
	n      int
}

func (b *bench) unmountAll() {
	for _, m := range b.mounts {
		exec.Command("umount", m).Run()
	}
	b.mounts = nil
}

func (b *bench) sub(name string) string {
	b.n++
	d := filepath.Join(b.dir, fmt.Sprintf("%02d-%s", b.n, name))
	if err := os.MkdirAll(d, 0o755); err != nil {
		die("%v", err)
	}
	return d
}

// images formats n OCFS2 volumes in dir and returns their UUIDs.
func images(dir string, n int) []string {
	uuids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU()*2)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			img := filepath.Join(dir, fmt.Sprintf("v%03d.img", i))
			if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
				die("%v", err)
			}
			f, err := os.Create(img)
			if err != nil {
				die("%v", err)
			}
			f.Truncate(40 << 20)
			f.Close()
			cmd := exec.Command("mkfs.ocfs2", "-q", "-F", "-b", "4096", "-C", "4096", "-N", "2", "-J", "size=4M",
				"-L", fmt.Sprintf("v%d", i), "--cluster-stack=o2cb", "--cluster-name=bench", "--global-heartbeat", img)
			if o, err := cmd.CombinedOutput(); err != nil {
				die("mkfs.ocfs2 %s: %v\n%s", img, err, o)
			}
			sb, err := ocfs2.Probe(img)
			if err != nil {
				die("%v", err)
			}
			uuids[i] = sb.UUID
		})
	}
	wg.Wait()
	return uuids
}

// clusterConf writes a cluster.conf with nodes n0..n<count-1>, with the
// project's own writer: in local mode, or in global mode with the given
// heartbeat regions.
func clusterConf(dir string, count int, regions ...string) string {
	var conf clusterconf.Config
	mode := clusterconf.ModeLocal
	if len(regions) > 0 {
		mode = clusterconf.ModeGlobal
	}
	cl, err := conf.AddCluster("bench", mode)
	if err != nil {
		die("%v", err)
	}
	for _, u := range regions {
		if _, err := cl.AddRegion(u, ""); err != nil {
			die("%v", err)
		}
	}
	for n := range count {
		node := clusterconf.Node{Name: fmt.Sprintf("n%d", n), Number: n, Address: netip.MustParseAddr("127.0.0.1"), Port: 7777}
		if _, err := cl.AddNode(node); err != nil {
			die("%v", err)
		}
	}
	path := filepath.Join(dir, "cluster.conf")
	if err := conf.WriteFile(path); err != nil {
		die("%v", err)
	}
	return path
}

// node is one daemon process.
type node struct {
	run string
	env []string
	pid int
}

func (b *bench) startNode(dir, conf, name string, interval time.Duration, threshold int) *node {
	n := &node{run: filepath.Join(dir, "run-"+name)}
	n.env = append(os.Environ(), "O2CB_CLUSTER_CONF="+conf, "O2CB_NODE_NAME="+name, "O2CB_RUN_DIR="+n.run,
		"O2CB_HB_DEVICES="+dir+"/*.img", "O2CB_HEARTBEAT_INTERVAL_MS="+strconv.Itoa(int(interval/time.Millisecond)),
		"O2CB_DEAD_THRESHOLD="+strconv.Itoa(threshold))
	cmd := exec.Command(filepath.Join(*binDir, "o2cb-ra"), "daemon")
	cmd.Env = n.env
	if o, err := cmd.CombinedOutput(); err != nil {
		die("o2cb-ra daemon as %s: %v\n%s", name, err, o)
	}
	pb, err := os.ReadFile(filepath.Join(n.run, rundir.PIDName))
	if err != nil {
		die("%v", err)
	}
	n.pid, _ = strconv.Atoi(strings.TrimSpace(string(pb)))
	b.mu.Lock()
	b.pids = append(b.pids, n.pid)
	b.mu.Unlock()
	return n
}

func (n *node) client() *hbclient.Client {
	c := hbclient.NewClient(n.run)
	c.Timeout = time.Minute
	return c
}

func (n *node) start(uuid string) time.Duration {
	begin := time.Now()
	if _, err := n.client().Do(context.Background(), hbclient.Request{Op: hbclient.OpStart, UUID: uuid, Owner: "service:bench", Consumer: true}); err != nil {
		die("start %s: %v", uuid, err)
	}
	return time.Since(begin)
}

func (n *node) stop(uuid string) {
	if _, err := n.client().Do(context.Background(), hbclient.Request{Op: hbclient.OpStop, UUID: uuid, Owner: "service:bench", Consumer: true}); err != nil {
		die("stop %s: %v", uuid, err)
	}
}

func (n *node) status() *hbclient.Status {
	st, err := n.client().Status(context.Background())
	if err != nil {
		die("status of %s: %v", n.run, err)
	}
	return st
}

func (b *bench) kill(pid int, sig syscall.Signal) {
	syscall.Kill(pid, sig)
	for deadline := time.Now().Add(30 * time.Second); process.Running(pid) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if process.Running(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (b *bench) stopAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pid := range b.pids {
		if process.Running(pid) {
			b.kill(pid, syscall.SIGTERM)
		}
	}
	b.pids = nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// startAndDetect measures a third node joining two running ones (start to
// steady, in intervals) reps times, then how long after SIGKILL of its
// daemon the others declare it dead, relative to threshold × interval.
func (b *bench) startAndDetect(interval time.Duration, threshold, reps int) []row {
	dir := b.sub(fmt.Sprintf("join-%v", interval))
	uuid := images(dir, 1)[0]
	conf := clusterConf(dir, 4)
	var ns []*node
	for i := 1; i <= 3; i++ {
		ns = append(ns, b.startNode(dir, conf, fmt.Sprintf("n%d", i), interval, threshold))
	}
	ns[0].start(uuid)
	ns[1].start(uuid)
	var took []time.Duration
	for range reps {
		took = append(took, ns[2].start(uuid))
		ns[2].stop(uuid)
		time.Sleep(interval / 3) // another phase next time
	}
	ns[2].start(uuid)
	waitLive := func(want []int) time.Duration {
		begin := time.Now()
		for {
			ok := true
			for _, n := range ns[:2] {
				st := n.status()
				if len(st.Regions) != 1 || !slices.Equal(st.Regions[0].LiveNodes, want) {
					ok = false
				}
			}
			if ok {
				return time.Since(begin)
			}
			if time.Since(begin) > time.Duration(threshold+10)*interval {
				die("nodes 1 and 2 never saw live nodes %v", want)
			}
			time.Sleep(interval / 100)
		}
	}
	waitLive([]int{1, 2, 3})
	time.Sleep(2 * interval)
	syscall.Kill(ns[2].pid, syscall.SIGKILL)
	detect := waitLive([]int{1, 2})
	b.stopAll()

	iv := float64(interval)
	worst := slices.Max(took)
	dead := float64(detect-time.Duration(threshold)*interval) / iv
	return []row{
		{fmt.Sprintf("start to steady, joining 2 nodes, %v interval (median of %d; worst)", interval, reps),
			"≤ 2.2 intervals", fmt.Sprintf("%.2f; %.2f intervals", float64(median(took))/iv, float64(worst)/iv), float64(worst)/iv <= 2.2},
		{fmt.Sprintf("failure detection after SIGKILL, %v interval, threshold %d", interval, threshold),
			"within 1 interval of threshold × interval", fmt.Sprintf("%v: threshold × interval %+.2f intervals", detect.Round(time.Millisecond), dead), dead <= 1 && dead >= -1},
	}
}

// procTicks returns utime and stime of pid in clock ticks.
func procTicks(pid int) (user, sys int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		die("%v", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	user, _ = strconv.ParseInt(f[11], 10, 64)
	sys, _ = strconv.ParseInt(f[12], 10, 64)
	return user, sys
}

// cpuTime returns the CPU time pid's threads have run, from the
// scheduler's nanosecond accounting (/proc/PID/task/TID/schedstat), which
// resolves far below the 10 ms ticks of utime and stime.
func cpuTime(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// ctxSwitches returns the context switches, voluntary and not, of pid's
// threads: how often the daemon's threads sleep and wake.
func ctxSwitches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "voluntary_ctxt_switches:") || strings.HasPrefix(l, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseInt(strings.TrimSpace(l[strings.IndexByte(l, ':')+1:]), 10, 64)
				sum += v
			}
		}
	}
	return sum
}

func threads(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	return len(tasks)
}

func rssKiB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

// daemonLoad runs one daemon with count regions, in a cluster of nodes
// configured nodes (the slots each iteration reads), and measures CPU,
// RSS, lateness and I/O per region-iteration over window; with agents,
// also the agents' latency against it. The images are files on the
// machine's disk unless dir is given (the tmpfs variant).
func (b *bench) daemonLoad(count, nodes int, interval time.Duration, window time.Duration, agents bool, dir string) (rows, agentRows []row) {
	medium := "disk"
	if dir == "" {
		dir = b.sub(fmt.Sprintf("load-%d", count))
	} else {
		medium = "tmpfs"
	}
	uuids := images(dir, count)
	conf := clusterConf(dir, nodes)
	n := b.startNode(dir, conf, "n1", interval, 31)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, u := range uuids {
		wg.Go(func() { sem <- struct{}{}; n.start(u); <-sem })
	}
	wg.Wait()
	started := time.Now()
	time.Sleep(2 * interval)
	u0, s0 := procTicks(n.pid)
	ns0, cs0 := cpuTime(n.pid), ctxSwitches(n.pid)
	st0, t0 := n.status(), time.Now()
	time.Sleep(window)
	st1, t1 := n.status(), time.Now()
	ns1, cs1 := cpuTime(n.pid), ctxSwitches(n.pid)
	u1, s1 := procTicks(n.pid)
	const hz = 100 // USER_HZ on Linux
	pct := func(ticks int64) float64 { return float64(ticks) / hz / t1.Sub(t0).Seconds() * 100 }
	cpu, ucpu, scpu := float64(ns1-ns0)/float64(t1.Sub(t0))*100, pct(u1-u0), pct(s1-s0)
	rss := rssKiB(n.pid)
	// The lateness percentiles cover each region's last LatenessWindow
	// iterations: wait until none of them is from before the last start,
	// when that is at most a minute, so that they tell the steady state
	// and not the storm of 32 concurrent starts.
	stl, steadyLateness := st1, false
	if full := started.Add(hbdisk.LatenessWindow*interval + interval); full.Sub(started) <= time.Minute {
		time.Sleep(time.Until(full))
		stl, steadyLateness = n.status(), true
	}
	var p50, p99 float64
	for _, r := range stl.Regions {
		p50, p99 = max(p50, r.LatenessP50), max(p99, r.LatenessP99)
	}
	var iters, reads, writes, bread, bwritten uint64
	for i, r := range st1.Regions {
		r0 := st0.Regions[i]
		iters += r.Iterations - r0.Iterations
		reads += r.Reads - r0.Reads
		writes += r.Writes - r0.Writes
		bread += r.BytesRead - r0.BytesRead
		bwritten += r.BytesWritten - r0.BytesWritten
	}
	ivms := float64(interval) / float64(time.Millisecond)
	label := fmt.Sprintf("one daemon, %d regions × %d slots at %v, images on %s", count, nodes, interval, medium)
	target := count == 32 && medium == "disk"
	rows = []row{
		{label + ": CPU (user + system)", map[bool]string{true: "< 0.5% of one core", false: "(no target)"}[target],
			fmt.Sprintf("%.2f%% of one core (ticks: %.2f%% user + %.2f%% system)", cpu, ucpu, scpu), !target || cpu < 0.5},
		{label + ": RSS", map[bool]string{true: "< 30 MiB", false: "(no target)"}[target],
			fmt.Sprintf("%.1f MiB", float64(rss)/1024), !target || rss < 30*1024},
		{label + ": iteration lateness p50 / p99 (worst region), " + map[bool]string{true: fmt.Sprintf("the %d iterations after the starts", hbdisk.LatenessWindow),
			false: fmt.Sprintf("the last %d iterations, the starts included", hbdisk.LatenessWindow)}[steadyLateness], "p99 < 10% of the interval",
			fmt.Sprintf("%.2f / %.2f ms = %.1f%% / %.1f%%", p50, p99, p50/ivms*100, p99/ivms*100), p99/ivms < 0.1},
		{label + ": I/O per region per iteration", "1 sector written, 1 read of the slots",
			fmt.Sprintf("%.2f reads of %.0f B, %.2f writes of %.0f B", float64(reads)/float64(iters), float64(bread)/float64(reads),
				float64(writes)/float64(iters), float64(bwritten)/float64(writes)), reads == iters && writes == iters},
	}
	rows = append(rows, row{label + ": threads; context switches per region per iteration", "(no target)",
		fmt.Sprintf("%d; %.2f", threads(n.pid), float64(cs1-cs0)/float64(iters)), true})
	if sys := straceCalls(n.pid, iters, window, t1.Sub(t0)); sys != "" {
		rows = append(rows, row{label + ": syscalls per region per iteration (strace -c)", "(no target)", sys, true})
	}
	if agents {
		agentRows = b.agentLatency(dir, conf, n)
	}
	b.stopAll()
	return rows, agentRows
}

// tmpfsLoad repeats the 32-region load with its images on a tmpfs of
// its own: what is left is the daemon's own cost, without the disk's.
func (b *bench) tmpfsLoad(window time.Duration) []row {
	dir := b.sub("load-32-tmpfs")
	if o, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2g", "o2cb-bench", dir).CombinedOutput(); err != nil {
		log.Printf("bench: no tmpfs variant: mount: %v: %s", err, o)
		return nil
	}
	b.mounts = append(b.mounts, dir)
	defer b.unmountAll()
	rows, _ := b.daemonLoad(32, 255, 2*time.Second, window, false, dir)
	return rows
}

// straceCalls counts the daemon's syscalls for a few seconds with
// strace -c and returns them per region-iteration.
func straceCalls(pid int, iters uint64, window, took time.Duration) string {
	if _, err := exec.LookPath("strace"); err != nil {
		return ""
	}
	dur := 5 * time.Second
	f, err := os.CreateTemp("", "strace")
	if err != nil {
		return ""
	}
	defer os.Remove(f.Name())
	f.Close()
	cmd := exec.Command("strace", "-c", "-f", "-p", strconv.Itoa(pid), "-o", f.Name())
	if err := cmd.Start(); err != nil {
		return ""
	}
	time.Sleep(dur)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	b, _ := os.ReadFile(f.Name())
	perSec := float64(iters) / took.Seconds()
	n := perSec * dur.Seconds()
	var parts []string
	var total float64
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 5 || fs[0] == "%" || strings.HasPrefix(fs[0], "---") || fs[len(fs)-1] == "total" {
			continue
		}
		calls, err := strconv.ParseFloat(fs[3], 64)
		if err != nil {
			continue
		}
		total += calls
		if name := fs[len(fs)-1]; name == "pread64" || name == "pwrite64" || name == "futex" {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, calls/n))
		}
	}
	slices.Sort(parts)
	return fmt.Sprintf("%.2f in all (%s)", total/n, strings.Join(parts, ", "))
}

// agentLatency runs meta-data, validate-all and monitor as whole
// processes against the running daemon, beside resource-agents' Dummy.
func (b *bench) agentLatency(dir, conf string, n *node) []row {
	link := filepath.Join(dir, "o2cb")
	os.Symlink(filepath.Join(*binDir, "o2cb-ra"), link)
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_cluster_conf=" + conf, "OCF_RESKEY_node_name=n1",
		"OCF_RESKEY_run_dir=" + n.run, "OCF_RESKEY_devices=" + dir + "/*.img", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	dummy := "/usr/lib/ocf/resource.d/heartbeat/Dummy"
	dummyEnv := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_state=" + filepath.Join(dir, "dummy.state"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	_, err := os.Stat(dummy)
	haveDummy := err == nil
	const warm, runs = 5, 101
	var rows []row
	for _, action := range []string{"meta-data", "validate-all", "monitor"} {
		// Warm up both (page cache, the daemon's socket), then run
		// them in turn, each first every other time, so that both meet
		// the same load of the machine.
		var ours, oursCPU, theirs, theirsCPU []time.Duration
		for i := range warm + runs {
			for k := range 2 {
				if (i+k)%2 == 0 {
					w, c, code := runProcess(env, link, action)
					if code != 0 {
						die("o2cb %s exited %d", action, code)
					}
					if i >= warm {
						ours, oursCPU = append(ours, w), append(oursCPU, c)
					}
				} else if haveDummy {
					w, c, _ := runProcess(dummyEnv, dummy, action)
					if i >= warm {
						theirs, theirsCPU = append(theirs, w), append(theirsCPU, c)
					}
				}
			}
		}
		dummyText := "Dummy not installed"
		if haveDummy {
			dummyText = fmt.Sprintf("Dummy %s ms, CPU %s ms", msText(median(theirs)), msText(median(theirsCPU)))
		}
		m := median(ours)
		rows = append(rows, row{fmt.Sprintf("o2cb %s, whole process, 32 regions up (median of %d after %d warm-up runs, interleaved with Dummy)", action, runs, warm),
			"< 10 ms", fmt.Sprintf("%s ms, CPU %s ms (%s)", msText(m), msText(median(oursCPU)), dummyText), m < 10*time.Millisecond})
	}
	return rows
}

// runProcess runs path with args and env, output discarded, and returns
// its wall time, its CPU time (user and system, from the kernel's
// accounting of the child, which the machine's other load hardly
// changes) and its exit code.
func runProcess(env []string, path string, args ...string) (wall, cpu time.Duration, code int) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	begin := time.Now()
	err := cmd.Run()
	wall = time.Since(begin)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		die("%s %s: %v", path, strings.Join(args, " "), err)
	}
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return wall, cpu, code
}

// msText is d in milliseconds, one decimal.
func msText(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func render(rows []row) string {
	var s strings.Builder
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	var uts syscall.Utsname
	syscall.Uname(&uts)
	rel := func(a [65]int8) string {
		var b []byte
		for _, c := range a {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		return string(b)
	}
	release := rel(uts.Release)
	if f := strings.SplitN(release, ".", 3); len(f) >= 2 {
		release = f[0] + "." + f[1]
	}
	fmt.Fprintf(&s, "# o2cb-ra benchmarks\n\nRegenerated by `make bench` (`go run ./bench`). Measured %s on %d CPUs (%s), Linux %s, %s; images are files on the machine's disk (rows marked tmpfs: on a tmpfs, to tell the device's cost from the daemon's own), I/O with O_DIRECT.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpu, release, runtime.Version())
	fmt.Fprintln(&s, "| measure | target | measured | met |")
	fmt.Fprintln(&s, "|---|---|---|---|")
	for _, r := range rows {
		met := "yes"
		if !r.ok {
			met = "**no**"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", r.what, r.target, r.measured, met)
	}
	return s.String()
}

// cleanup stops every daemon and removes the work directory; die runs it
// before exiting, as log.Fatal would skip the deferred call.
var cleanup = func() {}

func die(format string, a ...any) {
	log.Printf(format, a...)
	cleanup()
	os.Exit(1)
}
