package hbdisk

import "time"

// run is the region's goroutine: an iteration when one is due (nextDue),
// and in between the requests of Stop and SetIOPriority.
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
