package hbd

import (
	"errors"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Recovery of failed regions.
//
// A region fails when its device does not complete a write within the
// write timeout ((dead_threshold-1) intervals) or a start does not settle.
// What happens next follows the kernel's o2hb:
//
//   - Global mode: the kernel keeps heartbeating on a region that timed
//     out, as long as the node keeps its quorum of regions, and the region
//     comes back by itself when the device answers again. The daemon does
//     the same for the cluster's regions: it restarts a failed region
//     (with a new generation) once the failed device call has returned,
//     while this node is still seen in another steady region, so that no
//     peer ever took it for dead. When no other region sees this node,
//     nothing restarts by itself: the o2cb monitor fails and the cluster
//     manager recovers (and fences) the node.
//   - Local mode: the kernel fences the node when any region times out.
//     The daemon cannot fence; a failed region stays failed, the monitor
//     reports it, and it restarts only when an owner starts it again.
//   - A region in collision never restarts by itself (DESIGN: an operator
//     must find the other writer first).
//
// An owner's start (ocfs2_hb_ctl -S, o2cb start, hbregion start) always
// restarts a failed region, unless a device call of the failed engine is
// still hung: a new engine would only add a thread blocked on the device.

// errHung: a failed engine's device call has not returned yet.
var errHung = errors.New("a device call of the failed heartbeat is still in flight; the region restarts once the device answers")

// stillHung reports whether eng has ended but one of its device calls
// has not returned.
func stillHung(eng *hbdisk.Region) bool {
	select {
	case <-eng.Done():
		return eng.Status().IOInFlight > 0
	default:
		return false
	}
}

// recoverable reports whether the daemon restarts r by itself after its
// engine failed with err. d.mu held.
func (d *Daemon) recoverable(r *region, err error) bool {
	return err != nil && !errors.Is(err, hbdisk.ErrCollision) &&
		d.mode == clusterconf.ModeGlobal && r.owners[OwnerGlobal] > 0
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

// recover restarts the failed cluster region r, whose engine failed is,
// once the device answers and while this node is seen elsewhere; it
// gives up when the region is stopped, restarted by someone else, or the
// daemon stops. Each attempt is a full start: superblock check, new
// generation, steady reads.
func (d *Daemon) recover(r *region, failed *hbdisk.Region) {
	waiting := ""
	// Attempts back off from one interval to the dead threshold's span,
	// so that a device that stays broken costs a few log lines a minute.
	pause, most := d.cfg.Interval, time.Duration(d.cfg.DeadThreshold)*d.cfg.Interval
	for attempt := 0; ; {
		time.Sleep(pause)
		d.mu.Lock()
		if d.stopping || d.regions[r.uuid] != r || r.eng != failed || !d.recoverable(r, failed.Err()) {
			d.mu.Unlock()
			return
		}
		why := ""
		switch {
		case stillHung(failed):
			why = "device call still in flight"
		case !d.seenElsewhere(r):
			why = "this node is seen in no other steady region: the cluster manager must recover it"
		}
		if why != "" {
			if why != waiting {
				d.log.Warn("failed heartbeat region not restarted yet", "region", r.uuid, "device", r.device, "why", why)
				waiting = why
			}
			d.mu.Unlock()
			continue
		}
		waiting = ""
		attempt++
		done := d.ensureRunning(r)
		eng := r.eng
		d.mu.Unlock()
		<-done
		d.mu.Lock()
		err := r.startErr
		d.mu.Unlock()
		if err == nil {
			d.log.Info("heartbeat region restarted after a failure", "region", r.uuid, "device", r.device, "attempt", attempt)
			return
		}
		failed = eng
		pause = min(2*pause, most)
	}
}
