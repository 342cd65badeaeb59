package hbdisk

import (
	"fmt"
	"math"
	"time"
)

// Limits of the kernel's o2hb and o2nm. Every package that checks a node
// number, a region count or a heartbeat timing uses these.
const (
	// MaxNodes is the number of node numbers o2hb knows (O2NM_MAX_NODES):
	// node numbers are 0 to MaxNodes-1, and a region has at most MaxNodes
	// slots.
	MaxNodes = 255
	// MaxRegions is how many regions o2hb runs in global heartbeat mode
	// (O2NM_MAX_REGIONS), and so how many a cluster of cluster.conf may
	// list.
	MaxRegions = 32
)

// Heartbeat timing: the defaults are the kernel's; the bounds are checked
// by CheckInterval and CheckDeadThreshold wherever a value comes in (the
// engine, the daemon, the OCF parameters, the flags).
const (
	// DefaultInterval is the time between iterations, the kernel's
	// O2HB_REGION_TIMEOUT_MS (fixed there; a parameter here).
	DefaultInterval = 2000 * time.Millisecond
	// MinInterval and MaxInterval bound the interval: below 10 ms the
	// deadlines are below the machine's scheduling noise, above a minute
	// failure detection takes half an hour at the default threshold.
	MinInterval = 10 * time.Millisecond
	MaxInterval = time.Minute

	// DefaultDeadThreshold is the number of unchanged samples after which
	// a node is dead, the kernel's O2HB_DEFAULT_DEAD_THRESHOLD.
	DefaultDeadThreshold = 31
	// MinDeadThreshold is the smallest dead threshold the kernel takes:
	// it ignores a write of 2 or less to heartbeat/dead_threshold.
	MinDeadThreshold = 3
	// MaxDeadThreshold is the largest dead threshold whose hb_dead_ms
	// (threshold * 2000) fits the slot's 32-bit field.
	MaxDeadThreshold = math.MaxUint32 / deadMSPerIteration

	deadMSPerIteration = 2000 // the kernel writes hb_dead_ms = dead_threshold * 2000
)

// CheckInterval returns an error unless d is a heartbeat interval from
// MinInterval to MaxInterval.
func CheckInterval(d time.Duration) error {
	if d < MinInterval || d > MaxInterval {
		return fmt.Errorf("heartbeat interval %v is outside %v..%v", d, MinInterval, MaxInterval)
	}
	return nil
}

// CheckIntervalMS is CheckInterval of ms milliseconds, the unit flags,
// parameters and the environment give the interval in; it converts
// nothing, so that no number of milliseconds wraps into the bounds.
func CheckIntervalMS(ms int) error {
	if ms < int(MinInterval/time.Millisecond) || ms > int(MaxInterval/time.Millisecond) {
		return fmt.Errorf("heartbeat interval %d ms is outside %d..%d ms", ms, MinInterval/time.Millisecond, MaxInterval/time.Millisecond)
	}
	return nil
}

// CheckDeadThreshold returns an error unless n is a dead threshold from
// MinDeadThreshold to MaxDeadThreshold.
func CheckDeadThreshold(n int) error {
	if n < MinDeadThreshold || n > MaxDeadThreshold {
		return fmt.Errorf("dead threshold %d is outside %d..%d", n, MinDeadThreshold, MaxDeadThreshold)
	}
	return nil
}
