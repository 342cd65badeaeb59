package hbdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is the I/O seam of a region: the real one is an O_DIRECT file
// (OpenDirect), tests use a MemDisk or wrap either to inject faults.
// Offsets and lengths are multiples of the slot size and buffers come from
// AlignedBuffer.
type Device interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Close() error
}

// Alignment is the memory alignment of I/O buffers: enough for O_DIRECT
// on devices with 4096-byte logical sectors.
const Alignment = 4096

// AlignedBuffer returns n zero bytes whose first byte is Alignment-aligned.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+Alignment)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (Alignment - 1)); r != 0 {
		off = Alignment - r
	}
	return b[off : off+n : off+n]
}

// OpenDirect opens a device or image file for heartbeat I/O: read-write,
// O_DIRECT so that every read reaches the disk and every write leaves the
// page cache out, as the kernel's bios do.
func OpenDirect(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("open %s with O_DIRECT: the file system does not support direct I/O: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// readerAt turns a Device into an io.ReaderAt of any offset and length
// by reading whole aligned blocks, so that a superblock can be checked
// through the same O_DIRECT descriptor the region writes through.
type readerAt struct {
	dev Device
	buf []byte
}

// ReaderAt returns an io.ReaderAt over dev that needs no alignment from
// its callers.
func ReaderAt(dev Device) io.ReaderAt {
	return &readerAt{dev: dev, buf: AlignedBuffer(64 << 10)}
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		start := pos &^ (Alignment - 1)
		skip := int(pos - start)
		want := min(len(r.buf), (skip+len(p)-done+Alignment-1)&^(Alignment-1))
		n, err := r.dev.ReadAt(r.buf[:want], start)
		if n > skip {
			done += copy(p[done:], r.buf[skip:n])
		}
		if err != nil {
			return done, err
		}
		if n < want {
			if done < len(p) {
				return done, io.EOF
			}
		}
	}
	return done, nil
}

// MemDisk is an in-memory disk that several simulated nodes share, with
// faults on command. Each node gets its own handle from Device.
type MemDisk struct {
	mu       sync.Mutex
	data     []byte
	readErr  error
	writeErr error
	stall    chan struct{} // non-nil: I/O blocks until it is closed
	writes   int
}

// NewMemDisk returns a zeroed disk of size bytes.
func NewMemDisk(size int) *MemDisk { return &MemDisk{data: make([]byte, size)} }

// Device returns a handle on the disk; closing it leaves the disk intact.
func (d *MemDisk) Device() Device { return memHandle{d} }

// FailReads makes every read fail with err (nil: reads work again).
func (d *MemDisk) FailReads(err error) { d.mu.Lock(); d.readErr = err; d.mu.Unlock() }

// FailWrites makes every write fail with err (nil: writes work again).
func (d *MemDisk) FailWrites(err error) { d.mu.Lock(); d.writeErr = err; d.mu.Unlock() }

// Stall makes every I/O block until the returned function is called.
func (d *MemDisk) Stall() (release func()) {
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
func (d *MemDisk) Bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.data...)
}

// WriteRaw writes p at off with no fault applied: a foreign writer.
func (d *MemDisk) WriteRaw(p []byte, off int64) {
	d.mu.Lock()
	copy(d.data[off:], p)
	d.mu.Unlock()
}

// Writes returns how many writes the disk has taken through handles.
func (d *MemDisk) Writes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writes
}

type memHandle struct{ d *MemDisk }

func (h memHandle) wait() {
	h.d.mu.Lock()
	ch := h.d.stall
	h.d.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (h memHandle) ReadAt(p []byte, off int64) (int, error) {
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

func (h memHandle) WriteAt(p []byte, off int64) (int, error) {
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

func (h memHandle) Close() error { return nil }

// ReadSlots reads the slots of nodes lo to hi (inclusive) in one read, as
// a region iteration does, and returns them in node order.
func ReadSlots(dev Device, g Geometry, lo, hi int) ([]Slot, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	if lo < 0 || hi < lo || hi >= g.Blocks {
		return nil, fmt.Errorf("slots %d-%d are outside 0..%d", lo, hi, g.Blocks-1)
	}
	buf := AlignedBuffer((hi - lo + 1) * g.BlockBytes)
	n, err := dev.ReadAt(buf, g.SlotOffset(lo))
	if err == nil && n != len(buf) {
		err = fmt.Errorf("short read: %d of %d bytes", n, len(buf))
	}
	if err != nil {
		return nil, fmt.Errorf("read slots %d-%d: %w", lo, hi, err)
	}
	out := make([]Slot, hi-lo+1)
	for i := range out {
		out[i] = Slot(buf[i*g.BlockBytes : (i+1)*g.BlockBytes])
	}
	return out, nil
}

// OpenDirectReadOnly opens a device or image for reading slots only.
func OpenDirectReadOnly(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}
