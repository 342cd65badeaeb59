package hbdisk

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults, as the kernel's o2hb.
const (
	DefaultInterval      = 2000 * time.Millisecond // O2HB_REGION_TIMEOUT_MS
	DefaultDeadThreshold = 31                      // O2HB_DEFAULT_DEAD_THRESHOLD
	deadMSPerIteration   = 2000                    // the kernel writes dead_threshold * 2000
)

// SteadyReads is how many clean iterations (read and write both done, own
// slot intact) make a starting region steady: reads at 0, 1 and 2
// intervals, so that every peer writing at our interval has been seen to
// change twice, which is all liveness needs.
const SteadyReads = 3

// MaxStartIterations bounds a start: a region not steady after this many
// iterations fails (the kernel gives up after three times its steady
// count as well).
const MaxStartIterations = 3 * SteadyReads

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

// Errors a region ends with; callers test them with errors.Is.
var (
	ErrCollision = errors.New("another node is heartbeating with our node number")
	ErrIOTimeout = errors.New("heartbeat I/O did not complete in time")
	ErrUnsteady  = errors.New("unable to stabilize heartbeat")
	ErrStopped   = errors.New("region stopped")
	ErrOutside   = errors.New("write outside the heartbeat area")
)

// Geometry places a region's slots on its device.
type Geometry struct {
	BlockBytes int    // slot size: the device's logical sector size
	StartBlock uint64 // first slot, in BlockBytes units
	Blocks     int    // number of slots (255 for OCFS2)
}

// SlotOffset returns the byte offset of node's slot.
func (g Geometry) SlotOffset(node int) int64 {
	return int64(g.StartBlock+uint64(node)) * int64(g.BlockBytes)
}

func (g Geometry) validate() error {
	if !ValidSlotSize(g.BlockBytes) {
		return fmt.Errorf("block size %d: %w", g.BlockBytes, ErrSlotSize)
	}
	if g.Blocks < 1 || g.Blocks > MaxNodes {
		return fmt.Errorf("%d blocks: must be 1 to %d", g.Blocks, MaxNodes)
	}
	if g.StartBlock > (1<<62)/uint64(g.BlockBytes) {
		return fmt.Errorf("start block %d is beyond any device", g.StartBlock)
	}
	return nil
}

// Extent is a byte range of the device, [Offset, Offset+Bytes).
type Extent struct{ Offset, Bytes int64 }

func (e Extent) contains(off, n int64) bool {
	return off >= e.Offset && n >= 0 && off+n <= e.Offset+e.Bytes
}

// Config describes one region on one node.
type Config struct {
	UUID   string // region name, for messages
	Device string // device or image path, for messages and the default Open

	// Open opens the device; nil opens Device with OpenDirect.
	Open func() (Device, error)
	// Verify checks, after every open and before the first write through
	// it, that the device still holds this region (superblock signature
	// and UUID); nil checks nothing.
	Verify func(Device) error

	Geometry Geometry
	// Extent bounds every write in addition to the slot area; the zero
	// value leaves only the slot area.
	Extent Extent

	Node  int   // our node number
	Nodes []int // configured node numbers; nil: every slot

	Interval time.Duration // between iterations; DefaultInterval if 0
	// Anchor places the iterations of a steady region on the grid
	// Anchor + k*Interval, so that a daemon can spread its regions over
	// the interval instead of letting them tick in lockstep. A starting
	// region keeps its own grid from its first iteration (start needs
	// reads exactly one interval apart); once steady, one iteration
	// moves to the nearest grid point, at most half an interval off.
	// The zero value keeps the grid of the first iteration.
	Anchor        time.Time
	DeadThreshold int // iterations; DefaultDeadThreshold if 0
	// IOTimeout is how long the region may go without a completed write
	// before it fails; (DeadThreshold-1)*Interval if 0, as the kernel.
	IOTimeout time.Duration

	Logger  *slog.Logger // nil: discard
	OnEvent func(Event)  // called on the region's goroutine; must not block
	// QuietEnd leaves logging a failure to the caller (Err, once Done is
	// closed), which knows what follows it: the region then logs how it
	// ended only for a clean stop.
	QuietEnd bool
}

