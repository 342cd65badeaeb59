package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clustertest"
	"github.com/o2cb-ra/o2cb-ra/internal/faultdev"
	"github.com/o2cb-ra/o2cb-ra/internal/fixture"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// hungMonitor measures the o2cb monitor, whole process, while one of the
// cluster's 32 global regions sits on a device whose every read and
// write hangs: a FUSE file of internal/faultdev under a loop device. The
// daemon runs at the kernel's timing (2 s, threshold 31), so the hung
// region fails only after 60 s; the design wants each monitor to answer
// within 1 s all the while.
func (b *bench) hungMonitor() []row {
	dir := b.sub("hung")
	uuids := images(dir, 32)
	hung, err := fixture.FaultyLoop(filepath.Join(dir, "fuse"), filepath.Join(dir, "v000.img"), 0)
	if err != nil {
		die("%v", err)
	}
	// Undone at exit, after the daemons have stopped: heal, detach,
	// unmount; healed before that when this returns.
	b.undo = append(b.undo, func() { hung.Close() })
	defer hung.Heal()

	// A global cluster of 32 regions; node n1 finds the hung one through
	// the loop device and the others as image files.
	confPath := clusterConf(dir, 2, uuids...)
	devices := []string{hung.Device}
	for i := 1; i < 32; i++ {
		devices = append(devices, filepath.Join(dir, fmt.Sprintf("v%03d.img", i)))
	}
	run := filepath.Join(dir, "run-n1")
	env := []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=o2cb", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"OCF_RESKEY_cluster_conf=" + confPath, "OCF_RESKEY_node_name=n1", "OCF_RESKEY_run_dir=" + run,
		"OCF_RESKEY_devices=" + strings.Join(devices, ":")}
	o2cbRA := filepath.Join(b.bin, "o2cb-ra")
	agent := func(action string, extra ...string) (time.Duration, int) {
		wall, _, code := runProcess(append(slices.Clone(env), extra...), o2cbRA, "agent", "o2cb", action)
		return wall, code
	}
	if _, code := agent("start"); code != 0 {
		die("o2cb start of 32 regions exited %d", code)
	}
	n := &node{Node: &clustertest.Node{Name: "n1", Run: run}}
	if n.pid = n.PID(); n.pid != 0 {
		b.mu.Lock()
		b.pids = append(b.pids, n.pid)
		b.mu.Unlock()
	}

	hung.Stall(faultdev.All, 2*time.Minute)
	stalled := time.Now()
	// The next iteration of the region blocks on the device.
	for time.Since(stalled) < 10*time.Second {
		if slices.ContainsFunc(n.status().Regions, func(r hbclient.RegionStatus) bool { return r.UUID == uuids[0] && r.IOInFlight > 0 }) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	measure := func(depth string) (med, worst time.Duration, codes map[int]int) {
		var d []time.Duration
		codes = map[int]int{}
		for range 41 {
			took, code := agent("monitor", "OCF_CHECK_LEVEL="+depth)
			d = append(d, took)
			codes[code]++
		}
		return median(d), slices.Max(d), codes
	}
	codesText := func(codes map[int]int) string {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(codes)) {
			parts = append(parts, fmt.Sprintf("%d× exit %d", codes[c], c))
		}
		return strings.Join(parts, ", ")
	}
	var rows []row
	add := func(depth, note string) {
		med, worst, codes := measure(depth)
		rows = append(rows, row{
			fmt.Sprintf("o2cb monitor depth %s, whole process, 32 regions, one device hung for %.0f s%s (median; slowest of 41)", depth, time.Since(stalled).Seconds(), note),
			"< 1 s", fmt.Sprintf("%s ms; %s ms (%s)", msText(med), msText(worst), codesText(codes)), worst < time.Second})
	}
	add("0", "")
	// Depth 10 counts the region lost once the daemon has not read its
	// own slot back for 3 intervals.
	for time.Since(stalled) < 30*time.Second {
		if slices.ContainsFunc(n.status().Regions, func(r hbclient.RegionStatus) bool { return r.UUID == uuids[0] && r.OwnSlotAge > 6 }) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	add("10", ", seen lost by depth 10")
	return rows
}
