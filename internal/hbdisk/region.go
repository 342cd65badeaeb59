package hbdisk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// SteadyReads is how many clean iterations (read and write both done, own
// slot intact; for a read-only region, the read done) make a starting
// region steady: reads at 0, 1 and 2 intervals, the first seeding the
// tracker and the next two sampling every slot, so that every node
// writing at our interval has been seen to change twice, which is all
// liveness needs (LiveThreshold). An observer's Start therefore returns
// with the same picture of the region a writer's would.
const SteadyReads = 3

// MaxStartIterations bounds a start: a region not steady after this many
// iterations fails (the kernel gives up after three times its steady
// count as well).
const MaxStartIterations = 3 * SteadyReads

// Errors a region ends with; callers test them with errors.Is.
var (
	ErrCollision = errors.New("another node is heartbeating with our node number")
	ErrIOTimeout = errors.New("heartbeat I/O did not complete in time")
	ErrUnsteady  = errors.New("unable to stabilize heartbeat")
	ErrStopped   = errors.New("region stopped")
	ErrOutside   = errors.New("write outside the heartbeat area")
)

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

// newGeneration returns a random non-zero generation, from the runtime's
// ChaCha8 generator, which the operating system's entropy seeds in every
// process, as the kernel takes its own from get_random_bytes. (crypto/rand
// would link, and initialise at every agent action, the FIPS module's
// hashes and ciphers for nothing.)
func newGeneration() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
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
		return regionErrorf(r.cfg.UUID, "already started")
	}
	if !r.cfg.ReadOnly {
		r.gen = newGeneration()
	}
	now := time.Now()
	r.lastGood = now
	r.mu.Lock()
	r.st.Generation, r.st.Started = r.gen, now
	r.mu.Unlock()
	what := "starting heartbeat"
	if r.cfg.ReadOnly {
		what = "starting to observe heartbeat (read-only)"
	}
	r.log.Info(what, "generation", fmt.Sprintf("%#x", r.gen),
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
			return regionErrorf(r.cfg.UUID, "start: %w before it was steady", ErrStopped)
		}
		return r.err
	case <-ctx.Done():
		r.requestStop()
		<-r.done
		return regionErrorf(r.cfg.UUID, "start: %w", context.Cause(ctx))
	}
}

// Stop ends heartbeating with a clean-stop block (generation 0), which
// peers take as an explicit down; a read-only region, which never
// wrote, just ends. It returns when the loop has ended or
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
		return regionErrorf(r.cfg.UUID, "stop: device call still in flight: %w", context.Cause(ctx))
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
		r.st.Err = Message(r.cfg.UUID, err)
	}
	r.mu.Unlock()
	switch {
	case err != nil && !r.cfg.QuietEnd:
		r.log.Error("heartbeat region ended", "state", st, "err", err)
	case err == nil:
		r.log.Info("heartbeat stopped")
	}
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