// Status is a snapshot of a region.
type Status struct {
	UUID       string
	Device     string
	Node       int
	Geometry   Geometry
	State      State
	Err        string // why the region failed or stopped writing
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
	// device holds our heartbeat. A hung or lying device stops it.
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

// Region heartbeats on one device as one node. NewRegion, then Start;
// Stop ends it with a clean-stop block.
type Region struct {
	cfg     Config
	log     *slog.Logger
	deadMS  uint32
	lo, hi  int // read range of node numbers
	tracker *Tracker

	gen      uint64
	stop     chan struct{}
	stopOnce sync.Once
	steady   chan struct{}
	done     chan struct{} // closed when the region has ended: loop exit, or a hung call
	doneOnce sync.Once
	err      error // why the region ended; read after done

	watchdog *time.Timer  // fails the region when a device call outlives the deadline
	hung     atomic.Bool  // the watchdog fired: the loop ends when the call returns
	ioSince  atomic.Int64 // unix nanos when the current call began; 0 if none
	tid      atomic.Int32 // the loop's OS thread once pinned for an I/O priority
	prio     chan prioRequest
	started  atomic.Bool

	dev  Device // used by the loop goroutine only
	rbuf []byte
	// The previous read, for slots that did not change: rbuf and prev
	// swap after every read that fed the tracker, and valid[i] says
	// that slot i of prev was checked, with result checked[i].
	prev        []byte
	valid       []bool
	checked     []error
	wbuf        Slot
	lastSeq     uint64 // seq of the last completed write
	tried       uint64 // seq of the last write attempted: a failed write may still land
	written     bool
	seeded      bool         // the tracker has the first read's slots
	lastGood    time.Time    // last completed write (or start)
	lastErr     atomic.Value // string: the last error a device call returned
	loggedIO    string       // the device errors last logged; "" once I/O works
	staleLogged bool         // the last read of our slot was stale
	clean       int          // clean iterations while starting

	mu       sync.Mutex
	st       Status
	lateness [LatenessWindow]time.Duration // ring of recent lateness samples
}

// LatenessWindow is how many recent iterations the lateness percentiles
// of Status cover.
const LatenessWindow = 256

// NewRegion checks cfg and returns a region ready to Start.
func NewRegion(cfg Config) (*Region, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.DeadThreshold == 0 {
		cfg.DeadThreshold = DefaultDeadThreshold
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = time.Duration(cfg.DeadThreshold-1) * cfg.Interval
	}
	where := cfg.UUID
	if where == "" {
		where = cfg.Device
	}
	if cfg.Interval < time.Millisecond {
		return nil, fmt.Errorf("region %s: interval %v is below 1ms", where, cfg.Interval)
	}
	if err := cfg.Geometry.validate(); err != nil {
		return nil, fmt.Errorf("region %s: %w", where, err)
	}
	g := cfg.Geometry
	if cfg.Node < 0 || cfg.Node >= g.Blocks {
		return nil, fmt.Errorf("region %s: node %d is outside the region's slots 0..%d", where, cfg.Node, g.Blocks-1)
	}
	nodes := cfg.Nodes
	if nodes == nil {
		nodes = make([]int, g.Blocks)
		for i := range nodes {
			nodes[i] = i
		}
	}
	lo, hi := cfg.Node, cfg.Node
	for _, n := range nodes {
		if n < 0 || n >= g.Blocks {
			return nil, fmt.Errorf("region %s: configured node %d is outside the region's slots 0..%d", where, n, g.Blocks-1)
		}
		lo, hi = min(lo, n), max(hi, n)
	}
	if !slices.Contains(nodes, cfg.Node) {
		nodes = append(slices.Clone(nodes), cfg.Node)
	}
	if cfg.Extent != (Extent{}) && !cfg.Extent.contains(g.SlotOffset(cfg.Node), int64(g.BlockBytes)) {
		return nil, fmt.Errorf("region %s: node %d's slot at byte %d: %w [%d, %d)", where,
			cfg.Node, g.SlotOffset(cfg.Node), ErrOutside, cfg.Extent.Offset, cfg.Extent.Offset+cfg.Extent.Bytes)
	}
	if cfg.DeadThreshold > (1<<31)/deadMSPerIteration {
		return nil, fmt.Errorf("region %s: dead threshold %d is too large", where, cfg.DeadThreshold)
	}
	deadMS := uint32(cfg.DeadThreshold * deadMSPerIteration)
	tr, err := NewTracker(cfg.DeadThreshold, deadMS, nodes)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", where, err)
	}
	if cfg.Open == nil {
		path := cfg.Device
		cfg.Open = func() (Device, error) { return OpenDirect(path) }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("region", cfg.UUID, "device", cfg.Device, "node", cfg.Node)
	r := &Region{
		cfg: cfg, log: log, deadMS: deadMS, lo: lo, hi: hi, tracker: tr,
		stop:    make(chan struct{}),
		steady:  make(chan struct{}),
		done:    make(chan struct{}),
		prio:    make(chan prioRequest),
		rbuf:    AlignedBuffer((hi - lo + 1) * g.BlockBytes),
		prev:    AlignedBuffer((hi - lo + 1) * g.BlockBytes),
		valid:   make([]bool, hi-lo+1),
		checked: make([]error, hi-lo+1),
		wbuf:    Slot(AlignedBuffer(g.BlockBytes)),
	}
	r.st = Status{UUID: cfg.UUID, Device: cfg.Device, Node: cfg.Node, Geometry: g, State: Starting}
	return r, nil
}

// newGeneration returns a random non-zero generation.
func newGeneration() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if g := binary.LittleEndian.Uint64(b[:]); g != 0 {
			return g
		}
	}
}

