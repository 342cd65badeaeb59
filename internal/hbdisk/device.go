package hbdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is the I/O seam of a region: the real one is an O_DIRECT file
// (OpenDirect), tests use an in-memory disk (package memdisk) or wrap
// either to inject faults.
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
