package hbdisk

import (
	"slices"
	"time"
)

// State is a region's state.
type State string

// Region states.
const (
	Starting  State = "starting"  // heartbeating, liveness not settled yet
	Steady    State = "steady"    // heartbeating; Start has returned
	Failed    State = "failed"    // no write completed in time, or start did not settle
	Collision State = "collision" // another writer uses our node number: stopped writing
	Stopped   State = "stopped"   // stopped on request, after a clean-stop block
)

// Status is a snapshot of a region.
type Status struct {
	UUID       string
	Device     string
	Node       int
	Geometry   Geometry
	State      State
	Err        string // why the region failed or stopped writing; UUID names the region
	Generation uint64
	Seq        uint64 // last sequence number written
	LiveNodes  []int  // nodes live in this region, ours included once seen

	Iterations  uint64
	ReadErrors  uint64
	WriteErrors uint64
	BadBlocks   uint64 // slots that stopped validating (transitions)
	StaleReads  uint64 // reads that returned an older block of ours in our slot

	Started   time.Time
	SteadyAt  time.Time
	LastWrite time.Time // last completed write
	// OwnSlotRead is when our slot last read back as we wrote it: the
	// device holds our heartbeat. A hung or lying device stops it. In a
	// read-only region it is when a read last found our slot changed
	// with its node live: someone heartbeats as this node there.
	OwnSlotRead     time.Time
	WriteLatency    time.Duration
	MaxWriteLatency time.Duration
	Lateness        time.Duration // how late the last iteration began
	MaxLateness     time.Duration
	LatenessP50     time.Duration // over the last LatenessWindow iterations
	LatenessP99     time.Duration
	Reads, Writes   uint64 // device calls completed
	BytesRead       uint64
	BytesWritten    uint64
	IOInFlight      time.Duration // how long the current device call has run; 0 if none
}

// OwnLive reports whether the region sees our own heartbeat.
func (s Status) OwnLive() bool { return slices.Contains(s.LiveNodes, s.Node) }

// LatenessWindow is how many recent iterations the lateness percentiles
// of Status cover.
const LatenessWindow = 256

// Status returns a snapshot; it never waits for the device.
func (r *Region) Status() Status {
	r.mu.Lock()
	st := r.st
	st.LiveNodes = slices.Clone(r.st.LiveNodes)
	n := min(int(st.Iterations), LatenessWindow)
	recent := slices.Clone(r.lateness[:n])
	r.mu.Unlock()
	if n > 0 {
		slices.Sort(recent)
		st.LatenessP50, st.LatenessP99 = recent[(n-1)/2], recent[(n*99+99)/100-1]
	}
	if since := r.ioSince.Load(); since != 0 {
		st.IOInFlight = time.Since(time.Unix(0, since))
	}
	return st
}