// Start begins heartbeating and returns once the region is steady, or
// with the error that ended it (ErrUnsteady, ErrCollision, ErrIOTimeout,
// ...). If ctx ends first, the region is stopped and ctx's error returned.
// Start must be called once.
func (r *Region) Start(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return fmt.Errorf("region %s: already started", r.cfg.UUID)
	}
	r.gen = newGeneration()
	now := time.Now()
	r.lastGood = now
	r.mu.Lock()
	r.st.Generation, r.st.Started = r.gen, now
	r.mu.Unlock()
	r.log.Info("starting heartbeat", "generation", fmt.Sprintf("%#x", r.gen),
		"start_block", r.cfg.Geometry.StartBlock, "block_bytes", r.cfg.Geometry.BlockBytes,
		"interval", r.cfg.Interval, "dead_threshold", r.cfg.DeadThreshold)
	r.watchdog = time.AfterFunc(time.Hour, r.hang)
	r.watchdog.Stop()
	go r.run()
	select {
	case <-r.steady:
		return nil
	case <-r.done:
		if r.err == nil {
			return fmt.Errorf("region %s: start: %w before it was steady", r.cfg.UUID, ErrStopped)
		}
		return r.err
	case <-ctx.Done():
		r.requestStop()
		<-r.done
		return fmt.Errorf("region %s: start: %w", r.cfg.UUID, context.Cause(ctx))
	}
}

// Stop ends heartbeating with a clean-stop block (generation 0), which
// peers take as an explicit down. It returns when the loop has ended or
// ctx ends; the latter only when a device call hangs.
func (r *Region) Stop(ctx context.Context) error {
	r.requestStop()
	if !r.started.Load() {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("region %s: stop: device call still in flight: %w", r.cfg.UUID, context.Cause(ctx))
	}
}

func (r *Region) requestStop() { r.stopOnce.Do(func() { close(r.stop) }) }

// Done is closed when the region's loop has ended, for any reason.
func (r *Region) Done() <-chan struct{} { return r.done }

// Err returns why the loop ended: nil after Stop, else the failure. It is
// meaningful once Done is closed.
func (r *Region) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// IOThreadID returns the kernel thread id that issues the region's I/O
// once SetIOPriority has pinned it, else 0.
func (r *Region) IOThreadID() int { return int(r.tid.Load()) }

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

