// Package faultdev serves files through FUSE, from this process, whose
// reads and writes fail, stall or return stale data on command. A loop
// device on top of such a file is a real block device with injectable
// faults: the heartbeat daemon's O_DIRECT I/O on /dev/loopN reaches the
// loop driver, which turns it into FUSE requests answered here.
//
//	fsys, err := faultdev.Mount(dir)        // as root
//	f, err := fsys.Add("disk", "vol.img")    // dir/disk passes through to vol.img
//	// losetup -f --show dir/disk
//	f.Fail(faultdev.Writes, syscall.EIO)     // writes fail with EIO
//	f.Stall(faultdev.Writes, 30*time.Second) // writes block (at most 30 s)
//	f.Heal()                                 // back to normal, stalled requests go on
//	fsys.Close()                             // after the loop device is detached
//
// Files are opened with FOPEN_DIRECT_IO, so that no page cache sits
// between the loop driver and the faults: every read and write of the
// device is a request to this server.
package faultdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Op selects the requests a fault applies to.
type Op int

// Requests a fault applies to.
const (
	Reads  Op = 1 << iota // FUSE READ
	Writes                // FUSE WRITE and FSYNC
	All    = Reads | Writes
)

func (o Op) String() string {
	switch o {
	case Reads:
		return "reads"
	case Writes:
		return "writes"
	case All:
		return "reads and writes"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// FS is a mounted fault-injecting file system.
type FS struct {
	dir    string
	server *fuse.Server
	root   *fs.Inode

	mu    sync.Mutex
	files map[string]*File
}

// Mount mounts an empty fault-injecting file system on dir (which must
// exist) and serves it until Close. It needs root: the mount is made with
// mount(2), without fusermount.
func Mount(dir string) (*FS, error) {
	root := &fs.Inode{}
	timeout := time.Duration(0)
	server, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:            "faultdev",
			Name:              "faultdev",
			DirectMountStrict: true,
			MaxWrite:          1 << 20,
		},
		// The attributes never change behind the kernel's back but for
		// the size, which Add sets once: caching them is harmless, and a
		// zero timeout keeps stat(2) honest anyway.
		AttrTimeout:  &timeout,
		EntryTimeout: &timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("mount fault file system on %s: %w", dir, err)
	}
	if err := server.WaitMount(); err != nil {
		server.Unmount()
		return nil, fmt.Errorf("mount fault file system on %s: %w", dir, err)
	}
	return &FS{dir: dir, server: server, root: root, files: map[string]*File{}}, nil
}

// Dir returns the mount point.
func (f *FS) Dir() string { return f.dir }

// Add makes dir/name a file that passes reads and writes through to the
// backing file, whose size it keeps.
func (f *FS) Add(name, backing string) (*File, error) {
	b, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("faultdev: backing file: %w", err)
	}
	fi, err := b.Stat()
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("faultdev: backing file: %w", err)
	}
	file := &File{path: f.dir + "/" + name, backing: b, size: fi.Size()}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.files[name]; dup {
		b.Close()
		return nil, fmt.Errorf("faultdev: %s already exists", file.path)
	}
	ch := f.root.NewPersistentInode(context.Background(), file, fs.StableAttr{Mode: syscall.S_IFREG})
	if !f.root.AddChild(name, ch, false) {
		b.Close()
		return nil, fmt.Errorf("faultdev: could not add %s", file.path)
	}
	f.files[name] = file
	return file, nil
}

// Close heals every file, so that no request stays blocked, unmounts the
// file system and closes the backing files. Loop devices on its files
// must be detached first, or the unmount fails with EBUSY.
func (f *FS) Close() error {
	f.mu.Lock()
	files := f.files
	f.files = map[string]*File{}
	f.mu.Unlock()
	for _, file := range files {
		file.Heal()
	}
	var errs []error
	if err := f.server.Unmount(); err != nil {
		errs = append(errs, fmt.Errorf("unmount %s: %w", f.dir, err))
	} else {
		f.server.Wait()
	}
	for _, file := range files {
		errs = append(errs, file.backing.Close())
	}
	return errors.Join(errs...)
}

// File is one file of the fault file system.
type File struct {
	fs.Inode
	path    string
	backing *os.File
	size    int64

	mu       sync.Mutex
	readErr  syscall.Errno
	writeErr syscall.Errno
	stallOp  Op
	stall    chan struct{} // closed by Heal or by the stall's bound
	stale    []byte        // non-nil: reads are served from this snapshot
	stalled  int           // requests blocked now
	reads    int
	writes   int
	failed   int
}

