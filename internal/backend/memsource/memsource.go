// Package memsource is a backend.Source of regions on in-memory disks,
// for tests: no superblock, no device search, no root. Each region is a
// memdisk.Disk holding the slots of Geometry; several sources may share
// one disk, as the nodes of a cluster share a device.
//
//	src := memsource.New()
//	disk := src.Add(uuid, nil)     // a new disk; its device is Device(uuid)
//	d, _ := hbd.New(hbd.Config{Source: src, ...})
//	disk.FailWrites(syscall.EIO)   // the region's device fails
package memsource

import (
	"fmt"
	"io/fs"
	"sync"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
)

// Geometry is where the slots of every region lie on its disk: 512-byte
// blocks from block 16, one per possible node.
var Geometry = hbdisk.Geometry{BlockBytes: 512, StartBlock: 16, Blocks: hbdisk.MaxNodes}

// DiskBytes is the size of a disk Add makes.
const DiskBytes = (16 + hbdisk.MaxNodes) * 512

// Device is the device path of region uuid.
func Device(uuid string) string { return "/mem/" + uuid }

// Source resolves and runs the regions added to it.
type Source struct {
	// Open, if not nil, is called with every handle the engine of spec
	// opens on its disk, and returns the device the engine uses instead
	// (or an error for the open): tests put faults there.
	Open func(spec backend.Spec, dev hbdisk.Device) (hbdisk.Device, error)
	// ReadOnly makes Run return observers (hbdisk.Config.ReadOnly), as
	// backend.Observer does, instead of writers.
	ReadOnly bool

	mu    sync.Mutex
	disks map[string]*memdisk.Disk // by UUID
}

// New returns a source of no region.
func New() *Source { return &Source{disks: map[string]*memdisk.Disk{}} }

// Add adds region uuid (32 upper-case hex digits) on disk, or on a new
// zeroed disk if disk is nil, and returns the disk.
func (s *Source) Add(uuid string, disk *memdisk.Disk) *memdisk.Disk {
	if disk == nil {
		disk = memdisk.New(DiskBytes)
	}
	s.mu.Lock()
	s.disks[uuid] = disk
	s.mu.Unlock()
	return disk
}

// Resolve finds region uuid: on device, which must be Device(uuid), or,
// device "", wherever it was added.
func (s *Source) Resolve(uuid, device string) (backend.Spec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if device != "" {
		for u := range s.disks {
			if Device(u) == device && u != uuid {
				return backend.Spec{}, fmt.Errorf("%w: %s holds region %s", backend.ErrOtherRegion, device, u)
			}
		}
	}
	if _, ok := s.disks[uuid]; !ok || (device != "" && device != Device(uuid)) {
		if device != "" {
			return backend.Spec{}, &fs.PathError{Op: "open", Path: device, Err: fs.ErrNotExist}
		}
		return backend.Spec{}, fmt.Errorf("%w: %s is on no in-memory disk", backend.ErrNotFound, uuid)
	}
	return backend.Spec{UUID: uuid, Device: Device(uuid), Geometry: Geometry}, nil
}

// Run returns our writer on spec's disk, or an observer of it when
// ReadOnly is set, ready to Start.
func (s *Source) Run(spec backend.Spec, p backend.Params) (backend.Engine, error) {
	s.mu.Lock()
	disk := s.disks[spec.UUID]
	s.mu.Unlock()
	if disk == nil {
		return nil, fmt.Errorf("%w: %s is on no in-memory disk", backend.ErrNotFound, spec.UUID)
	}
	open := func() (hbdisk.Device, error) {
		if s.Open != nil {
			return s.Open(spec, disk.Device())
		}
		return disk.Device(), nil
	}
	cfg := backend.EngineConfig(spec, p, open)
	cfg.ReadOnly = s.ReadOnly
	r, err := hbdisk.NewRegion(cfg)
	if err != nil {
		return nil, err
	}
	return r, nil
}