// do runs a device call on the loop's thread, watched: if it has not
// returned by the failure deadline, the watchdog ends the region at once
// (state failed, Done closed) while the call goes on. hung reports that;
// the loop must then end without further I/O.
func (r *Region) do(fn func() error) (err error, hung bool) {
	left := time.Until(r.lastGood.Add(r.cfg.IOTimeout))
	if left <= 0 {
		return errDeadline, false
	}
	r.ioSince.Store(time.Now().UnixNano())
	r.watchdog.Reset(left)
	err = fn()
	fired := !r.watchdog.Stop() && r.hung.Load()
	r.ioSince.Store(0)
	if fired {
		return ErrIOTimeout, true
	}
	return err, false
}

// errDeadline: the write timeout has passed before a call could begin.
var errDeadline = errors.New("write timeout passed")

// timeoutErr is how a region that could not write in time ends: with the
// last real device error, which says why.
func (r *Region) timeoutErr() error {
	last, _ := r.lastErr.Load().(string)
	if last == "" {
		last = "none"
	}
	if since := r.ioSince.Load(); since != 0 {
		last += fmt.Sprintf("; a device call has been in flight for %v", time.Since(time.Unix(0, since)).Round(time.Millisecond))
	}
	return fmt.Errorf("region %s: %w: no write to %s completed for %v; last error: %s",
		r.cfg.UUID, ErrIOTimeout, r.cfg.Device, r.cfg.IOTimeout, last)
}

// hang is the watchdog: a device call has outlived the failure deadline.
func (r *Region) hang() {
	if r.ioSince.Load() == 0 {
		return // the call returned just in time
	}
	r.hung.Store(true)
	r.end(r.timeoutErr())
}

func (r *Region) run() {
	defer func() {
		if r.dev != nil {
			r.dev.Close()
		}
	}()
	timer := time.NewTimer(r.cfg.Interval)
	defer timer.Stop()
	due := time.Now()
	for {
		if end := r.iterate(due); end != nil {
			r.end(end)
			return
		}
		due = r.nextDue(due, time.Now())
		timer.Reset(time.Until(due))
	wait:
		for {
			select {
			case <-r.stop:
				r.end(r.stopClean())
				return
			case req := <-r.prio:
				req.result <- r.applyPriority(req.ioprio)
			case <-timer.C:
				break wait
			}
		}
	}
}

// nextDue returns when the iteration after the one due at prev is due,
// now being the end of that iteration. The schedule is absolute: each
// iteration is due one interval after the previous one was due, however
// long that one took, so that the schedule does not drift. An iteration
// that overran the next due time is followed at once by one due at the
// last grid point passed, as a ticker drops ticks: no burst of catch-up
// iterations. A steady region with an anchor moves to the anchor's grid:
// to its nearest point, less than half an interval early, or to the next
// one.
func (r *Region) nextDue(prev, now time.Time) time.Time {
	iv := r.cfg.Interval
	next := prev.Add(iv)
	if !r.cfg.Anchor.IsZero() && !r.starting() {
		// The grid point nearest to next, unless that one has passed.
		off := next.Sub(r.cfg.Anchor) % iv
		if off < 0 {
			off += iv
		}
		if off != 0 {
			if back := next.Add(-off); off < iv/2 && back.After(now) {
				next = back
			} else {
				next = next.Add(iv - off)
			}
		}
	}
	if late := now.Sub(next); late > 0 {
		next = next.Add(late / iv * iv)
	}
	return next
}

// starting reports whether the region has not been steady yet.
func (r *Region) starting() bool {
	select {
	case <-r.steady:
		return false
	default:
		return true
	}
}

// prioRequest asks the loop to set the I/O priority of its thread.
type prioRequest struct {
	ioprio int
	result chan error
}

// applyPriority pins the loop to its OS thread, once, and sets that
// thread's I/O priority: from then on one thread issues the region's I/O.
// Unpinned, the loop costs fewer thread switches.
func (r *Region) applyPriority(ioprio int) error {
	if r.tid.Load() == 0 {
		runtime.LockOSThread()
		r.tid.Store(int32(unix.Gettid()))
	}
	const ioprioWhoProcess = 1 // with a thread id: that thread
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(r.tid.Load()), uintptr(ioprio)); e != 0 {
		return fmt.Errorf("ioprio_set on thread %d: %w", r.tid.Load(), e)
	}
	return nil
}

