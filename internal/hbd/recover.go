package hbd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Recovery of failed regions: the policy is in the package doc (doc.go).

// retrying is the daemon retrying a failed cluster region by itself: it
// lives from the failure until a retry is steady, the region stops, or
// the region may no longer restart by itself. d.mu guards it.
type retrying struct {
	attempts int       // retries begun since the failure
	next     time.Time // when the next retry is due; zero while one runs
	running  bool      // a retry is under way
	blocked  string    // why the due retry waits; "" if it does not
	failedAt time.Time
	kick     chan struct{} // the loop looks again: a retry ended, the region stopped
}

func (rt *retrying) wake() {
	select {
	case rt.kick <- struct{}{}:
	default:
	}
}

// errHung: a failed engine's device call has not returned yet.
var errHung = errors.New("a device call of the failed heartbeat is still in flight; the region restarts once the device answers")

// stillHung reports whether eng has ended but one of its device calls
// has not returned.
func stillHung(eng backend.Engine) bool {
	select {
	case <-eng.Done():
		return eng.Status().IOInFlight > 0
	default:
		return false
	}
}

// ended reports whether eng has ended (failed or stopped).
func ended(eng backend.Engine) bool {
	select {
	case <-eng.Done():
		return true
	default:
		return false
	}
}

// recoverable reports whether the daemon restarts r by itself after its
// engine failed with err. d.mu held.
func (d *Daemon) recoverable(r *region, err error) bool {
	return err != nil && !errors.Is(err, hbdisk.ErrCollision) && d.kernelPeer == "" &&
		d.mode == clusterconf.ModeGlobal && r.owners[hbclient.OwnerGlobal] > 0
}

// lastErr is why r's last engine, or its last start, failed. d.mu held.
func lastErr(r *region) error {
	if r.startErr != nil {
		return r.startErr
	}
	if r.eng != nil {
		return r.eng.Err()
	}
	return nil
}

// seenElsewhere reports whether another steady region sees this node.
// d.mu held.
func (d *Daemon) seenElsewhere(r *region) bool {
	for _, o := range d.regions {
		if o == r || o.eng == nil {
			continue
		}
		if st := o.eng.Status(); st.State == hbdisk.Steady && st.OwnLive() {
			return true
		}
	}
	return false
}

// recover retries the failed cluster region r, whose running engine
// failed ended with err, on the schedule of d.cfg.Retry, while the
// device answers and this node is seen elsewhere. It ends when a retry
// is steady, the region stops or may no longer restart by itself, or the
// daemon stops. Each retry is a full start: superblock check, new
// generation, steady reads (ensureRunning, startEnded).
func (d *Daemon) recover(r *region, failed backend.Engine) {
	err := failed.Err()
	d.mu.Lock()
	if d.stopping || d.regions[r.uuid] != r || r.eng != failed {
		// Stopped, or an owner started it again meanwhile.
		d.mu.Unlock()
		return
	}
	now := time.Now()
	rt := &retrying{failedAt: now, next: now.Add(d.cfg.Retry.Pause(0)), kick: make(chan struct{}, 1)}
	r.retry = rt
	d.mu.Unlock()
	d.log.Error("heartbeat region failed; the daemon retries it, backing off, while this node is seen in another region",
		"region", r.uuid, "device", r.device, "err", err, "retry_in", d.cfg.Retry.Pause(0), "retry_max", d.cfg.Retry.Max)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.stopping || d.regions[r.uuid] != r || r.retry != rt {
			d.mu.Unlock()
			return
		}
		if !rt.running && !d.recoverable(r, lastErr(r)) {
			// The cluster let go of the region, or a retry collided
			// (startEnded logged it).
			r.retry = nil
			d.mu.Unlock()
			return
		}
		if !rt.running && !time.Now().Before(rt.next) {
			d.tryRetry(r, rt)
		}
		// While a retry runs, its end kicks the loop.
		var due <-chan time.Time
		if !rt.running {
			timer.Reset(time.Until(rt.next))
			due = timer.C
		}
		d.mu.Unlock()
		select {
		case <-due:
		case <-rt.kick:
		case <-d.quit:
			return
		}
	}
}

