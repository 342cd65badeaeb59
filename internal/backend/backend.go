// Package backend is where a heartbeat region comes from and what runs
// it: a Source resolves a region's UUID and device to a Spec, and runs a
// Spec as an Engine. The daemon (package hbd) and the heartbeat and
// slots commands go through it.
//
//	var src backend.Source = backend.Userspace{Devices: []string{"/dev/disk/by-id/*"}}
//	spec, err := src.Resolve(uuid, "")   // "": search the devices for the UUID
//	eng, err := src.Run(spec, backend.Params{Node: 1, Interval: 2 * time.Second})
//	err = eng.Start(ctx)                 // returns once steady
//	defer eng.Stop(ctx)                  // clean-stop block
//
// Userspace is today's backend: our own writer (package hbdisk) on the
// heartbeat area of an OCFS2 volume (package ocfs2). Observer resolves
// the same volumes and only reads them: the slots tracked as Userspace
// tracks them, no byte ever written, for nodes where the kernel's o2hb
// writes the heartbeat.
package backend

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Spec is one region on one device, as a Source resolved it.
type Spec struct {
	UUID   string // the region's UUID: 32 upper-case hex digits
	Device string // path of the device or image that holds it
	Label  string // the volume's label, for people; may be ""
	// Geometry and Extent are where the slots lie: every write stays
	// inside both (hbdisk.Config).
	Geometry hbdisk.Geometry
	Extent   hbdisk.Extent
	// Verify checks a freshly opened device, before the first write
	// through it, that it still holds this region; nil checks nothing.
	Verify func(hbdisk.Device) error
}

// Params is how this node heartbeats on a region: what the daemon or
// the heartbeat command decides, not the region.
type Params struct {
	Node          int           // our node number
	Nodes         []int         // configured node numbers; nil: every slot
	Interval      time.Duration // hbdisk.DefaultInterval if 0
	Anchor        time.Time     // grid of the steady iterations (hbdisk.Config.Anchor)
	DeadThreshold int           // iterations; hbdisk.DefaultDeadThreshold if 0
	Logger        *slog.Logger  // nil: discard
	OnEvent       func(hbdisk.Event)
	// QuietEnd leaves logging a failure to the caller (hbdisk.Config).
	QuietEnd bool
}

// Engine is a region running on one node: what the daemon and the
// heartbeat command use of it. *hbdisk.Region is one.
type Engine interface {
	// Start begins heartbeating and returns once the region is steady,
	// or with the error that ended it. It is called once.
	Start(ctx context.Context) error
	// Stop ends heartbeating with a clean-stop block (an observer,
	// which never wrote, just ends); it returns when the region has
	// ended or ctx ends (a device call hangs).
	Stop(ctx context.Context) error
	Done() <-chan struct{} // closed once the region has ended
	Err() error            // why it ended, once Done is closed; nil after Stop
	Status() hbdisk.Status // a snapshot; never waits for the device
	// SetIOPriority sets the I/O priority (an ioprio_set value) of the
	// thread that issues the region's I/O and returns that thread's id;
	// IOThreadID returns it afterwards, 0 before.
	SetIOPriority(ctx context.Context, ioprio int) (tid int, err error)
	IOThreadID() int
}

var _ Engine = (*hbdisk.Region)(nil)

// Source resolves regions and runs them.
type Source interface {
	// Resolve finds region uuid on device, or, device "", on the first
	// device found holding it. Its errors wrap ErrNotFound (no device
	// holds the region), ErrNoAnswer (a device that may hold it did not
	// answer), ErrOtherRegion (device holds another region), or the
	// device's own error (fs.ErrNotExist, ocfs2.ErrNotOCFS2, ...).
	Resolve(uuid, device string) (Spec, error)
	// Run returns an engine of spec for this node, ready to Start.
	Run(spec Spec, p Params) (Engine, error)
}

// Errors of Resolve.
var (
	ErrNotFound    = errors.New("no device holds the region")
	ErrNoAnswer    = ocfs2.ErrNoAnswer
	ErrOtherRegion = errors.New("the device holds another region")
)

// EngineConfig is the engine configuration of spec on this node; open,
// if not nil, opens the device instead of hbdisk.OpenDirect.
func EngineConfig(spec Spec, p Params, open func() (hbdisk.Device, error)) hbdisk.Config {
	return hbdisk.Config{
		UUID:          spec.UUID,
		Device:        spec.Device,
		Open:          open,
		Verify:        spec.Verify,
		Geometry:      spec.Geometry,
		Extent:        spec.Extent,
		Node:          p.Node,
		Nodes:         p.Nodes,
		Interval:      p.Interval,
		Anchor:        p.Anchor,
		DeadThreshold: p.DeadThreshold,
		Logger:        p.Logger,
		OnEvent:       p.OnEvent,
		QuietEnd:      p.QuietEnd,
	}
}
