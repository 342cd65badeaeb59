package hbdisk

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// IOThreadID returns the kernel thread id that issues the region's I/O
// once SetIOPriority has pinned it, else 0.
func (r *Region) IOThreadID() int { return int(r.tid.Load()) }

// prioRequest asks the loop to set the I/O priority of its thread.
type prioRequest struct {
	ioprio int
	result chan error
}

// applyPriority pins the loop to its OS thread, once, and sets that
// thread's I/O priority: from then on one thread issues the region's I/O.
// Unpinned, the loop costs fewer thread switches.
func (r *Region) applyPriority(ioprio int) error {
	if r.tid.Load() == 0 {
		runtime.LockOSThread()
		r.tid.Store(int32(unix.Gettid()))
	}
	const ioprioWhoProcess = 1 // with a thread id: that thread
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(r.tid.Load()), uintptr(ioprio)); e != 0 {
		return fmt.Errorf("ioprio_set on thread %d: %w", r.tid.Load(), e)
	}
	return nil
}

// IOPriority values for SetIOPriority: the real-time class at a level
// from 0 (highest) to 7, as ionice -c1 -n<level> sets it.
func IOPriorityRealtime(level int) int { return 1<<13 | level&7 }

// SetIOPriority sets the I/O priority (an ioprio_set value) of the thread
// that issues the region's I/O, pinning the loop to that thread. It
// returns the thread id once applied.
func (r *Region) SetIOPriority(ctx context.Context, ioprio int) (tid int, err error) {
	req := prioRequest{ioprio: ioprio, result: make(chan error, 1)}
	select {
	case r.prio <- req:
	case <-r.done:
		return 0, &RegionError{UUID: r.cfg.UUID, Err: ErrStopped}
	case <-ctx.Done():
		return 0, regionErrorf(r.cfg.UUID, "set I/O priority: %w", context.Cause(ctx))
	}
	if err := <-req.result; err != nil {
		return 0, &RegionError{UUID: r.cfg.UUID, Err: err}
	}
	return int(r.tid.Load()), nil
}
