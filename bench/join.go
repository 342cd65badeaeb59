package main

import (
	"fmt"
	"slices"
	"syscall"
	"time"
)

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