var (
	_ fs.NodeOpener    = (*File)(nil)
	_ fs.NodeGetattrer = (*File)(nil)
	_ fs.NodeReader    = (*File)(nil)
	_ fs.NodeWriter    = (*File)(nil)
	_ fs.NodeFsyncer   = (*File)(nil)
	_ fs.NodeFlusher   = (*File)(nil)
)

// Path returns the file's path in the mount.
func (f *File) Path() string { return f.path }

// Fail makes the selected requests fail with errno (0: they work again).
func (f *File) Fail(op Op, errno syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op&Reads != 0 {
		f.readErr = errno
	}
	if op&Writes != 0 {
		f.writeErr = errno
	}
}

// Stall makes the selected requests block until Heal, or until max has
// passed (a bound, so that a test that forgets to heal cannot leave a
// process in uninterruptible sleep for ever).
func (f *File) Stall(op Op, max time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releaseLocked()
	ch := make(chan struct{})
	f.stallOp, f.stall = op, ch
	time.AfterFunc(max, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.stall == ch {
			f.releaseLocked()
		}
	})
}

// Stale makes reads return the file's content as it is now, while writes
// still reach the backing file: a cache that went stale.
func (f *File) Stale() error {
	snap := make([]byte, f.size)
	if _, err := f.backing.ReadAt(snap, 0); err != nil {
		return fmt.Errorf("faultdev: snapshot of %s: %w", f.path, err)
	}
	f.mu.Lock()
	f.stale = snap
	f.mu.Unlock()
	return nil
}

// Heal clears every fault and lets blocked requests go on.
func (f *File) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readErr, f.writeErr, f.stale = 0, 0, nil
	f.releaseLocked()
}

func (f *File) releaseLocked() {
	if f.stall != nil {
		close(f.stall)
		f.stall, f.stallOp = nil, 0
	}
}

// Counts are the requests a file has served.
type Counts struct {
	Reads, Writes int // requests answered, failed ones included
	Failed        int // requests answered with an injected error
	Stalled       int // requests blocked now
}

// Counts returns the file's request counters.
func (f *File) Counts() Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Counts{Reads: f.reads, Writes: f.writes, Failed: f.failed, Stalled: f.stalled}
}

// gate blocks while op is stalled and returns the error to inject, if
// any, and the stale snapshot for reads.
func (f *File) gate(op Op) (syscall.Errno, []byte) {
	f.mu.Lock()
	for f.stall != nil && f.stallOp&op != 0 {
		ch := f.stall
		f.stalled++
		f.mu.Unlock()
		<-ch
		f.mu.Lock()
		f.stalled--
	}
	defer f.mu.Unlock()
	errno := f.writeErr
	if op == Reads {
		f.reads++
		errno = f.readErr
	} else {
		f.writes++
	}
	if errno != 0 {
		f.failed++
	}
	return errno, f.stale
}

// Open opens the file with direct I/O: no page cache hides a fault.
func (f *File) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

// Getattr reports a regular file of the backing file's size.
func (f *File) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o600
	out.Size = uint64(f.size)
	out.Blksize = 4096
	out.Blocks = uint64(f.size+511) / 512
	return 0
}

// Read passes the read through, unless a fault says otherwise.
func (f *File) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	errno, stale := f.gate(Reads)
	if errno != 0 {
		return nil, errno
	}
	if off >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	n := min(int64(len(dest)), f.size-off)
	if stale != nil {
		return fuse.ReadResultData(stale[off : off+n]), 0
	}
	got, err := f.backing.ReadAt(dest[:n], off)
	if err != nil && got == 0 {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:got]), 0
}

// Write passes the write through, unless a fault says otherwise. The file
// never grows: a write past its end fails with ENOSPC, as on a device.
func (f *File) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	errno, _ := f.gate(Writes)
	if errno != 0 {
		return 0, errno
	}
	if off < 0 || off+int64(len(data)) > f.size {
		return 0, syscall.ENOSPC
	}
	n, err := f.backing.WriteAt(data, off)
	if err != nil {
		return uint32(n), syscall.EIO
	}
	return uint32(n), 0
}

// Fsync syncs the backing file; it counts as a write for faults.
func (f *File) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if errno, _ := f.gate(Writes); errno != 0 {
		return errno
	}
	if err := f.backing.Sync(); err != nil {
		return syscall.EIO
	}
	return 0
}

// Flush is close(2) on a descriptor of the file: nothing to do.
func (f *File) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }
