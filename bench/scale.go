package main

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// scaleCluster measures a cluster of nodes daemons, one per node of its
// cluster.conf, each heartbeating on all of regions images: how soon
// after the last region start every daemon sees every node live, their
// CPU and RSS over a steady window, and, once kills of them are
// SIGKILLed, how soon each survivor declares each of them dead, while no
// survivor may ever lose a node that is still alive. With lateness, the
// iteration lateness of every region of every daemon is checked too.
func (b *bench) scaleCluster(nodes, regions, kills int, interval, steady time.Duration, lateness bool) []row {
	dir := b.sub(fmt.Sprintf("scale-%dx%d-%v", regions, nodes, interval))
	// The join scenario's choice: 5 at 2 s, the kernel's 31 below.
	threshold := 5
	if interval < time.Second {
		threshold = 31
	}
	uuids := images(dir, regions)
	conf := clusterConf(dir, nodes)
	label := fmt.Sprintf("%d nodes × %d region(s), one daemon each, %v interval, dead_threshold %d", nodes, regions, interval, threshold)
	iv := float64(interval)
	var rows []row

	// Start the daemons, a few at a time; a node whose daemon will not
	// start is left out, and the row says why.
	ns := make([]*node, nodes)
	errs := make([]string, nodes)
	parallel(nodes, 8, func(i int) {
		defer func() {
			if r := recover(); r != nil {
				f, ok := r.(failure)
				if !ok {
					panic(r)
				}
				errs[i] = string(f)
			}
		}()
		ns[i] = b.startNode(dir, conf, fmt.Sprintf("n%d", i), interval, threshold)
	})
	var up []*node
	var nums []int
	firstErr, failed := "", 0
	for i, n := range ns {
		if n != nil {
			up, nums = append(up, n), append(nums, i)
		} else {
			failed++
			if firstErr == "" {
				firstErr = errs[i]
			}
		}
	}
	rows = append(rows, row{label + ": daemons started", fmt.Sprintf("%d", nodes),
		fmt.Sprintf("%d%s", len(up), map[bool]string{true: "", false: fmt.Sprintf(" (%d refused; first: %s)", failed, firstErr)}[failed == 0]), failed == 0})
	if len(up) < 2 {
		die("%s: only %d daemons started: %s", label, len(up), firstErr)
	}

	// A start returns once its region is steady, a few intervals after
	// it was asked for; the join is timed from the last start asked for.
	issued := make([]time.Time, len(up)*regions)
	parallel(len(up)*regions, 64, func(i int) {
		issued[i] = time.Now()
		up[i/regions].start(uuids[i%regions])
	})
	lastStart := slices.MaxFunc(issued, time.Time.Compare)

	// poll returns every daemon's status, polled in parallel, and how
	// long the whole round took: the compact health answer, which has
	// the live nodes, unless full (lateness needs the whole status).
	poll := func(ns []*node, full bool) ([]*hbclient.Status, []time.Time, time.Duration) {
		sts, at := make([]*hbclient.Status, len(ns)), make([]time.Time, len(ns))
		begin := time.Now()
		parallel(len(ns), 32, func(i int) {
			c := ns[i].Client(10 * time.Second)
			ask := c.Health
			if full {
				ask = c.Status
			}
			st, err := ask(context.Background())
			if err != nil {
				die("status of %s: %v", ns[i].Name, err)
			}
			sts[i], at[i] = st, time.Now()
		})
		return sts, at, time.Since(begin)
	}
	// sees reports whether every region of st shows exactly live.
	sees := func(st *hbclient.Status, live []int) bool {
		if len(st.Regions) != regions {
			return false
		}
		for _, r := range st.Regions {
			if !slices.Equal(r.LiveNodes, live) {
				return false
			}
		}
		return true
	}

	// All see all: each daemon's first status showing every node live on
	// every region.
	seenAt := make([]time.Time, len(up))
	var polls []time.Duration
	allSeen := false
	for !allSeen && time.Since(lastStart) < time.Duration(threshold+10)*interval {
		sts, at, took := poll(up, false)
		polls = append(polls, took)
		allSeen = true
		for i, st := range sts {
			if seenAt[i].IsZero() && sees(st, nums) {
				seenAt[i] = at[i]
			}
			allSeen = allSeen && !seenAt[i].IsZero()
		}
		time.Sleep(interval / 20)
	}
	// A poll tells a join only to within its own length; each daemon's
	// log says, to the millisecond, when it wrote its first heartbeat on
	// each region and when it saw each node come up there. A daemon whose
	// log lacks a node's up stays at its poll time.
	joinFromLog := 0
	var firstWrites []float64        // intervals from the start asked for to the first write
	lastWrite := lastStart           // the last first write of all
	began := map[downKey]time.Time{} // each node's first write on each region
	logs := make([]string, len(up))
	for i, n := range up {
		logs[i] = n.Log()
		writes := regionTimes(logs[i], "starting heartbeat")
		for r, u := range uuids {
			if t, ok := writes[uuidKey(u)]; ok {
				firstWrites = append(firstWrites, float64(t.Sub(issued[i*regions+r]))/iv)
				lastWrite = later(lastWrite, t)
				began[downKey{uuidKey(u), nums[i]}] = t
			}
		}
	}
	// slowest is the longest a daemon took to see a node up after both
	// had written their first heartbeat: the join less the starts'
	// spread.
	var slowest struct {
		lag               time.Duration
		observer, peer    int
		own, theirs, seen time.Time
	}
	if allSeen {
		for i := range up {
			ups := eventTimes(logs[i], "node up", time.Time{}, true)
			for k, t := range ups {
				theirs, ok := began[k]
				own, ownOK := began[downKey{k.region, nums[i]}]
				if lag := t.Sub(later(theirs, own)); ok && ownOK && lag > slowest.lag {
					slowest.lag, slowest.observer, slowest.peer = lag, nums[i], k.node
					slowest.own, slowest.theirs, slowest.seen = own, theirs, t
				}
			}
			var last time.Time
			complete := true
			for _, u := range uuids {
				for _, peer := range nums {
					t, ok := ups[downKey{uuidKey(u), peer}]
					complete = complete && ok
					last = later(last, t)
				}
			}
			if complete {
				seenAt[i] = last
				joinFromLog++
			}
		}
	}
	if slowest.lag > 0 {
		b.log.Printf("%s: node %d (first write %v) saw node %d (first write %v) up at %v", label, slowest.observer,
			slowest.own.Format(time.StampMilli), slowest.peer, slowest.theirs.Format(time.StampMilli), slowest.seen.Format(time.StampMilli))
	}
	// The join is timed from the last first write (its node's heartbeat
	// on the disk); how long starts took to get there is told apart.
	worst, missing := time.Duration(0), 0
	for _, t := range seenAt {
		if t.IsZero() {
			missing++
		}
		worst = max(worst, t.Sub(lastWrite))
	}
	fwText := "no start logged its first write"
	if len(firstWrites) > 0 {
		fwText = fmt.Sprintf("a start's first write %.2f / %.2f intervals (median / max) after it was asked for; %d of %d starts logged",
			pct(firstWrites, 0.5), slices.Max(firstWrites), len(firstWrites), len(issued))
	}
	if slowest.lag > 0 {
		fwText += fmt.Sprintf("; the longest from the later of two nodes' first writes to one seeing the other up: %.2f intervals (node %d saw node %d up)",
			float64(slowest.lag)/iv, slowest.observer, slowest.peer)
	}
	measured := fmt.Sprintf("worst %.2f intervals after the last first write (%d of %d daemons from their logs, the rest from polls; a poll of all %d: median %v; %s)",
		float64(worst)/iv, joinFromLog, len(up), len(up), median(polls).Round(time.Millisecond), fwText)
	if missing > 0 {
		measured = fmt.Sprintf("%d of %d daemons never saw all %d live within %d intervals", missing, len(up), len(up), threshold+10)
	}
	rows = append(rows, row{label + ": every daemon sees all live on every region after the last start", "≤ 2.2 intervals",
		measured, missing == 0 && float64(worst)/iv <= 2.2})

	// CPU and RSS over a steady window.
	time.Sleep(interval)
	// Each daemon's own window: reading 255 of them takes a while on a
	// busy machine.
	cpu0, t0 := make([]time.Duration, len(up)), make([]time.Time, len(up))
	for i, n := range up {
		cpu0[i], t0[i] = cpuTime(n.pid), time.Now()
	}
	time.Sleep(steady)
	cpus, rsss := make([]float64, len(up)), make([]float64, len(up))
	var cpuSum, rssSum float64
	for i, n := range up {
		cpus[i] = float64(cpuTime(n.pid)-cpu0[i]) / float64(time.Since(t0[i])) * 100
		rsss[i] = float64(rssKiB(n.pid)) / 1024
		cpuSum += cpus[i]
		rssSum += rsss[i]
	}
	rows = append(rows,
		row{label + fmt.Sprintf(": CPU per daemon (median / max) and in all, over %v", steady.Round(time.Second)), "(no target)",
			fmt.Sprintf("%.2f%% / %.2f%% of one core; %.1f%% in all", pct(cpus, 0.5), slices.Max(cpus), cpuSum), true},
		row{label + ": RSS per daemon (median / max) and in all", "(no target)",
			fmt.Sprintf("%.1f / %.1f MiB; %.0f MiB in all", pct(rsss, 0.5), slices.Max(rsss), rssSum), true})
	if lateness {
		sts, _, _ := poll(up, true)
		var p99s []float64
		var p50 float64
		for _, st := range sts {
			for _, r := range st.Regions {
				p99s = append(p99s, r.LatenessP99)
				p50 = max(p50, r.LatenessP50)
			}
		}
		ivms := iv / float64(time.Millisecond)
		worstP99 := slices.Max(p99s)
		rows = append(rows, row{label + fmt.Sprintf(": iteration lateness p99 of every region of every daemon (%d), the starts included; worst p50", len(p99s)),
			"p99 < 10% of the interval", fmt.Sprintf("p99 median %.2f ms, worst %.2f ms = %.1f%%; p50 worst %.2f ms", pct(p99s, 0.5), worstP99, worstP99/ivms*100, p50),
			worstP99/ivms < 0.1})
	}

	// SIGKILL kills nodes chosen at random, then poll the survivors until
	// each sees each of them gone on every region.
	perm := rand.Perm(len(up))
	killed := map[int]bool{}
	var survivors []*node
	var alive []int
	for _, i := range perm[:kills] {
		killed[nums[i]] = true
	}
	for i, n := range up {
		if !killed[nums[i]] {
			survivors, alive = append(survivors, n), append(alive, nums[i])
		}
	}
	for i, n := range up {
		if killed[nums[i]] {
			syscall.Kill(n.pid, syscall.SIGKILL)
		}
	}
	killedAt := time.Now()
	// detect holds, per survivor, region and killed node, when the
	// survivor's status first showed it gone.
	type key struct {
		survivor int
		region   string
		node     int
	}
	detect := map[key]time.Duration{}
	want := len(survivors) * regions * kills
	falseDeaths := 0
	polls = polls[:0]
	for len(detect) < want && time.Since(killedAt) < time.Duration(threshold+10)*interval {
		begin := time.Now()
		sts, at, took := poll(survivors, false)
		polls = append(polls, took)
		for s, st := range sts {
			for _, reg := range st.Regions {
				for _, a := range alive {
					if !slices.Contains(reg.LiveNodes, a) {
						falseDeaths++
					}
				}
				for k := range killed {
					if _, ok := detect[key{s, reg.UUID, k}]; !ok && !slices.Contains(reg.LiveNodes, k) {
						detect[key{s, reg.UUID, k}] = at[s].Sub(killedAt)
					}
				}
			}
		}
		time.Sleep(max(0, interval/10-time.Since(begin)))
	}
	// A poll tells a detection only to within its own length (a poll of
	// 230 daemons at 500 ms takes up to two intervals); each survivor's
	// log says when it declared the node down, to the millisecond. The
	// poll's time stands in for a detection the log lacks.
	fromLog := 0
	downs := make([]map[downKey]time.Time, len(survivors))
	for s, n := range survivors {
		downs[s] = eventTimes(n.Log(), "node down", killedAt, false)
	}
	for k := range detect {
		if t, ok := downs[k.survivor][downKey{uuidKey(k.region), k.node}]; ok {
			detect[k] = t.Sub(killedAt)
			fromLog++
		}
	}
	var rel []float64
	for _, d := range detect {
		rel = append(rel, float64(d-time.Duration(threshold)*interval)/iv)
	}
	slices.Sort(rel)
	what := label + fmt.Sprintf(": failure detection of %d nodes SIGKILLed at random, by each of %d survivors on each region, relative to threshold × interval",
		kills, len(survivors))
	if len(rel) < want {
		rows = append(rows, row{what, "within 1 interval", fmt.Sprintf("%d of %d detections missing after %d intervals", want-len(rel), want, threshold+10), false})
	} else {
		rows = append(rows, row{what + " (min / median / p99 / max)", "within 1 interval",
			fmt.Sprintf("%+.2f / %+.2f / %+.2f / %+.2f intervals (%d of %d from the survivors' logs, the rest from polls; a poll of %d daemons: median %v, max %v)", rel[0], pct(rel, 0.5), pct(rel, 0.99), rel[len(rel)-1],
				fromLog, len(rel), len(survivors), median(polls).Round(time.Millisecond), slices.Max(polls).Round(time.Millisecond)),
			rel[0] >= -1 && rel[len(rel)-1] <= 1})
	}
	rows = append(rows, row{label + ": false deaths (a live node missing from a survivor's region, on any poll)", "0",
		fmt.Sprintf("%d over %d polls", falseDeaths, len(polls)), falseDeaths == 0})
	b.stopAll()
	return rows
}

