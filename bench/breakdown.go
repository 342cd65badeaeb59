package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A cost is one part of a daemon's CPU: the samples whose call chain
// holds any of frames (substrings of function names) and none of an
// earlier cost's.
type cost struct {
	what   string
	frames []string
}

// costs are the parts a region-iteration's CPU is broken down into, in
// the order a sample is given to the first that matches it.
var costs = []cost{
	{"guard: o2net probes of lower-numbered peers every 5 s and the listener (not per region)", []string{"hbd.(*Daemon).Guard", "hbd.(*Daemon).listen", "/o2net."}},
	{"control socket: the bench's status requests (not per region)", []string{"hbd.(*Daemon).serve", "hbd.(*Daemon).Handle", "hbd.(*Daemon).handle", "/hbclient."}},
	{"pread of the 255 slots: the kernel's part", []string{"__x64_sys_pread64"}},
	{"pwrite of our slot: the kernel's part", []string{"__x64_sys_pwrite64"}},
	{"slot checks: CRC32 of changed slots, comparison with the last read", []string{"hbdisk.(*Region).validate", "hbdisk.Slot.Validate", "hbdisk.(*Region).checkOwn", "hash/crc32.", "memeqbody"}},
	{"liveness tracker", []string{"hbdisk.(*Tracker)."}},
	{"runtime monitor thread (sysmon): takes back Ps from blocked calls", []string{"runtime.sysmon"}},
	{"garbage collection and allocation", []string{"runtime.gcBgMarkWorker", "runtime.gcStart", "runtime.bgsweep", "runtime.bgscavenge", "runtime.mallocgc", "runtime.gcDrain"}},
	{"the rest of the iteration: syscall entry and exit, clocks, watchdog timer, status, the loops over the slots", []string{"hbdisk.(*Region).iterate", "hbdisk.(*Region).do", "hbdisk.(*Region).report"}},
	{"region loop between iterations: timer reset, select", []string{"hbdisk.(*Region).run"}},
	{"runtime scheduler: wake-ups, timers, idle threads (futex, epoll)", []string{"runtime."}},
}

// breakdown profiles a daemon with 32 regions × 255 slots at 2 s on
// the machine's disk and on a tmpfs with perf record, and breaks its CPU
// per region-iteration down into costs. The daemon is an unstripped
// build of the same source, so that perf names its functions. Without
// perf it says so and reports nothing.
func (b *bench) breakdown(window time.Duration) []row {
	if _, err := exec.LookPath("perf"); err != nil {
		b.log.Print("bench: no CPU breakdown: perf not found (make deps installs linux-perf)")
		return nil
	}
	bin := b.sub("unstripped")
	build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", bin+"/", "./cmd/o2cb-ra")
	build.Dir, build.Env = moduleRoot(), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		die("building an unstripped o2cb-ra: %v\n%s", err, out)
	}
	var rows []row
	for _, medium := range []string{"disk", "tmpfs"} {
		dir := b.sub("breakdown-" + medium)
		if medium == "tmpfs" {
			if o, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2g", "o2cb-bench", dir).CombinedOutput(); err != nil {
				die("mount a tmpfs: %v: %s", err, o)
			}
			b.mounts = append(b.mounts, dir)
		}
		rows = append(rows, b.profileLoad(bin, dir, medium, window)...)
		b.stopAll()
		b.unmountAll()
	}
	return rows
}

// profileLoad runs the 32-region daemon of bin on images in dir and
// returns its breakdown rows.
func (b *bench) profileLoad(bin, dir, medium string, window time.Duration) []row {
	const interval = 2 * time.Second
	uuids := images(dir, 32)
	conf := clusterConf(dir, 255)
	n := b.startNodeOf(bin, dir, conf, "n1", interval, 31)
	parallel(len(uuids), 32, func(i int) { n.start(uuids[i]) })
	time.Sleep(2 * interval)
	// The CPU per region-iteration is measured first, unprofiled; the
	// profile then gives each part's share of it.
	st0, ns0 := n.status(), cpuTime(n.pid)
	time.Sleep(window)
	st1, ns1 := n.status(), cpuTime(n.pid)
	var iters uint64
	for i, r := range st1.Regions {
		iters += r.Iterations - st0.Regions[i].Iterations
	}
	data := filepath.Join(dir, "perf.data")
	rec := exec.Command("perf", "record", "-q", "-F", "4999", "-g", "-p", strconv.Itoa(n.pid), "-o", data, "--", "sleep", strconv.Itoa(int(window.Seconds())))
	if out, err := rec.CombinedOutput(); err != nil {
		b.log.Printf("bench: no CPU breakdown on %s: perf record: %v: %s", medium, err, out)
		return nil
	}
	script := exec.Command("perf", "script", "-i", data, "-F", "ip,sym")
	out, err := script.Output()
	if err != nil {
		b.log.Printf("bench: no CPU breakdown on %s: perf script: %v", medium, err)
		return nil
	}
	counts, total := countCosts(out)
	if total == 0 || iters == 0 {
		b.log.Printf("bench: no CPU breakdown on %s: %d samples, %d iterations", medium, total, iters)
		return nil
	}
	perIter := float64(ns1-ns0) / float64(iters) / 1e3
	label := fmt.Sprintf("one daemon, 32 regions × 255 slots at %v, images on %s: CPU per region-iteration by part (shares of perf record -g's %d samples, of %.1f µs of the whole process measured unprofiled before)",
		interval, medium, total, perIter)
	var rows []row
	for i, c := range append(costs, cost{what: "other (kernel work without a user stack: interrupts, exit to user)"}) {
		share := float64(counts[i]) / float64(total)
		rows = append(rows, row{label + ": " + c.what, "(breakdown)", fmt.Sprintf("%.1f µs (%.0f%%)", share*perIter, share*100), true})
	}
	return rows
}

// countCosts reads perf script's samples (an ip and a symbol per frame,
// a blank line after each sample) and counts them by cost; the last
// count is of samples no cost matches.
func countCosts(script []byte) (counts []int, total int) {
	counts = make([]int, len(costs)+1)
	var frames []string
	flush := func() {
		if len(frames) == 0 {
			return
		}
		total++
		i := matchCost(frames)
		counts[i]++
		frames = frames[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(script))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 {
			frames = append(frames, f[1])
		}
	}
	flush()
	return counts, total
}

// matchCost is the index of the first cost one of frames matches, or
// len(costs).
func matchCost(frames []string) int {
	for i, c := range costs {
		for _, f := range frames {
			for _, want := range c.frames {
				if strings.Contains(f, want) {
					return i
				}
			}
		}
	}
	return len(costs)
}