// IOPriority values for SetIOPriority: the real-time class at a level
// from 0 (highest) to 7, as ionice -c1 -n<level> sets it.
func IOPriorityRealtime(level int) int { return 1<<13 | level&7 }

// SetIOPriority sets the I/O priority (an ioprio_set value) of the thread
// that issues the region's I/O, pinning the loop to that thread. It
// returns the thread id once applied.
func (r *Region) SetIOPriority(ctx context.Context, ioprio int) (tid int, err error) {
	req := prioRequest{ioprio: ioprio, result: make(chan error, 1)}
	select {
	case r.prio <- req:
	case <-r.done:
		return 0, fmt.Errorf("region %s: %w", r.cfg.UUID, ErrStopped)
	case <-ctx.Done():
		return 0, fmt.Errorf("region %s: set I/O priority: %w", r.cfg.UUID, context.Cause(ctx))
	}
	if err := <-req.result; err != nil {
		return 0, fmt.Errorf("region %s: %w", r.cfg.UUID, err)
	}
	return int(r.tid.Load()), nil
}

// end records how the region ended, once: the first of the loop's end and
// the watchdog wins.
func (r *Region) end(err error) {
	r.doneOnce.Do(func() { r.finish(err) })
}

// finish records how the region ended and closes done.
func (r *Region) finish(err error) {
	defer close(r.done)
	r.err = err
	st := Stopped
	switch {
	case errors.Is(err, ErrCollision):
		st = Collision
	case err != nil:
		st = Failed
	}
	r.mu.Lock()
	r.st.State = st
	r.st.LiveNodes = nil
	if err != nil {
		r.st.Err = err.Error()
	}
	r.mu.Unlock()
	switch {
	case err != nil && !r.cfg.QuietEnd:
		r.log.Error("heartbeat region ended", "state", st, "err", err)
	case err == nil:
		r.log.Info("heartbeat stopped")
	}
}

// open makes sure the device is open and verified.
func (r *Region) open() error {
	if r.dev != nil {
		return nil
	}
	dev, err := r.cfg.Open()
	if err != nil {
		return err
	}
	if r.cfg.Verify != nil {
		if err := r.cfg.Verify(dev); err != nil {
			dev.Close()
			return fmt.Errorf("verify %s: %w", r.cfg.Device, err)
		}
	}
	r.dev = dev
	return nil
}

// reopenLater drops the device after an error, so that the next iteration
// opens and verifies it again.
func (r *Region) reopenLater() {
	if r.dev != nil {
		r.dev.Close()
		r.dev = nil
	}
}

