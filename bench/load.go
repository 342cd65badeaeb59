package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

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
	parallel(len(uuids), 32, func(i int) { n.start(uuids[i]) })
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
	perIter := time.Duration(float64(ns1-ns0) / float64(iters))
	floor, floorSys := b.floorCPU(dir, "IterationFile255")
	// The same over 32 regions' files in turn: the working set of a
	// daemon's regions, which one region's loop keeps in the caches.
	floor32, _ := b.floorCPU(dir, "IterationFile255x32")
	rows = append(rows, row{label + ": CPU per region-iteration, whole process, against the floor (the iteration in a loop, BenchmarkIterationFile255, on a file of the same medium; median of 3)",
		map[bool]string{true: "≤ 3× the floor", false: "(no target)"}[count == 32],
		fmt.Sprintf("%.1f µs against %.1f µs (%.1f µs of it in the kernel): %.2f×; against the loop over 32 regions' files in turn (BenchmarkIterationFile255x32), %.1f µs: %.2f×",
			us(perIter), us(floor), us(floorSys), float64(perIter)/float64(floor), us(floor32), float64(perIter)/float64(floor32)),
		count != 32 || perIter <= 3*floor})
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
		b.log.Printf("bench: no tmpfs variant: mount: %v: %s", err, o)
		return nil
	}
	b.mounts = append(b.mounts, dir)
	rows, _ := b.daemonLoad(32, 255, 2*time.Second, window, false, dir)
	// Not deferred: should the load die, cleanup unmounts once the
	// daemon using the images has stopped.
	b.unmountAll()
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
