package ocfs2

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Volume is an OCFS2 volume on a device or image file: its superblock and
// its heartbeat region.
type Volume struct {
	Path string
	Size int64 // bytes of the device or image
	Superblock
	Heartbeat Geometry
}

// ErrOtherVolume: the device now holds another volume than it did.
var ErrOtherVolume = errors.New("device holds another volume")

// Recheck reads the superblock again through r, the same device opened
// anew (such as a heartbeat writer's O_DIRECT descriptor), and checks that
// it still is this volume: an OCFS2 superblock with the same UUID.
func (v *Volume) Recheck(r io.ReaderAt) error {
	sb, err := ReadSuperblock(r, v.Size)
	if err != nil {
		return fmt.Errorf("%s: %w", v.Path, err)
	}
	if sb.UUID != v.UUID {
		return fmt.Errorf("%s: %w: UUID %s, want %s", v.Path, ErrOtherVolume, sb.UUID, v.UUID)
	}
	return nil
}

// Open reads the volume at path (opened read-only): its superblock and the
// geometry of its heartbeat region for the device's logical sector size
// (BLKSSZGET for a block device, 512 for a regular file). Errors name path
// and wrap this package's sentinels.
func Open(path string) (*Volume, error) {
	f, size, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return openFile(f, path, size)
}

// openFile is Open of the open device or file f of size bytes.
func openFile(f *os.File, path string, size int64) (*Volume, error) {
	sector, err := SectorSize(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sb, err := ReadSuperblock(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, err := HeartbeatGeometry(f, size, sb, sector)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Volume{Path: path, Size: size, Superblock: *sb, Heartbeat: g}, nil
}

// Probe reads only the superblock of the device or image at path: enough
// to learn its UUID and label. Errors name path. The read is done in a
// child process (see DefaultProbeTimeout): a device that does not answer
// within DefaultProbeTimeout gives an error wrapping ErrNoAnswer, and the
// caller can still exit while the read hangs.
func Probe(path string) (*Superblock, error) {
	got := probeAll(modeProbe, []string{path}, DefaultProbeTimeout, nil)
	if got[0] == nil {
		return nil, noAnswer([]string{path}, got, DefaultProbeTimeout)
	}
	return got[0].superblock()
}

// openDevice opens a block device or regular file read-only and returns
// its size in bytes. Other kinds of file are refused.
func openDevice(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if m := fi.Mode(); !m.IsRegular() && (m&fs.ModeDevice == 0 || m&fs.ModeCharDevice != 0) {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w: %s, not a block device or regular file", path, ErrNotOCFS2, FileKind(m))
	}
	size, err := fileSize(f, fi)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: finding the size: %w", path, err)
	}
	return f, size, nil
}

// fileSize returns the size of a regular file or block device in bytes.
// A block device's comes from BLKGETSIZE64: lseek(2) on a block device
// takes its inode lock, and waits while another process's read of the
// device hangs.
func fileSize(f *os.File, fi fs.FileInfo) (int64, error) {
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var size uint64
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
		if errno != 0 {
			ioErr = errno
		}
	}); err != nil {
		return 0, err
	}
	if ioErr != nil {
		return 0, ioErr
	}
	return int64(size), nil
}

// SectorSize returns the logical sector size of an open block device
// (BLKSSZGET), or 512 for a regular file, as o2hb counts an image's slots.
func SectorSize(f *os.File) (int, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return minBlockSize, nil
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		rc, err := f.SyscallConn()
		if err != nil {
			return 0, err
		}
		var n int
		var ioErr error
		if err := rc.Control(func(fd uintptr) {
			n, ioErr = unix.IoctlGetInt(int(fd), unix.BLKSSZGET)
		}); err != nil {
			return 0, err
		}
		if ioErr != nil {
			return 0, fmt.Errorf("BLKSSZGET: %w", ioErr)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("%w: %s is a %s, not a block device or regular file", ErrSectorSize, f.Name(), FileKind(m))
	}
}

// FileKind names the type of a file mode for messages.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	default:
		return "special file"
	}
}