// iterate runs one heartbeat iteration due at due: read the configured
// slots, check our own, write ours, feed the tracker. It returns non-nil
// when the region must end.
func (r *Region) iterate(due time.Time) error {
	begin := time.Now()
	late := max(begin.Sub(due), 0)
	g := r.cfg.Geometry
	readOff := g.SlotOffset(r.lo)
	var readErr, writeErr error

	err, hung := r.do(func() error {
		if err := r.open(); err != nil {
			return err
		}
		n, err := r.dev.ReadAt(r.rbuf, readOff)
		if err == nil && n != len(r.rbuf) {
			err = fmt.Errorf("short read: %d of %d bytes", n, len(r.rbuf))
		}
		if err != nil {
			r.reopenLater()
			return fmt.Errorf("read slots %d-%d of %s: %w", r.lo, r.hi, r.cfg.Device, err)
		}
		return nil
	})
	if hung {
		// The watchdog ends the region with timeoutErr; should this
		// return win the race to end it, it must say the same.
		return r.timeoutErr()
	}
	if errors.Is(err, errDeadline) {
		return r.timeoutErr()
	}
	readErr = err

	// Another writer on our slot ends the region, but only after this
	// iteration's write: the other writer then finds our block in its
	// slot and stops as well, instead of writing on alone.
	var collision error
	var stale bool
	var ownRead time.Time // when our slot read back as we wrote it
	if readErr == nil && r.written {
		stale, collision = r.checkOwn()
		r.logStale(stale)
		if !stale && collision == nil {
			ownRead = time.Now()
		}
	}

	if readErr == nil && !r.seeded {
		r.continueSeq()
	}
	seq := r.nextSeq()
	r.tried = seq
	r.wbuf.Encode(Block{Seq: seq, Node: uint8(r.cfg.Node), Generation: r.gen, DeadMS: r.deadMS})
	var wlat time.Duration
	err, hung = r.do(func() error {
		if err := r.open(); err != nil {
			return err
		}
		wstart := time.Now()
		err := r.write(r.wbuf)
		wlat = time.Since(wstart)
		return err
	})
	if hung {
		// The watchdog ends the region with timeoutErr; should this
		// return win the race to end it, it must say the same.
		return r.timeoutErr()
	}
	if collision != nil {
		return collision
	}
	if errors.Is(err, errDeadline) {
		return r.timeoutErr()
	}
	writeErr = err
	now := time.Now()
	if writeErr == nil {
		r.lastSeq, r.written, r.lastGood = seq, true, now
	}

	var evs []Event
	if readErr == nil {
		for n := r.lo; n <= r.hi; n++ {
			if !r.tracker.Configured(n) {
				continue
			}
			s := Slot(r.rbuf[(n-r.lo)*g.BlockBytes : (n-r.lo+1)*g.BlockBytes])
			if r.seeded {
				evs = r.tracker.Observe(evs, n, s, r.validate(n, s))
			} else {
				r.tracker.Seed(n, s)
			}
		}
		r.seeded = true
		r.rbuf, r.prev = r.prev, r.rbuf
	}
	r.report(evs)

	r.mu.Lock()
	st := &r.st
	st.Iterations++
	st.Lateness, st.MaxLateness = late, max(st.MaxLateness, late)
	r.lateness[(st.Iterations-1)%LatenessWindow] = late
	if readErr != nil {
		st.ReadErrors++
	} else {
		st.Reads++
		st.BytesRead += uint64(len(r.rbuf))
	}
	if stale {
		st.StaleReads++
	}
	if !ownRead.IsZero() {
		st.OwnSlotRead = ownRead
	}
	if writeErr != nil {
		st.WriteErrors++
	} else {
		st.Writes++
		st.BytesWritten += uint64(len(r.wbuf))
		st.Seq, st.LastWrite = seq, now
		st.WriteLatency, st.MaxWriteLatency = wlat, max(st.MaxWriteLatency, wlat)
	}
	for _, e := range evs {
		switch e.Kind {
		case BadBlock:
			st.BadBlocks++
		case NodeUp, NodeDown:
			// Only these change who is live: no new slice otherwise.
			// Status hands out copies, so the old one is never written.
			st.LiveNodes = r.tracker.LiveNodes()
		}
	}
	iterations := st.Iterations
	starting := st.State == Starting
	if starting && readErr == nil && writeErr == nil {
		r.clean++
		if r.clean >= SteadyReads {
			st.State, st.SteadyAt = Steady, now
			close(r.steady)
			r.log.Info("heartbeat steady", "after", now.Sub(st.Started), "iterations", iterations, "live_nodes", st.LiveNodes)
		}
	}
	stillStarting := st.State == Starting
	r.mu.Unlock()

	r.logIO(readErr, writeErr)
	if stillStarting && iterations >= MaxStartIterations {
		return fmt.Errorf("region %s: %w after %d iterations (%d clean): last errors: read: %v, write: %v",
			r.cfg.UUID, ErrUnsteady, iterations, r.clean, readErr, writeErr)
	}
	if time.Since(r.lastGood) >= r.cfg.IOTimeout {
		return r.timeoutErr()
	}
	return nil
}