// pct returns the p-quantile of v (nearest rank, 0 ≤ p ≤ 1).
func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(math.Ceil(p*float64(len(s)-1)))]
}

// downKey is a region's UUID (uuidKey) and a peer's node number.
type downKey struct {
	region string
	node   int
}

// eventTimes returns when a daemon's log (slog's text lines) says msg
// ("node up", "node down") of each peer on each region, at since or
// later: the first such line, or the last where latest.
func eventTimes(log, msg string, since time.Time, latest bool) map[downKey]time.Time {
	evs := map[downKey]time.Time{}
	for line, t := range msgLines(log, msg) {
		if t.Before(since.Truncate(time.Millisecond)) {
			continue
		}
		peer, err := strconv.Atoi(logField(line, "peer"))
		if err != nil {
			continue
		}
		k := downKey{uuidKey(logField(line, "region")), peer}
		if _, ok := evs[k]; !ok || latest {
			evs[k] = t
		}
	}
	return evs
}

// regionTimes returns when a daemon's log first says msg ("starting
// heartbeat") of each region, by its UUID's uuidKey.
func regionTimes(log, msg string) map[string]time.Time {
	first := map[string]time.Time{}
	for line, t := range msgLines(log, msg) {
		if k := uuidKey(logField(line, "region")); first[k].IsZero() {
			first[k] = t
		}
	}
	return first
}

// msgLines yields the lines of log (slog's text lines) whose message is
// msg, with their times; a line whose time does not parse is left out.
func msgLines(log, msg string) iter.Seq2[string, time.Time] {
	return func(yield func(string, time.Time) bool) {
		for line := range strings.Lines(log) {
			if !strings.Contains(line, `msg="`+msg+`"`) {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, logField(line, "time"))
			if err == nil && !yield(line, t) {
				return
			}
		}
	}
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// uuidKey is a volume UUID as hex digits in upper case, however written.
func uuidKey(u string) string {
	return strings.ToUpper(strings.ReplaceAll(u, "-", ""))
}

// logField is the unquoted value of key in a slog text line, or "".
func logField(line, key string) string {
	i := strings.Index(" "+line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+1:]
	if j := strings.IndexAny(v, " \n"); j >= 0 {
		v = v[:j]
	}
	return v
}
