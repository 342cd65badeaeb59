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

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// resolve finds and checks the device of uuid through the source: the
// given one, or, device "", the first found holding it. Each of its
// errors is an error of the region.
func (d *Daemon) resolve(uuid, device string) (backend.Spec, error) {
	spec, err := d.resolveDevice(uuid, device)
	if err != nil {
		return backend.Spec{}, ofRegion(uuid, err)
	}
	return spec, nil
}

func (d *Daemon) resolveDevice(uuid, device string) (backend.Spec, error) {
	notAbs := func(device string) error {
		return fail(ErrBadRequest, "device %q: give an absolute path (the daemon runs in /)", device)
	}
	if device != "" && !filepath.IsAbs(device) {
		return backend.Spec{}, notAbs(device)
	}
	spec, err := d.src.Resolve(uuid, device)
	switch {
	case err == nil && !filepath.IsAbs(spec.Device):
		return backend.Spec{}, notAbs(spec.Device)
	case err == nil:
		return spec, nil
	case errors.Is(err, backend.ErrNoAnswer):
		// A device that did not answer may hold the region: that is
		// trouble of the device, not of the configuration.
		return backend.Spec{}, mark(ErrIO, err)
	case errors.Is(err, backend.ErrNotFound):
		return backend.Spec{}, mark(ErrUnknownRegion, err)
	case errors.Is(err, backend.ErrOtherRegion):
		return backend.Spec{}, mark(ErrDeviceMismatch, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return backend.Spec{}, mark(ErrIO, err)
	}
	return backend.Spec{}, mark(ErrDeviceMismatch, err)
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
	if d.stopping {
		// Shutdown has taken the engines to stop: start no other.
		r.starting, r.startErr = done, fail(ErrStopping, "the heartbeat daemon is stopping")
		close(done)
		return done
	}
	if d.kernelPeer != "" {
		r.starting, r.startErr = done, fail(ErrKernelPeer, "%s", d.kernelPeer)
		close(done)
		return done
	}
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
	p := d.params(r)
	p.Logger = slog.New(gate{d.log.Handler(), loud})
	eng, err := d.src.Run(r.spec, p)
	r.starting = done
	if err != nil {
		d.startEnded(r, nil, err, loud)
		close(done)
		return done
	}
	r.eng, r.startErr = eng, nil
	d.wg.Go(func() {
		err := eng.Start(context.Background())
		d.mu.Lock()
		d.startEnded(r, eng, err, loud)
		d.mu.Unlock()
		close(done)
		if err == nil {
			d.wg.Go(func() { d.watch(r, eng) })
		}
	})
	return done
}

// watch logs how a running region ends and, where the policy of
// recover.go says so, restarts it.
func (d *Daemon) watch(r *region, eng backend.Engine) {
	<-eng.Done()
	err := eng.Err()
	if err == nil {
		return
	}
	d.mu.Lock()
	auto := d.recoverable(r, err)
	if r.eng == eng {
		r.failure = message(r.uuid, err)
		r.failures++
		if errors.Is(err, hbdisk.ErrCollision) {
			r.collisions++
		}
	}
	d.mu.Unlock()
	if auto {
		d.recover(r, eng)
		return
	}
	d.log.Error("heartbeat region failed; it restarts when an owner starts it again", "region", r.uuid, "device", r.device,
		"state", eng.Status().State, "err", err)
}

// params is how this node runs r.
func (d *Daemon) params(r *region) backend.Params {
	return backend.Params{
		Node:          d.node.Number,
		Nodes:         d.nodes,
		Interval:      d.cfg.Interval,
		Anchor:        d.anchor(r.phase),
		DeadThreshold: d.cfg.DeadThreshold,
		Logger:        d.log,
		QuietEnd:      true, // watch and startEnded log how it ended
	}
}
