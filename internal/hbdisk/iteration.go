package hbdisk

import (
	"errors"
	"fmt"
	"math"
	"time"
)

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
// slots, check our own, write ours, feed the tracker; a read-only region
// only reads and feeds the tracker. It returns non-nil when the region
// must end.
func (r *Region) iterate(due time.Time) error {
	begin := time.Now()
	late := max(begin.Sub(due), 0)
	g := r.cfg.Geometry
	readOff := g.SlotOffset(r.lo)
	var readErr error

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

	var (
		writeErr error
		seq      uint64
		wlat     time.Duration
		now      time.Time
	)
	if r.cfg.ReadOnly {
		// An observer's deadline runs from its last completed read.
		now = time.Now()
		if readErr == nil {
			r.lastGood = now
		}
	} else {
		if readErr == nil && !r.seeded {
			r.continueSeq()
		}
		seq = r.nextSeq()
		r.tried = seq
		r.wbuf.Encode(Block{Seq: seq, Node: uint8(r.cfg.Node), Generation: r.gen, DeadMS: r.deadMS})
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
		now = time.Now()
		if writeErr == nil {
			r.lastSeq, r.written, r.lastGood = seq, true, now
		}
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
		if r.cfg.ReadOnly && r.tracker.Live(r.cfg.Node) && r.tracker.Missed(r.cfg.Node) == 0 {
			// Our slot changed in this read and its writer is live:
			// the device holds this node's heartbeat, written by
			// someone else.
			ownRead = now
		}
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
	switch {
	case r.cfg.ReadOnly:
	case writeErr != nil:
		st.WriteErrors++
	default:
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
		return regionErrorf(r.cfg.UUID, "%w after %d iterations (%d clean): last errors: read: %v, write: %v",
			ErrUnsteady, iterations, r.clean, readErr, writeErr)
	}
	if time.Since(r.lastGood) >= r.cfg.IOTimeout {
		return r.timeoutErr()
	}
	return nil
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
	if r.cfg.ReadOnly {
		return fmt.Errorf("slot of node %d: %w", r.cfg.Node, errReadOnly)
	}
	g := r.cfg.Geometry
	off, n := g.SlotOffset(r.cfg.Node), int64(len(s))
	if !g.WriteInside(r.cfg.Extent, off, n) {
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

// errReadOnly: a write was about to go through a read-only region; no
// path does that, this stops one that would.
var errReadOnly = errors.New("write refused: the region is read-only")

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
	what := "write to"
	if r.cfg.ReadOnly {
		what = "read of"
	}
	return regionErrorf(r.cfg.UUID, "%w: no %s %s completed for %v; last error: %s",
		ErrIOTimeout, what, r.cfg.Device, r.cfg.IOTimeout, last)
}

// hang is the watchdog: a device call has outlived the failure deadline.
func (r *Region) hang() {
	if r.ioSince.Load() == 0 {
		return // the call returned just in time
	}
	r.hung.Store(true)
	r.end(r.timeoutErr())
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
