// Package memdisk is an in-memory disk for tests: several simulated
// nodes share one Disk, each through its own Handle, an hbdisk.Device
// (it has the method set; the package does not import hbdisk, so that
// hbdisk's own tests can use it). Faults come on command: failing reads
// or writes, stalled I/O, a foreign writer.
//
//	disk := memdisk.New(1 << 20)
//	r, _ := hbdisk.NewRegion(hbdisk.Config{Open: func() (hbdisk.Device, error) { return disk.Device(), nil }, ...})
//	disk.FailWrites(syscall.EIO)
package memdisk

import (
	"fmt"
	"io"
	"sync"
)

// Disk is an in-memory disk that several simulated nodes share, with
// faults on command. Each node gets its own handle from Device.
type Disk struct {
	mu       sync.Mutex
	data     []byte
	readErr  error
	writeErr error
	stall    chan struct{} // non-nil: I/O blocks until it is closed
	writes   int
}

// New returns a zeroed disk of size bytes.
func New(size int) *Disk { return &Disk{data: make([]byte, size)} }

// Device returns a handle on the disk; closing it leaves the disk intact.
func (d *Disk) Device() Handle { return Handle{d} }

// FailReads makes every read fail with err (nil: reads work again).
func (d *Disk) FailReads(err error) { d.mu.Lock(); d.readErr = err; d.mu.Unlock() }

// FailWrites makes every write fail with err (nil: writes work again).
func (d *Disk) FailWrites(err error) { d.mu.Lock(); d.writeErr = err; d.mu.Unlock() }

// Stall makes every I/O block until the returned function is called.
func (d *Disk) Stall() (release func()) {
	ch := make(chan struct{})
	d.mu.Lock()
	d.stall = ch
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			d.stall = nil
			d.mu.Unlock()
			close(ch)
		})
	}
}

// Bytes returns a copy of the disk's content.
func (d *Disk) Bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.data...)
}

// WriteRaw writes p at off with no fault applied: a foreign writer.
func (d *Disk) WriteRaw(p []byte, off int64) {
	d.mu.Lock()
	copy(d.data[off:], p)
	d.mu.Unlock()
}

// Writes returns how many writes the disk has taken through handles.
func (d *Disk) Writes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writes
}

// Handle is one node's handle on a Disk: an hbdisk.Device.
type Handle struct{ d *Disk }

func (h Handle) wait() {
	h.d.mu.Lock()
	ch := h.d.stall
	h.d.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (h Handle) ReadAt(p []byte, off int64) (int, error) {
	h.wait()
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.readErr != nil {
		return 0, d.readErr
	}
	if off < 0 || off >= int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(p, d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h Handle) WriteAt(p []byte, off int64) (int, error) {
	h.wait()
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.writeErr != nil {
		return 0, d.writeErr
	}
	if off < 0 || off+int64(len(p)) > int64(len(d.data)) {
		return 0, fmt.Errorf("write of %d bytes at %d beyond the %d-byte disk", len(p), off, len(d.data))
	}
	d.writes++
	return copy(d.data[off:], p), nil
}

func (h Handle) Close() error { return nil }