// logIO logs the iteration's device errors once per change, read and
// write errors in one line: a device failing the same way every
// iteration is one warning, the counters of
// Status count every error, and the first clean iteration after errors
// says the device answers again.
func (r *Region) logIO(readErr, writeErr error) {
	if readErr == nil && writeErr == nil {
		if r.loggedIO != "" {
			r.log.Info("heartbeat I/O works again", "after", strings.TrimSpace(r.loggedIO))
			r.loggedIO = ""
		}
		return
	}
	key := ""
	for _, e := range []error{readErr, writeErr} {
		if e != nil {
			r.lastErr.Store(e.Error())
			key += e.Error() + "\n"
		}
	}
	if key == r.loggedIO {
		return
	}
	r.loggedIO = key
	var attrs []any
	if readErr != nil {
		attrs = append(attrs, "read_err", readErr)
	}
	if writeErr != nil {
		attrs = append(attrs, "write_err", writeErr)
	}
	r.log.Warn("heartbeat I/O error; logged again only when it changes", attrs...)
}

// validate returns s.Validate(n) for node n's slot as just read, from
// the previous read when the slot holds the same bytes: the check is a
// function of the bytes, and most slots of a region (nodes not running,
// peers between two writes) do not change from one read to the next.
func (r *Region) validate(n int, s Slot) error {
	i := n - r.lo
	bb := len(s)
	if r.valid[i] && string(s) == string(r.prev[i*bb:(i+1)*bb]) {
		return r.checked[i]
	}
	err := s.Validate(n)
	r.valid[i], r.checked[i] = true, err
	return err
}

// nextSeq returns the sequence number of the next write: wall-clock
// seconds as the kernel writes, but always past the last one attempted,
// so that sub-second intervals still change the slot every iteration.
func (r *Region) nextSeq() uint64 {
	return max(uint64(max(time.Now().Unix(), 1)), r.tried+1)
}

// continueSeq makes our first write go past the seq found in our slot by
// the first read, when that block is a valid one of our node: a daemon
// killed and restarted within the same second (or one whose sub-second
// interval ran seq ahead of the clock) would otherwise write a seq the
// slot already holds, an unchanged sample that keeps this node from
// being live in the region when it becomes steady, and for peers.
func (r *Region) continueSeq() {
	bb := r.cfg.Geometry.BlockBytes
	i := r.cfg.Node - r.lo
	own := Slot(r.rbuf[i*bb : (i+1)*bb])
	if own.Validate(r.cfg.Node) == nil && own.Seq() < math.MaxUint64/2 {
		r.tried = max(r.tried, own.Seq())
	}
}

// write writes our slot after checking that its offset lies inside the
// slot area and the extent. It runs on the I/O thread.
func (r *Region) write(s Slot) error {
	g := r.cfg.Geometry
	off, n := g.SlotOffset(r.cfg.Node), int64(len(s))
	area := Extent{Offset: g.SlotOffset(0), Bytes: int64(g.Blocks) * int64(g.BlockBytes)}
	if !area.contains(off, n) || (r.cfg.Extent != (Extent{}) && !r.cfg.Extent.contains(off, n)) {
		return fmt.Errorf("slot of node %d at byte %d: %w", r.cfg.Node, off, ErrOutside)
	}
	w, err := r.dev.WriteAt(s, off)
	if err == nil && w != len(s) {
		err = fmt.Errorf("short write: %d of %d bytes", w, len(s))
	}
	if err != nil {
		r.reopenLater()
		return fmt.Errorf("write slot %d of %s: %w", r.cfg.Node, r.cfg.Device, err)
	}
	return nil
}

// checkOwn compares our slot as just read with what we wrote last. A
// block of ours that is older than the last one we wrote is no other
// writer (the generation is ours) but a device returning stale data:
// stale, not a collision. The kernel only logs either; we stop on a
// collision (DESIGN) and feed a stale read to the tracker like any read,
// so that our own slot, unchanged, takes us out of the region's live
// nodes after the dead threshold.
func (r *Region) checkOwn() (stale bool, collision error) {
	bb := r.cfg.Geometry.BlockBytes
	i := r.cfg.Node - r.lo
	got := Slot(r.rbuf[i*bb : (i+1)*bb])
	if got.Generation() == r.gen && int(got.Node()) == r.cfg.Node && got.Validate(r.cfg.Node) == nil {
		switch {
		case got.Seq() == r.lastSeq || got.Seq() == r.tried:
			return false, nil
		case got.Seq() < r.lastSeq:
			return true, nil
		}
	}
	return false, r.collisionError(got)
}

