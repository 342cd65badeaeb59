package backend

import (
	"errors"
	"fmt"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// DefaultSearchTimeout bounds a search by UUID. The daemon need not
// answer within an agent's second, as the agents' own searches must: a
// healthy device slow under load must not be taken for a missing region.
const DefaultSearchTimeout = 5 * time.Second

// Userspace runs regions with our own writer (package hbdisk) on the
// heartbeat area of OCFS2 volumes.
type Userspace struct {
	// Devices are paths or globs searched first for a UUID
	// (ocfs2.ScanOptions.Extra).
	Devices []string
	// SearchTimeout bounds a search by UUID; DefaultSearchTimeout if 0.
	SearchTimeout time.Duration
	// Open opens a region's device for heartbeat I/O; nil:
	// hbdisk.OpenDirect. Tests put faults in front of it.
	Open func(path string) (hbdisk.Device, error)
}

// Resolve finds and checks the OCFS2 volume uuid: on device, or on the
// first device that ocfs2.FindByUUID finds.
func (u Userspace) Resolve(uuid, device string) (Spec, error) {
	if device == "" {
		timeout := u.SearchTimeout
		if timeout == 0 {
			timeout = DefaultSearchTimeout
		}
		path, err := ocfs2.FindByUUID(uuid, ocfs2.ScanOptions{Extra: u.Devices, Timeout: timeout})
		if err != nil {
			return Spec{}, searchFailed(uuid, err)
		}
		device = path
	}
	spec, err := Inspect(device)
	if err != nil {
		return Spec{}, err
	}
	if spec.UUID != uuid {
		return Spec{}, fmt.Errorf("%w: %s holds OCFS2 volume %s", ErrOtherRegion, device, spec.UUID)
	}
	return spec, nil
}

// notFound is a failed search: its text is the search's, and it wraps
// ErrNotFound beside the search's own errors (ErrNoAnswer among them).
type notFound struct {
	msg string
	err error
}

func (e *notFound) Error() string   { return e.msg }
func (e *notFound) Unwrap() []error { return []error{ErrNotFound, e.err} }

// searchFailed is the failed search for region uuid as an error of the
// region: the region a field, the search's reason the message.
func searchFailed(uuid string, err error) error {
	var se *ocfs2.SearchError
	if errors.As(err, &se) {
		return &hbdisk.RegionError{UUID: se.UUID, Err: &notFound{se.Reason(), err}}
	}
	return &notFound{err.Error(), err} // a bad UUID: no region to name
}

// Inspect reads the OCFS2 volume on path: the spec of its heartbeat
// region, whatever its UUID, whose Verify checks that a device opened
// anew still holds that volume.
func Inspect(path string) (Spec, error) {
	v, err := ocfs2.Open(path)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		UUID:     v.UUID,
		Device:   v.Path,
		Label:    v.Label,
		Geometry: v.Heartbeat.Geometry,
		Extent:   v.Heartbeat.Extent,
		Verify:   func(dev hbdisk.Device) error { return v.Recheck(hbdisk.ReaderAt(dev)) },
	}, nil
}

// Run returns our writer on spec's device, ready to Start.
func (u Userspace) Run(spec Spec, p Params) (Engine, error) {
	return u.run(spec, p, false)
}

// run returns an engine of spec through u's Open hook: our writer, or,
// readOnly, an observer.
func (u Userspace) run(spec Spec, p Params, readOnly bool) (Engine, error) {
	var open func() (hbdisk.Device, error)
	if u.Open != nil {
		path := spec.Device
		open = func() (hbdisk.Device, error) { return u.Open(path) }
	}
	cfg := EngineConfig(spec, p, open)
	cfg.ReadOnly = readOnly
	r, err := hbdisk.NewRegion(cfg)
	if err != nil {
		return nil, err // not a nil *Region in an Engine
	}
	return r, nil
}
