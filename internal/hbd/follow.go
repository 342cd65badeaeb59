package hbd

import (
	"context"
	"sync"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// KernelRegion is a region the kernel heartbeats on.
type KernelRegion struct {
	UUID   string
	Device string // the block device, e.g. /dev/vdb
}

// FollowKernel makes the daemon observe every region the kernel runs, as
// list reports them (configfs), looking again every interval until ctx
// ends or the daemon stops: a region the kernel started (the o2cb start,
// mount.ocfs2, ocfs2_hb_ctl) is held for hbclient.OwnerKernel once its thread
// runs, and dropped when the kernel's region is gone. The daemon's
// source must only read (backend.Observer).
func (d *Daemon) FollowKernel(ctx context.Context, list func() ([]KernelRegion, error), every time.Duration) {
	var mu sync.Mutex
	pending := map[string]bool{} // starts in flight
	t := time.NewTicker(every)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	logged := ""
	for {
		regions, err := list()
		if err != nil {
			if err.Error() != logged {
				d.log.Warn("cannot list the kernel's heartbeat regions", "err", err)
				logged = err.Error()
			}
		} else {
			logged = ""
			d.follow(ctx, regions, &mu, pending, &wg)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.quit:
			return
		case <-t.C:
		}
	}
}

// follow starts observing the kernel's new regions and stops those gone.
func (d *Daemon) follow(ctx context.Context, regions []KernelRegion, mu *sync.Mutex, pending map[string]bool, wg *sync.WaitGroup) {
	kernel := map[string]bool{}
	for _, k := range regions {
		kernel[k.UUID] = true
	}
	d.mu.Lock()
	var gone []string
	held := map[string]bool{}
	for uuid, r := range d.regions {
		if r.owners[hbclient.OwnerKernel] > 0 {
			held[uuid] = true
			if !kernel[uuid] {
				gone = append(gone, uuid)
			}
		}
	}
	d.mu.Unlock()
	for _, uuid := range gone {
		if _, err := d.StopRegion(ctx, uuid, hbclient.OwnerKernel, false); err != nil {
			d.log.Warn("cannot stop observing a region the kernel no longer runs", "region", uuid, "err", err)
		} else {
			d.log.Info("the kernel's region is gone; no longer observed", "region", uuid)
		}
	}
	for _, k := range regions {
		mu.Lock()
		skip := held[k.UUID] || pending[k.UUID]
		if !skip {
			pending[k.UUID] = true
		}
		mu.Unlock()
		if skip {
			continue
		}
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(pending, k.UUID)
				mu.Unlock()
			}()
			if _, err := d.StartRegion(ctx, k.UUID, k.Device, hbclient.OwnerKernel, false); err != nil {
				d.log.Warn("cannot observe the kernel's region", "region", k.UUID, "device", k.Device, "err", err)
				return
			}
			d.log.Info("observing the kernel's region", "region", k.UUID, "device", k.Device)
		})
	}
}