// collisionError says what another writer left in our slot. It leads
// with both generations in short form (8 hex digits), so that an exit
// reason, of which Pacemaker keeps 128 characters, names them; the full
// values follow for the log.
func (r *Region) collisionError(got Slot) error {
	short := func(g uint64) string { return fmt.Sprintf("%016x", g)[:8] }
	var what string
	switch {
	case errors.Is(got.Validate(r.cfg.Node), ErrChecksum):
		what = fmt.Sprintf("bad checksum in our slot (gen %s), ours %s", short(got.Generation()), short(r.gen))
	case int(got.Node()) != r.cfg.Node:
		what = fmt.Sprintf("node %d gen %s in our slot, ours %s", got.Node(), short(got.Generation()), short(r.gen))
	case got.Generation() != r.gen:
		what = fmt.Sprintf("gen %s in our slot, ours %s", short(got.Generation()), short(r.gen))
	default:
		what = fmt.Sprintf("seq %d in our slot, we wrote %d (gen %s)", got.Seq(), r.lastSeq, short(r.gen))
	}
	return fmt.Errorf("region %s: %s: %w; on %s we wrote seq %d generation %#x, found seq %d generation %#x node %d",
		r.cfg.UUID, what, ErrCollision, r.cfg.Device, r.lastSeq, r.gen, got.Seq(), got.Generation(), got.Node())
}

// logStale logs a device that returns stale data once per transition;
// the iteration counts every stale read.
func (r *Region) logStale(stale bool) {
	if stale == r.staleLogged {
		return
	}
	r.staleLogged = stale
	if stale {
		r.log.Error("the device returns stale data: our slot reads back an older block of ours; our own heartbeat counts as unchanged until it reads back what we write",
			"generation", fmt.Sprintf("%#x", r.gen), "wrote_seq", r.lastSeq)
		return
	}
	r.log.Info("the device returns current data again")
}

// stopClean writes the clean-stop block: a new seq with generation 0.
func (r *Region) stopClean() error {
	if !r.written {
		return nil
	}
	seq := r.nextSeq()
	r.wbuf.Encode(Block{Seq: seq, Node: uint8(r.cfg.Node), Generation: 0, DeadMS: r.deadMS})
	err, hung := r.do(func() error {
		if err := r.open(); err != nil {
			return err
		}
		return r.write(r.wbuf)
	})
	if err != nil || hung {
		// Peers will time us out instead; the region is stopped anyway.
		r.log.Warn("could not write the clean-stop block", "err", err)
		return nil
	}
	r.mu.Lock()
	r.st.Seq, r.st.LastWrite = seq, time.Now()
	r.mu.Unlock()
	return nil
}

// report logs the events and hands them to OnEvent.
func (r *Region) report(evs []Event) {
	for _, e := range evs {
		switch e.Kind {
		case NodeUp:
			r.log.Info("node up", "peer", e.Node, "generation", fmt.Sprintf("%#x", e.Generation))
		case NodeDown:
			r.log.Warn("node down", "peer", e.Node, "reason", e.Reason, "generation", fmt.Sprintf("%#x", e.Generation))
		case BadBlock:
			r.log.Warn("bad heartbeat block", "peer", e.Node, "err", e.Reason)
		case BlockRecovered:
			r.log.Info("heartbeat block valid again", "peer", e.Node)
		case DeadMSMismatch:
			r.log.Error("peer has a different dead threshold; check O2CB_HEARTBEAT_THRESHOLD / dead_threshold on every node",
				"peer", e.Node, "peer_dead_ms", e.DeadMS, "our_dead_ms", r.deadMS)
		}
		if r.cfg.OnEvent != nil {
			r.cfg.OnEvent(e)
		}
	}
}
