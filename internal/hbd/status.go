package hbd

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Status returns every region and the union of live nodes.
func (d *Daemon) Status() *hbclient.Status {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	st := &hbclient.Status{
		Node: hbclient.Node{Name: d.node.Name, Number: d.node.Number}, Cluster: d.cluster, Mode: string(d.mode),
		Backend:    d.cfg.Backend,
		IntervalMS: int(d.cfg.Interval / time.Millisecond), DeadThreshold: d.cfg.DeadThreshold,
		PID: os.Getpid(), Regions: []hbclient.RegionStatus{}, LiveNodes: []int{}, KernelPeer: d.kernelPeer,
	}
	live := map[int]bool{}
	for _, uuid := range slices.Sorted(maps.Keys(d.regions)) {
		rs := regionStatus(d.regions[uuid], now)
		for _, n := range rs.LiveNodes {
			live[n] = true
		}
		st.Regions = append(st.Regions, rs)
	}
	for n := range live {
		st.LiveNodes = append(st.LiveNodes, n)
	}
	sort.Ints(st.LiveNodes)
	return st
}

// Info returns one region.
func (d *Daemon) Info(uuid string) (*hbclient.RegionStatus, error) {
	uuid, err := normalizeOrBad(uuid)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.regions[uuid]
	if r == nil {
		return nil, notRunning(uuid)
	}
	rs := regionStatus(r, time.Now())
	return &rs, nil
}

// regionStatus snapshots r. d.mu held; never waits on a device.
func regionStatus(r *region, now time.Time) hbclient.RegionStatus {
	rs := hbclient.RegionStatus{
		UUID: r.uuid, Device: r.device,
		BlockBytes: r.spec.Geometry.BlockBytes, StartBlock: r.spec.Geometry.StartBlock, Blocks: r.spec.Geometry.Blocks,
		State: hbclient.StateStarting, LiveNodes: []int{}, Refs: r.refs(), LastWriteAge: -1, OwnSlotAge: -1,
	}
	rs.Failures, rs.Collisions, rs.Restarts = r.failures, r.collisions, r.restarts
	for _, o := range slices.Sorted(maps.Keys(r.owners)) {
		rs.Owners = append(rs.Owners, hbclient.Owner{Name: o, Refs: r.owners[o]})
	}
	if r.eng == nil {
		if r.startErr != nil {
			rs.State, rs.Error = hbclient.StateFailed, message(r.uuid, r.startErr)
		}
		return rs
	}
	st := r.eng.Status()
	rs.State, rs.Error = wireState(st.State), st.Err
	if st.State == hbdisk.Starting && r.failure != "" && r.retry == nil {
		rs.Error = "restarting after a failure: " + r.failure
	}
	if st.Generation != 0 {
		rs.Generation = fmt.Sprintf("%#016x", st.Generation)
	}
	if st.LiveNodes != nil {
		rs.LiveNodes = st.LiveNodes
	}
	rs.LastWriteAge = ageSeconds(st.LastWrite, now)
	rs.OwnSlotAge = ageSeconds(st.OwnSlotRead, now)
	rs.WriteLatency = float64(st.WriteLatency) / float64(time.Millisecond)
	rs.IOInFlight = st.IOInFlight.Seconds()
	rs.ReadErrors, rs.WriteErrors, rs.BadBlocks, rs.Iterations = st.ReadErrors, st.WriteErrors, st.BadBlocks, st.Iterations
	rs.StaleReads = st.StaleReads
	rs.LatenessP50 = float64(st.LatenessP50) / float64(time.Millisecond)
	rs.LatenessP99 = float64(st.LatenessP99) / float64(time.Millisecond)
	rs.Reads, rs.Writes, rs.BytesRead, rs.BytesWritten = st.Reads, st.Writes, st.BytesRead, st.BytesWritten
	rs.IOThread = r.eng.IOThreadID()
	if rt := r.retry; rt != nil && st.State != hbdisk.Steady {
		retryStatus(&rs, r, rt, now)
	}
	return rs
}

// wireState is the state of an engine as status reports it: the same
// word (TestWireState).
func wireState(s hbdisk.State) hbclient.State { return hbclient.State(s) }

// ageSeconds is the age of t in seconds, or -1 for the zero time.
func ageSeconds(t time.Time, now time.Time) float64 {
	if t.IsZero() {
		return -1
	}
	return now.Sub(t).Seconds()
}

// retryStatus reports a region the daemon retries: failed, until a
// retry is steady, with the retries so far and the next one. d.mu held.
func retryStatus(rs *hbclient.RegionStatus, r *region, rt *retrying, now time.Time) {
	rs.State, rs.Retries = hbclient.StateFailed, rt.attempts
	if r.failure != "" {
		rs.Error = r.failure
	}
	switch {
	case rt.running:
		rs.Retrying = true
	case rt.blocked != "":
		rs.RetryBlocked = rt.blocked
	default:
		rs.RetryAt = rt.next.Format(hbclient.RetryTimeFormat)
		left := max(rt.next.Sub(now), 0).Seconds()
		rs.NextRetry = &left
	}
}
