package o2cbfs

import (
	"errors"
	"fmt"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// RefsWait bounds the wait for a region's reference lock, which a mount
// starting the region holds for the whole start.
const RefsWait = 60 * time.Second

// Join starts region uuid for one more user, as ocfs2-tools' mount.ocfs2
// does in local heartbeat mode: under the region's reference lock, the
// region is started (or found running) and a reference added; a
// persistent one (a mount's, or ocfs2_hb_ctl -S) outlives this process.
// If the reference cannot be added, a region this call started is
// stopped again.
func (k Kernel) Join(uuid, device string, g hbdisk.Geometry, persistent bool) (err error) {
	refs, err := LockRefs(uuid, RefsWait)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := refs.Unlock(); uerr != nil && err == nil {
			err = fmt.Errorf("reference count of region %s: unlock: %w", uuid, uerr)
		}
	}()
	_, rerr := k.Region(uuid)
	existed := rerr == nil
	if err := k.StartRegion(uuid, device, g); err != nil {
		return err
	}
	if err := refs.Get(persistent); err != nil {
		err = fmt.Errorf("reference count of region %s: %w", uuid, err)
		if !existed {
			err = errors.Join(err, k.StopRegion(uuid))
		}
		return err
	}
	return nil
}

// Leave drops one user of region uuid (local heartbeat mode); the last
// one stops the region and removes its reference count. A region left
// without references (its users' processes died) is stopped as well, as
// ocfs2-tools does. Stopping a region a mounted volume still uses fails
// with ErrInUse, and the reference stays dropped: the mount's own
// reference is the one that umount's upcall drops.
func (k Kernel) Leave(uuid string, persistent bool) (left int, err error) {
	refs, err := LockRefs(uuid, RefsWait)
	if err != nil {
		return 0, err
	}
	n, err := refs.Count()
	if err != nil {
		refs.Unlock()
		return 0, fmt.Errorf("reference count of region %s: %w", uuid, err)
	}
	if n > 0 {
		if err := refs.Put(persistent); err != nil {
			refs.Unlock()
			return n, fmt.Errorf("reference count of region %s: %w", uuid, err)
		}
		n--
	}
	if n > 0 {
		return n, refs.Unlock()
	}
	if err := k.StopRegion(uuid); err != nil {
		refs.Unlock()
		return 0, err
	}
	if err := refs.Destroy(); err != nil {
		refs.Unlock()
		return 0, fmt.Errorf("reference count of region %s: remove: %w", uuid, err)
	}
	return 0, nil
}
