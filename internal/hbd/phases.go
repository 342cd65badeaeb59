package hbd

import (
	"math/bits"
	"slices"
	"time"
)

// Phases is how many phases of the interval the daemon can place its
// regions on. Regions of one phase tick together and share the wake-ups
// of the runtime, which are most of a region's CPU cost besides its
// device calls; regions of different phases do not queue behind each
// other. A new region joins the first phase with room (PhaseShare), and
// phases are taken in an order that keeps those in use evenly spread:
// 0, 1/2, 1/4, 3/4, 1/8... of the interval.
const Phases = 64

// PhaseShare is the time of the interval a region of a phase counts for:
// a phase holds interval/PhaseShare regions, all 32 regions of a
// 2 s interval, 25 of a 200 ms interval. An iteration costs 0.1 to 0.3 ms
// of CPU and device time, so that a phase's iterations are done within a
// few percent of the interval.
const PhaseShare = 8 * time.Millisecond

// freePhase returns the first phase with room for r, or, all full, the
// least used one. d.mu held.
func (d *Daemon) freePhase(r *region) int {
	use := d.phaseUse(r)
	room := max(1, int(d.cfg.Interval/PhaseShare))
	best := 0
	for p := range use {
		if use[p] < room {
			return p
		}
		if use[p] < use[best] {
			best = p
		}
	}
	return best
}

// phaseUse counts the started regions of each phase but except. d.mu
// held.
func (d *Daemon) phaseUse(except *region) [Phases]int {
	var use [Phases]int
	for _, o := range d.regions {
		if o != except && o.eng != nil {
			use[o.phase]++
		}
	}
	return use
}

// anchor is the origin of phase p's grid: phase p lies at the bit
// reversal of p (in Phases) sixty-fourths of the interval, so that the
// first n phases are spread over it evenly.
func (d *Daemon) anchor(p int) time.Time {
	return d.epoch.Add(time.Duration(bits.Reverse8(uint8(p))>>2) * d.cfg.Interval / Phases)
}

// MaxProcs bounds the Ps (GOMAXPROCS) that ensureProcs asks for.
const MaxProcs = 64

// procHold is how long a region's device call may hold a P, as the
// daemon sizes its Ps: a read or write of an image file or a disk takes
// 0.1 to 1 ms.
const procHold = time.Millisecond

// ensureProcs asks Config.Procs for enough Ps (GOMAXPROCS) for the
// regions of the largest phase, r's included, to begin their iterations
// within 1% of the interval. A region's loop keeps its P
// while a device call blocks, until the call returns or the runtime's
// monitor takes the P back (20 µs to 10 ms later); the regions of a
// phase become runnable at once, so that with only as many Ps as CPUs,
// those behind blocked calls began their iterations tens of milliseconds
// late (256 regions at 200 ms on 2 CPUs: p99 11% of the interval, 1.8%
// with 16 Ps). A blocked call uses no CPU, so Ps beyond the CPUs cost
// little. Whether and how the process follows is the hook's (the daemon
// command only ever raises GOMAXPROCS, and leaves a GOMAXPROCS set in the
// environment alone). d.mu held.
func (d *Daemon) ensureProcs(r *region) {
	if d.cfg.Procs == nil {
		return
	}
	use := d.phaseUse(r)
	use[r.phase]++
	budget := max(d.cfg.Interval/100, time.Microsecond)
	d.cfg.Procs(min(int((time.Duration(slices.Max(use[:]))*procHold+budget-1)/budget), MaxProcs))
}
