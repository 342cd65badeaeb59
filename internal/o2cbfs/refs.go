package o2cbfs

import (
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Refs is the count of users of a local-mode heartbeat region, kept as
// ocfs2-tools keeps it, so that its mount.ocfs2 and our ocfs2_hb_ctl
// count the same references: a System V semaphore set per region, keyed
// by the CRC-32 of the region's UUID text, whose semaphore 0 is a mutex
// and semaphore 1 the count. Persistent references (a mount's) are taken
// without SEM_UNDO, so they outlive the process that took them.
//
// The set lives in the IPC namespace of its creator: the kernel's umount
// helper runs in the initial one, so the agent must too.
type Refs struct {
	id int
}

// semaphore operation flags and commands (linux/sem.h, linux/ipc.h).
const (
	ipcCreat  = 0o1000
	ipcRmid   = 0
	semUndo   = 0x1000
	semGetval = 12
)

type sembuf struct {
	num uint16
	op  int16
	flg int16
}

// RefsKey is the semaphore key of region uuid.
func RefsKey(uuid string) int32 { return int32(crc32.ChecksumIEEE([]byte(uuid))) }

// LockRefs takes region uuid's mutex, waiting up to wait for a holder
// (a mount starting the region holds it for the whole start), and
// returns the locked set. Unlock it with Unlock, or Destroy it.
func LockRefs(uuid string, wait time.Duration) (*Refs, error) {
	deadline := time.Now().Add(wait)
	for {
		id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(RefsKey(uuid)), 2, ipcCreat)
		if errno != 0 {
			return nil, fmt.Errorf("reference count of region %s: semget: %w", uuid, errno)
		}
		r := &Refs{id: int(id)}
		left := time.Until(deadline)
		if left <= 0 {
			left = time.Millisecond
		}
		err := r.op(left, sembuf{0, 0, semUndo}, sembuf{0, 1, semUndo})
		if errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) {
			continue // destroyed by its last user meanwhile: a new one
		}
		if errors.Is(err, unix.EAGAIN) {
			return nil, fmt.Errorf("reference count of region %s: another program has held its lock for %v", uuid, wait)
		}
		if err != nil {
			return nil, fmt.Errorf("reference count of region %s: %w", uuid, err)
		}
		return r, nil
	}
}

func (r *Refs) op(timeout time.Duration, ops ...sembuf) error {
	var ts *unix.Timespec
	if timeout > 0 {
		t := unix.NsecToTimespec(timeout.Nanoseconds())
		ts = &t
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(r.id), uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)),
			uintptr(unsafe.Pointer(ts)), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// Unlock gives the mutex back.
func (r *Refs) Unlock() error { return r.op(0, sembuf{0, -1, semUndo}) }

// Count returns the number of references.
func (r *Refs) Count() (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(r.id), 1, semGetval, 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Get adds a reference; persistent ones outlive this process.
func (r *Refs) Get(persistent bool) error { return r.op(0, sembuf{1, 1, undo(persistent)}) }

// Put drops a reference.
func (r *Refs) Put(persistent bool) error { return r.op(0, sembuf{1, -1, undo(persistent)}) }

// Destroy removes the set (and with it the lock): the region's last user
// has gone.
func (r *Refs) Destroy() error {
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(r.id), 0, ipcRmid, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func undo(persistent bool) int16 {
	if persistent {
		return 0
	}
	return semUndo
}

// CountRefs returns region uuid's references without taking its lock;
// a region nobody counted has 0.
func CountRefs(uuid string) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(RefsKey(uuid)), 2, 0)
	if errno == unix.ENOENT {
		return 0, nil
	}
	if errno != 0 {
		return 0, errno
	}
	n, err := (&Refs{id: int(id)}).Count()
	if errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) {
		return 0, nil
	}
	return n, err
}
