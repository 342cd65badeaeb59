package o2cbfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Region is a heartbeat region the kernel knows.
type Region struct {
	UUID string
	hbdisk.Geometry
	Dev string // the block device's kernel name (e.g. vdb); "" before the dev write
	Pid int    // the o2hb-<UUID> kthread's pid; 0 when no thread runs
}

// Started reports whether the kernel's thread heartbeats on the region.
func (r Region) Started() bool { return r.Pid > 0 }

func (k Kernel) regionPath(cluster, uuid string, p ...string) string {
	return clusterPath(cluster, append([]string{"heartbeat", uuid}, p...)...)
}

// cluster returns the registered cluster's name.
func (k Kernel) cluster() (string, error) {
	names, err := k.dirs(clusterDir)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%w: no cluster is registered in %s", ErrNoStack, clusterDir)
	}
	return names[0], nil
}

// Regions lists the registered cluster's heartbeat regions; none without
// a cluster.
func (k Kernel) Regions() ([]Region, error) {
	c, err := k.cluster()
	if err != nil {
		if errors.Is(err, ErrNoStack) {
			return nil, nil
		}
		return nil, err
	}
	uuids, err := k.dirs(clusterPath(c, "heartbeat"))
	if err != nil {
		return nil, err
	}
	out := make([]Region, 0, len(uuids))
	for _, u := range uuids {
		r, err := k.region(c, u)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Region returns one region; the error wraps ENOENT when it does not exist.
func (k Kernel) Region(uuid string) (Region, error) {
	c, err := k.cluster()
	if err != nil {
		return Region{}, err
	}
	return k.region(c, uuid)
}

func (k Kernel) region(cluster, uuid string) (Region, error) {
	r := Region{UUID: uuid}
	var err error
	if r.BlockBytes, err = k.readInt(k.regionPath(cluster, uuid, "block_bytes")); err != nil {
		return r, err
	}
	if r.Blocks, err = k.readInt(k.regionPath(cluster, uuid, "blocks")); err != nil {
		return r, err
	}
	s, err := k.read(k.regionPath(cluster, uuid, "start_block"))
	if err != nil {
		return r, err
	}
	if r.StartBlock, err = strconv.ParseUint(s, 10, 64); err != nil {
		return r, &Error{Op: "read", Path: k.regionPath(cluster, uuid, "start_block"), Err: err}
	}
	if r.Dev, err = k.read(k.regionPath(cluster, uuid, "dev")); err != nil {
		return r, err
	}
	pid, err := k.read(k.regionPath(cluster, uuid, "pid"))
	if err != nil {
		return r, err
	}
	if pid != "" {
		if r.Pid, err = strconv.Atoi(pid); err != nil {
			return r, &Error{Op: "read", Path: k.regionPath(cluster, uuid, "pid"), Err: err}
		}
	}
	return r, nil
}

// Mode returns the registered cluster's heartbeat mode.
func (k Kernel) Mode() (string, error) {
	c, err := k.cluster()
	if err != nil {
		return "", err
	}
	return k.read(clusterPath(c, "heartbeat", "mode"))
}

// StartRegion creates region uuid on device with geometry g and hands
// the device to the kernel, whose o2hb thread then heartbeats on it. It
// returns once the kernel calls the region steady (about 3 iterations,
// 5 for the first region in global mode), or with the kernel's error:
// EIO when it could not stabilize. The kernel bounds the wait itself
// (three times its steady count).
//
// A region already running on the same device and geometry is adopted.
// One left without a thread by a killed start is removed and made anew:
// the kernel never lets a region's start be retried. On any failure the
// region is removed, so nothing half-made stays.
func (k Kernel) StartRegion(uuid, device string, g hbdisk.Geometry) (err error) {
	c, err := k.cluster()
	if err != nil {
		return err
	}
	dir := k.regionPath(c, uuid)
	if err := k.mkdir(dir); err != nil {
		if !isErrno(err, syscall.EEXIST) {
			if isErrno(err, syscall.EFBIG) {
				err.(*Error).Hint = "the kernel runs at most 32 global heartbeat regions"
			}
			return err
		}
		r, rerr := k.region(c, uuid)
		if rerr != nil {
			return rerr
		}
		if r.Started() {
			return k.adopt(r, device, g)
		}
		if err := k.rmdir(dir); err != nil {
			return fmt.Errorf("remove region %s left by an earlier start: %w", uuid, err)
		}
		if err := k.mkdir(dir); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			if rerr := k.rmdir(dir); rerr != nil && !isErrno(rerr, syscall.ENOENT) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	for _, a := range []struct{ name, value string }{
		{"block_bytes", strconv.Itoa(g.BlockBytes)},
		{"start_block", strconv.FormatUint(g.StartBlock, 10)},
		{"blocks", strconv.Itoa(g.Blocks)},
	} {
		if err := k.write(dir+"/"+a.name, a.value+"\n"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("region %s: %w", uuid, err)
	}
	defer f.Close()
	if err := writeSignalsBlocked(k.path(dir, "dev"), strconv.Itoa(int(f.Fd()))); err != nil {
		e := &Error{Op: "write " + device + " to", Path: dir + "/dev", Err: err}
		switch {
		case isErrno(err, syscall.EIO):
			e.Hint = "the kernel could not bring the region to a steady heartbeat; its log says why"
		case isErrno(err, syscall.EINVAL):
			e.Hint = "the device's sector size must be block_bytes, and this node must be registered"
		}
		return e
	}
	runtime.KeepAlive(f)
	return nil
}

// adopt accepts a running region if it runs on device with geometry g.
func (k Kernel) adopt(r Region, device string, g hbdisk.Geometry) error {
	if r.Geometry != g {
		return fmt.Errorf("%w: region %s runs with block_bytes %d, start_block %d, blocks %d, not %d, %d, %d",
			ErrMismatch, r.UUID, r.BlockBytes, r.StartBlock, r.Blocks, g.BlockBytes, g.StartBlock, g.Blocks)
	}
	if name, err := DevName(device); err == nil && name != r.Dev {
		return fmt.Errorf("%w: region %s runs on %s, not %s", ErrMismatch, r.UUID, r.Dev, device)
	}
	return nil
}

// DevName returns the kernel's name of a block device (what the region's
// dev attribute shows): the sysfs name of its device number.
func DevName(device string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(device, &st); err != nil {
		return "", &Error{Op: "stat", Path: device, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", &Error{Op: "stat", Path: device, Err: errors.New("not a block device")}
	}
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if err != nil {
		return "", &Error{Op: "stat", Path: device, Err: unwrapPath(err)}
	}
	return filepath.Base(link), nil
}

// writeSignalsBlocked writes s to the file at p in one write(2) made on a
// thread that blocks every signal. The kernel's region start waits
// interruptibly for the region to become steady, and a signal delivered
// to the writing thread (a child's SIGCHLD, the Go runtime's preemption)
// aborts the start with EIO.
func writeSignalsBlocked(p, s string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		return fmt.Errorf("block signals: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(s))
		if err != unix.EINTR {
			return err
		}
	}
}

// StopRegion removes region uuid: the kernel's thread writes its slot one
// last time (generation 0, so peers see the node leave at once) and ends.
// A region that does not exist is success. A region still used (a volume
// mounted on it, or in global mode any region while a volume is mounted
// and 3 or fewer regions are quorum devices) gives an error wrapping
// ErrInUse.
func (k Kernel) StopRegion(uuid string) error {
	c, err := k.cluster()
	if errors.Is(err, ErrNoStack) {
		return nil
	}
	if err != nil {
		return err
	}
	err = k.rmdir(k.regionPath(c, uuid))
	switch {
	case err == nil, isErrno(err, syscall.ENOENT):
		return nil
	case isErrno(err, syscall.EBUSY), isErrno(err, syscall.ENOTEMPTY):
		return fmt.Errorf("%w: heartbeat region %s: a mounted OCFS2 volume depends on it: %v", ErrInUse, uuid, err)
	}
	return err
}

// LiveNodes returns the kernel's own view of the live nodes from debugfs:
// of region uuid, or of any region when uuid is "". ok is false when
// debugfs does not show it (not mounted, or no such region).
func (k Kernel) LiveNodes(uuid string) (nodes []int, ok bool) {
	p := DebugfsDir + "/o2hb/livenodes"
	if uuid != "" {
		p = DebugfsDir + "/o2hb/" + uuid + "/livenodes"
	}
	s, err := k.read(p)
	if err != nil {
		return nil, false
	}
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		nodes = append(nodes, n)
	}
	return nodes, true
}

// ThreadPid returns the pid of region uuid's o2hb kthread, for setting
// its I/O priority.
func (k Kernel) ThreadPid(uuid string) (int, error) {
	r, err := k.Region(uuid)
	if err != nil {
		return 0, err
	}
	if !r.Started() {
		return 0, fmt.Errorf("heartbeat region %s has no kernel thread", uuid)
	}
	return r.Pid, nil
}

// SetIOPriority sets the I/O priority (an ioprio_set value) of region
// uuid's kernel thread and returns the thread's pid.
func (k Kernel) SetIOPriority(uuid string, ioprio int) (int, error) {
	pid, err := k.ThreadPid(uuid)
	if err != nil {
		return 0, err
	}
	const ioprioWhoProcess = 1
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(pid), uintptr(ioprio)); e != 0 {
		return pid, fmt.Errorf("ioprio_set on the o2hb thread (pid %d) of region %s: %w", pid, uuid, e)
	}
	return pid, nil
}
