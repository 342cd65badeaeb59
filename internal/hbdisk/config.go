package hbdisk

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Config describes one region on one node.
type Config struct {
	UUID   string // region name, for messages
	Device string // device or image path, for messages and the default Open

	// Open opens the device; nil opens Device with OpenDirect, or with
	// OpenDirectReadOnly when ReadOnly is set.
	Open func() (Device, error)
	// Verify checks, after every open and before the first write through
	// it, that the device still holds this region (superblock signature
	// and UUID); nil checks nothing.
	Verify func(Device) error

	Geometry Geometry
	// Extent bounds every write in addition to the slot area; the zero
	// value leaves only the slot area.
	Extent Extent

	Node  int   // our node number
	Nodes []int // configured node numbers; nil: every slot

	Interval time.Duration // between iterations; DefaultInterval if 0
	// Anchor places the iterations of a steady region on the grid
	// Anchor + k*Interval, so that a daemon can spread its regions over
	// the interval instead of letting them tick in lockstep. A starting
	// region keeps its own grid from its first iteration (start needs
	// reads exactly one interval apart); once steady, one iteration
	// moves to the nearest grid point, at most half an interval off.
	// The zero value keeps the grid of the first iteration.
	Anchor        time.Time
	DeadThreshold int // iterations; DefaultDeadThreshold if 0
	// IOTimeout is how long the region may go without a completed write
	// (a completed read, when ReadOnly) before it fails;
	// (DeadThreshold-1)*Interval if 0, as the kernel.
	IOTimeout time.Duration

	// ReadOnly makes the region an observer: it reads and tracks every
	// configured slot, ours included, as a writer does, but never
	// writes (no heartbeat, no clean-stop block, no generation) and
	// opens the device read-only by default. Our slot is then tracked
	// like a peer's, not checked as ours: Node is live when someone
	// else (the kernel's o2hb on this node) heartbeats in it, and
	// Status.OwnSlotRead is the last read that found it live and
	// changed. There is no collision check: the writer of our slot is
	// expected.
	ReadOnly bool

	Logger  *slog.Logger // nil: discard
	OnEvent func(Event)  // called on the region's goroutine; must not block
	// QuietEnd leaves logging a failure to the caller (Err, once Done is
	// closed), which knows what follows it: the region then logs how it
	// ended only for a clean stop.
	QuietEnd bool
}

// withDefaults returns cfg with its zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.DeadThreshold == 0 {
		cfg.DeadThreshold = DefaultDeadThreshold
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = time.Duration(cfg.DeadThreshold-1) * cfg.Interval
	}
	if cfg.Open == nil {
		path := cfg.Device
		if cfg.ReadOnly {
			cfg.Open = func() (Device, error) { return OpenDirectReadOnly(path) }
		} else {
			cfg.Open = func() (Device, error) { return OpenDirect(path) }
		}
	}
	return cfg
}

// validate checks cfg, defaults set, and returns the configured node
// numbers, ours included.
func (cfg Config) validate() ([]int, error) {
	if err := CheckInterval(cfg.Interval); err != nil {
		return nil, err
	}
	if err := CheckDeadThreshold(cfg.DeadThreshold); err != nil {
		return nil, err
	}
	if err := cfg.Geometry.validate(); err != nil {
		return nil, err
	}
	g := cfg.Geometry
	if cfg.Node < 0 || cfg.Node >= g.Blocks {
		return nil, fmt.Errorf("node %d is outside the region's slots 0..%d", cfg.Node, g.Blocks-1)
	}
	nodes := cfg.Nodes
	if nodes == nil {
		nodes = make([]int, g.Blocks)
		for i := range nodes {
			nodes[i] = i
		}
	}
	for _, n := range nodes {
		if n < 0 || n >= g.Blocks {
			return nil, fmt.Errorf("configured node %d is outside the region's slots 0..%d", n, g.Blocks-1)
		}
	}
	if !slices.Contains(nodes, cfg.Node) {
		nodes = append(slices.Clone(nodes), cfg.Node)
	}
	if off := g.SlotOffset(cfg.Node); !g.WriteInside(cfg.Extent, off, int64(g.BlockBytes)) {
		return nil, fmt.Errorf("node %d's slot at byte %d: %w [%d, %d)",
			cfg.Node, off, ErrOutside, cfg.Extent.Offset, cfg.Extent.Offset+cfg.Extent.Bytes)
	}
	return nodes, nil
}

// NewRegion checks cfg and returns a region ready to Start.
func NewRegion(cfg Config) (*Region, error) {
	cfg = cfg.withDefaults()
	where := cfg.UUID
	if where == "" {
		where = cfg.Device
	}
	nodes, err := cfg.validate()
	if err != nil {
		return nil, &RegionError{UUID: where, Err: err}
	}
	lo, hi := slices.Min(nodes), slices.Max(nodes)
	deadMS := uint32(cfg.DeadThreshold * deadMSPerIteration)
	tr, err := NewTracker(cfg.DeadThreshold, deadMS, nodes)
	if err != nil {
		return nil, &RegionError{UUID: where, Err: err}
	}
	g := cfg.Geometry
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("region", cfg.UUID, "device", cfg.Device, "node", cfg.Node)
	r := &Region{
		cfg: cfg, log: log, deadMS: deadMS, lo: lo, hi: hi, tracker: tr,
		stop:    make(chan struct{}),
		steady:  make(chan struct{}),
		done:    make(chan struct{}),
		prio:    make(chan prioRequest),
		rbuf:    AlignedBuffer((hi - lo + 1) * g.BlockBytes),
		prev:    AlignedBuffer((hi - lo + 1) * g.BlockBytes),
		valid:   make([]bool, hi-lo+1),
		checked: make([]error, hi-lo+1),
		wbuf:    Slot(AlignedBuffer(g.BlockBytes)),
	}
	r.st = Status{UUID: cfg.UUID, Device: cfg.Device, Node: cfg.Node, Geometry: g, State: Starting}
	return r, nil
}