// tryRetry begins the retry of r that is due, or, if the failed engine's
// device call still hangs or no other region sees this node, puts it off
// by the current pause. d.mu held.
func (d *Daemon) tryRetry(r *region, rt *retrying) {
	why := ""
	switch {
	case r.eng != nil && !ended(r.eng):
		// Not reached: a start made while the region is retried is a
		// retry (ensureRunning). Look again later rather than spin.
		rt.next = time.Now().Add(d.cfg.Retry.Pause(rt.attempts))
		return
	case r.eng != nil && stillHung(r.eng):
		why = "a device call of the failed heartbeat is still in flight"
	case !d.seenElsewhere(r):
		why = "this node is seen in no other steady region: the cluster manager must recover it"
	}
	if why != "" {
		if why != rt.blocked {
			d.log.Warn("failed heartbeat region not retried yet", "region", r.uuid, "device", r.device, "why", why)
		}
		rt.blocked = why
		rt.next = time.Now().Add(d.cfg.Retry.Pause(rt.attempts))
		return
	}
	if rt.blocked != "" {
		d.log.Info("failed heartbeat region may be retried again", "region", r.uuid, "device", r.device, "was", rt.blocked)
		rt.blocked = ""
	}
	d.ensureRunning(r)
}

// startEnded records the end of a start of r's engine eng (nil: none was
// made) with err, and, if it was a retry, what follows it. d.mu held.
func (d *Daemon) startEnded(r *region, eng backend.Engine, err error, loud *atomic.Bool) {
	if eng == nil || r.eng == eng {
		r.startErr = err
		if err == nil {
			r.failure = ""
		} else {
			r.failure = message(r.uuid, err)
		}
	}
	rt := r.retry
	if rt == nil || !rt.running || (eng != nil && r.eng != eng) {
		if err == nil {
			loud.Store(true)
		} else {
			d.log.Error("heartbeat region did not start", "region", r.uuid, "device", r.device, "err", err)
		}
		return
	}
	rt.running = false
	defer rt.wake()
	now := time.Now()
	gen := ""
	if eng != nil {
		gen = fmt.Sprintf("%#x", eng.Status().Generation)
	}
	switch {
	case err == nil:
		r.retry = nil
		r.restarts++
		loud.Store(true)
		st := eng.Status()
		d.log.Info("heartbeat region restarted after a failure", "region", r.uuid, "device", r.device,
			"retries", rt.attempts, "failed_for", now.Sub(rt.failedAt).Round(time.Millisecond),
			"generation", gen, "live_nodes", st.LiveNodes)
	case !d.recoverable(r, err):
		r.retry = nil
		d.log.Error("retry of a failed heartbeat region ended it for good; it restarts when an owner starts it again",
			"region", r.uuid, "device", r.device, "retries", rt.attempts, "err", err)
	default:
		pause := d.cfg.Retry.Pause(rt.attempts)
		rt.next = now.Add(pause)
		d.log.Debug("retry of a failed heartbeat region failed", "region", r.uuid, "device", r.device,
			"retry", rt.attempts, "generation", gen, "err", err, "next_in", pause)
	}
}

// gate is a log handler that drops every record until it is opened: the
// engine of a retry stays silent unless it becomes steady, since the
// daemon logs how each retry ends.
type gate struct {
	h    slog.Handler
	open *atomic.Bool
}

func (g gate) Enabled(ctx context.Context, l slog.Level) bool {
	return g.open.Load() && g.h.Enabled(ctx, l)
}

func (g gate) Handle(ctx context.Context, rec slog.Record) error {
	if !g.open.Load() {
		return nil
	}
	return g.h.Handle(ctx, rec)
}

func (g gate) WithAttrs(as []slog.Attr) slog.Handler { return gate{g.h.WithAttrs(as), g.open} }
func (g gate) WithGroup(name string) slog.Handler    { return gate{g.h.WithGroup(name), g.open} }
