package hbd

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// normalizeOrBad normalizes a region UUID or returns an ErrBadRequest.
func normalizeOrBad(uuid string) (string, error) {
	u, err := ocfs2.NormalizeUUID(uuid)
	if err != nil {
		return "", mark(ErrBadRequest, err)
	}
	return u, nil
}

// StartRegion adds a reference of owner to region uuid, starting the
// region if needed, and returns once it is steady. device may be empty:
// the region's device is then found by UUID. consumer marks a consumer's
// call, which changes nothing in global mode. A failed or timed-out start
// drops the reference again.
func (d *Daemon) StartRegion(ctx context.Context, uuid, device, owner string, consumer bool) (note string, err error) {
	if uuid, err = normalizeOrBad(uuid); err != nil {
		return "", err
	}
	if err := hbclient.ValidOwner(owner); err != nil {
		return "", mark(ErrBadRequest, err)
	}
	d.mu.Lock()
	mode, cluster, configured := d.mode, d.cluster, d.global[uuid]
	d.mu.Unlock()
	if mode == clusterconf.ModeGlobal && consumer {
		return fmt.Sprintf("cluster %s uses global heartbeat: region %s is the cluster's to start", cluster, uuid), nil
	}
	if owner == hbclient.OwnerGlobal && mode != clusterconf.ModeGlobal {
		return "", fail(ErrConfig, "cluster %s is in local heartbeat mode: the cluster owns no region", cluster)
	}
	if owner == hbclient.OwnerGlobal && !configured {
		return "", regionFail(uuid, ErrConfig, "not a heartbeat region of cluster %s in %s", cluster, d.cfg.ClusterConf)
	}

	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return "", fail(ErrStopping, "the heartbeat daemon is stopping")
	}
	r := d.regions[uuid]
	if r != nil && r.owners[hbclient.OwnerGlobal] > 0 && strings.HasPrefix(owner, "pacemaker:") {
		d.mu.Unlock()
		return "", regionFail(uuid, ErrGlobalOwned, "started by the o2cb cluster resource (global heartbeat); set manage_regions=false on it to manage the region as its own resource")
	}
	if r == nil {
		if d.mode == clusterconf.ModeGlobal && len(d.regions) >= MaxGlobalRegions {
			d.mu.Unlock()
			return "", fail(ErrLimit, "global heartbeat allows at most %d regions", MaxGlobalRegions)
		}
		d.mu.Unlock()
		spec, err := d.resolve(uuid, device)
		if err != nil {
			return "", err
		}
		d.mu.Lock()
		if r = d.regions[uuid]; r == nil {
			r = &region{uuid: uuid, device: spec.Device, spec: spec, owners: map[string]int{}}
			d.regions[uuid] = r
		}
	} else if device != "" && !sameDevice(device, r.device) {
		d.mu.Unlock()
		spec, err := d.resolve(uuid, device)
		if err != nil {
			return "", err
		}
		d.log.Info("region requested through another path of its device", "region", uuid, "device", r.device, "requested", spec.Device)
		d.mu.Lock()
		if d.regions[uuid] != r {
			d.mu.Unlock()
			return "", regionFail(uuid, ErrStopping, "stopped meanwhile; try again")
		}
	}
	if r.eng != nil && r.eng.Status().State == hbdisk.Collision {
		msg := r.eng.Status().Err
		d.mu.Unlock()
		return "", regionFail(uuid, ErrCollision, "stopped after a collision: %s; find the other node using number %d, then stop every owner of the region and start it again", msg, d.node.Number)
	}
	// Services count references; the cluster and a Pacemaker resource
	// hold one each, so that their start and stop are idempotent.
	added := countsRefs(owner) || r.owners[owner] == 0
	if added {
		r.owners[owner]++
	}
	wait := d.ensureRunning(r)
	d.saveLocked()
	d.mu.Unlock()

	select {
	case <-wait:
	case <-ctx.Done():
		if added {
			d.dropRef(uuid, owner)
		}
		return "", regionFail(uuid, ErrNotSteady, "not steady in time on %s: %v", r.device, context.Cause(ctx))
	}
	d.mu.Lock()
	err = r.startErr
	d.mu.Unlock()
	if err != nil {
		if added {
			d.dropRef(uuid, owner)
		}
		return "", ofRegion(uuid, err)
	}
	return "", nil
}

// countsRefs reports whether an owner holds a count of references (a
// service: each mount or tool run adds one) rather than one.
func countsRefs(owner string) bool { return strings.HasPrefix(owner, "service:") }

// StopRegion drops a reference of owner; the last reference gone stops
// the region with a clean-stop block.
func (d *Daemon) StopRegion(ctx context.Context, uuid, owner string, consumer bool) (note string, err error) {
	if uuid, err = normalizeOrBad(uuid); err != nil {
		return "", err
	}
	if err := hbclient.ValidOwner(owner); err != nil {
		return "", mark(ErrBadRequest, err)
	}
	d.mu.Lock()
	if d.mode == clusterconf.ModeGlobal && consumer {
		defer d.mu.Unlock()
		return fmt.Sprintf("cluster %s uses global heartbeat: region %s is the cluster's to stop", d.cluster, uuid), nil
	}
	r := d.regions[uuid]
	if r == nil {
		d.mu.Unlock()
		return "", notRunning(uuid)
	}
	if r.owners[owner] == 0 {
		d.mu.Unlock()
		return "", regionFail(uuid, ErrNotOwner, "%s holds no reference on the region (owners: %s)", owner, ownerList(r.owners))
	}
	d.mu.Unlock()
	return "", d.dropRef(uuid, owner)
}

// dropRef drops one reference and stops the region if it was the last.
func (d *Daemon) dropRef(uuid, owner string) error {
	d.mu.Lock()
	r := d.regions[uuid]
	if r == nil || r.owners[owner] == 0 {
		d.mu.Unlock()
		return nil
	}
	r.owners[owner]--
	if r.owners[owner] == 0 {
		delete(r.owners, owner)
	}
	if r.refs() > 0 {
		d.saveLocked()
		d.mu.Unlock()
		return nil
	}
	delete(d.regions, uuid)
	d.saveLocked()
	eng := r.eng
	if r.retry != nil {
		r.retry.wake()
		r.retry = nil
	}
	d.mu.Unlock()
	if eng == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.Interval+5*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		return mark(ErrIO, err)
	}
	d.log.Info("region stopped: no owner left", "region", uuid)
	return nil
}

func (r *region) refs() int {
	n := 0
	for _, c := range r.owners {
		n += c
	}
	return n
}

func ownerList(owners map[string]int) string {
	if len(owners) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", o, owners[o]))
	}
	return strings.Join(parts, ", ")
}

// sameDevice reports whether two paths name one device or file.
func sameDevice(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
