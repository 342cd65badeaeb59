package hbd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// searchTimeout bounds the daemon's device search. The daemon need not
// answer within an agent's second, as the agents' own searches must: a
// healthy device slow under load must not be taken for a missing region.
const searchTimeout = 5 * time.Second

// resolve finds and checks the device of uuid: the given one, or the
// first found by the search of ocfs2.Scan.
func (d *Daemon) resolve(uuid, device string) (*ocfs2.Volume, error) {
	if device == "" {
		path, err := ocfs2.FindByUUID(uuid, ocfs2.ScanOptions{Extra: d.cfg.Devices, Timeout: searchTimeout})
		if errors.Is(err, ocfs2.ErrNoAnswer) {
			// A device that did not answer may hold the region: that is
			// trouble of the device, not of the configuration.
			return nil, mark(ErrIO, err)
		}
		if err != nil {
			return nil, mark(ErrUnknownRegion, err)
		}
		device = path
	}
	if !filepath.IsAbs(device) {
		return nil, fail(ErrBadRequest, "device %q: give an absolute path (the daemon runs in /)", device)
	}
	vol, err := ocfs2.Open(device)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, mark(ErrIO, err)
		}
		return nil, mark(ErrDeviceMismatch, err)
	}
	if vol.UUID != uuid {
		return nil, regionFail(uuid, ErrDeviceMismatch, "%s holds OCFS2 volume %s instead", device, vol.UUID)
	}
	return vol, nil
}

// ensureRunning starts r's engine unless it is running or starting, and
// returns a channel closed when the current start has ended. d.mu held.
func (d *Daemon) ensureRunning(r *region) <-chan struct{} {
	if r.eng != nil {
		select {
		case <-r.eng.Done(): // failed or stopped: start anew
		default:
			return r.starting
		}
	}
	done := make(chan struct{})
	if r.eng != nil && stillHung(r.eng) {
		r.starting, r.startErr = done, &hbdisk.RegionError{UUID: r.uuid, Err: fmt.Errorf("device %s: %w", r.device, errHung)}
		close(done)
		return done
	}
	// A start while the daemon retries the region is a retry, owner's
	// or not: the region stays failed in status and the engine silent
	// until it is steady; startEnded says how it went.
	loud := new(atomic.Bool)
	if rt := r.retry; rt != nil {
		rt.running, rt.blocked, rt.next = true, "", time.Time{}
		rt.attempts++
	} else {
		loud.Store(true)
	}
	r.phase = d.freePhase(r)
	d.ensureProcs(r)
	cfg := d.regionConfig(r)
	cfg.Logger = slog.New(gate{d.log.Handler(), loud})
	eng, err := hbdisk.NewRegion(cfg)
	r.starting = done
	if err != nil {
		d.startEnded(r, nil, err, loud)
		close(done)
		return done
	}
	r.eng, r.startErr = eng, nil
	go func() {
		err := eng.Start(context.Background())
		d.mu.Lock()
		d.startEnded(r, eng, err, loud)
		d.mu.Unlock()
		close(done)
		if err == nil {
			go d.watch(r, eng)
		}
	}()
	return done
}

// watch logs how a running region ends and, where the policy of
// recover.go says so, restarts it.
func (d *Daemon) watch(r *region, eng *hbdisk.Region) {
	<-eng.Done()
	err := eng.Err()
	if err == nil {
		return
	}
	d.mu.Lock()
	auto := d.recoverable(r, err)
	if r.eng == eng {
		r.failure = message(r.uuid, err)
	}
	d.mu.Unlock()
	if auto {
		d.recover(r, eng)
		return
	}
	d.log.Error("heartbeat region failed; it restarts when an owner starts it again", "region", r.uuid, "device", r.device,
		"state", eng.Status().State, "err", err)
}

// regionConfig is the engine configuration of r on this node.
func (d *Daemon) regionConfig(r *region) hbdisk.Config {
	vol := r.vol
	h := vol.Heartbeat
	var open func() (hbdisk.Device, error)
	if d.cfg.Open != nil {
		path := r.device
		open = func() (hbdisk.Device, error) { return d.cfg.Open(path) }
	}
	return hbdisk.Config{
		UUID:          r.uuid,
		Device:        r.device,
		Open:          open,
		QuietEnd:      true, // watch and startEnded log how it ended
		Verify:        func(dev hbdisk.Device) error { return vol.Recheck(hbdisk.ReaderAt(dev)) },
		Geometry:      h.Geometry,
		Extent:        h.Extent,
		Node:          d.node.Number,
		Nodes:         d.nodes,
		Interval:      d.cfg.Interval,
		Anchor:        d.anchor(r.phase),
		DeadThreshold: d.cfg.DeadThreshold,
		Logger:        d.log,
	}
}
