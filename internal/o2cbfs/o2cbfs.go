// Package o2cbfs drives the Linux kernel's o2cb cluster stack through its
// files: the modules, configfs (/sys/kernel/config/cluster), the stack
// selection in sysfs, and the heartbeat regions whose kthreads the kernel
// runs once a device is handed to them.
//
//	k := o2cbfs.Kernel{}
//	err := k.Load(ctx)                       // modprobe, configfs, dlmfs
//	err = k.Register(want)                   // cluster, timeouts, nodes
//	err = k.StartRegion(ctx, uuid, dev, geo) // returns once steady
//	err = k.StopRegion(uuid)
//	err = k.Unregister()                     // refuses while regions exist
//
// The kernel's rules, which shape every step here: only one cluster may be
// registered; a node's port, address and number are write-once, and num
// needs port and address, local needs all three; heartbeat/mode and
// dead_threshold are silently ignored while any region exists, and the
// o2net timeouts refused once a peer is connected, so every write is read
// back; a region's dev write blocks until the region is steady, and a
// signal arriving meanwhile aborts the start, so it is made with every
// signal blocked; removing anything in use gives EBUSY.
package o2cbfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Paths of the kernel's interfaces, on a real system.
const (
	ConfigfsDir  = "/sys/kernel/config"
	DebugfsDir   = "/sys/kernel/debug"
	DlmfsDir     = "/dlm"
	clusterDir   = ConfigfsDir + "/cluster"
	stackFile    = "/sys/fs/ocfs2/cluster_stack"
	pluginsFile  = "/sys/fs/ocfs2/loaded_cluster_plugins"
	revisionFile = "/sys/fs/o2cb/interface_revision"
	hbCtlPath    = "/proc/sys/fs/ocfs2/nm/hb_ctl_path"
	modulesDir   = "/sys/module"
	mountinfo    = "/proc/self/mountinfo"
)

// APIVersion is the newest o2cb interface revision (the kernel's
// O2NM_API_VERSION) this package knows; a newer kernel is refused.
const APIVersion = 5

// Stack is the cluster stack name of the classic o2cb stack.
const Stack = "o2cb"

// Kernel is the kernel's o2cb stack as seen through the files under Root.
// The zero value is the running kernel; tests of the reading and planning
// logic point Root at a tree of their own.
type Kernel struct {
	Root string // prepended to every path; "" for the real files
	// Modprobe runs modprobe with args; nil runs the modprobe command.
	Modprobe func(args ...string) error
}

func (k Kernel) path(p ...string) string {
	return filepath.Join(append([]string{k.Root}, p...)...)
}

// Error is a failed step: what was done to which file, and why. Err is
// the errno or a sentinel of this package; Hint, when set, says what it
// means in the kernel's terms.
type Error struct {
	Op   string // e.g. "write", "mkdir", "rmdir"
	Path string // the file, as on a real system
	Err  error
	Hint string
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Path + ": " + errText(e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// errText is an errno's text with its name, e.g. "device or resource
// busy (EBUSY)", for an administrator who greps the kernel source.
func errText(err error) string {
	var no syscall.Errno
	if errors.As(err, &no) {
		if name := errnoName(no); name != "" {
			return err.Error() + " (" + name + ")"
		}
	}
	return err.Error()
}

func errnoName(no syscall.Errno) string {
	switch no {
	case syscall.EBUSY:
		return "EBUSY"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY"
	case syscall.ERANGE:
		return "ERANGE"
	case syscall.EIO:
		return "EIO"
	case syscall.EADDRNOTAVAIL:
		return "EADDRNOTAVAIL"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EPERM:
		return "EPERM"
	case syscall.EFBIG:
		return "EFBIG"
	}
	return ""
}

// Sentinels; errors of this package wrap them or an errno.
var (
	// ErrMismatch: what is registered differs from what was asked, and
	// the kernel cannot be made to agree without tearing it down.
	ErrMismatch = errors.New("kernel registration differs")
	// ErrInUse: something still depends on what was to be removed.
	ErrInUse = errors.New("in use")
	// ErrNoStack: the o2cb modules are not loaded and cannot be.
	ErrNoStack = errors.New("the kernel's o2cb stack is not available")
)

// read returns the trimmed text of a configfs or sysfs attribute.
func (k Kernel) read(p string) (string, error) {
	b, err := os.ReadFile(k.path(p))
	if err != nil {
		return "", &Error{Op: "read", Path: p, Err: unwrapPath(err)}
	}
	return strings.TrimSpace(string(b)), nil
}

func (k Kernel) readInt(p string) (int, error) {
	s, err := k.read(p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, &Error{Op: "read", Path: p, Err: fmt.Errorf("%q is not a number", s)}
	}
	return n, nil
}

// write writes s to an attribute in one write(2), as the kernel's store
// functions expect.
func (k Kernel) write(p, s string) error {
	f, err := os.OpenFile(k.path(p), os.O_WRONLY, 0)
	if err != nil {
		return &Error{Op: "write", Path: p, Err: unwrapPath(err)}
	}
	_, err = f.Write([]byte(s))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{Op: "write " + strconv.Quote(strings.TrimSpace(s)) + " to", Path: p, Err: unwrapPath(err)}
	}
	return nil
}

func (k Kernel) mkdir(p string) error {
	if err := os.Mkdir(k.path(p), 0o755); err != nil {
		return &Error{Op: "mkdir", Path: p, Err: unwrapPath(err)}
	}
	return nil
}

func (k Kernel) rmdir(p string) error {
	if err := syscall.Rmdir(k.path(p)); err != nil {
		return &Error{Op: "rmdir", Path: p, Err: err}
	}
	return nil
}

// dirs lists the subdirectories of p, sorted; a missing p is empty.
func (k Kernel) dirs(p string) ([]string, error) {
	es, err := os.ReadDir(k.path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Op: "read directory", Path: p, Err: unwrapPath(err)}
	}
	var out []string
	for _, e := range es {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (k Kernel) exists(p string) bool {
	_, err := os.Stat(k.path(p))
	return err == nil
}

// unwrapPath drops the *fs.PathError around an errno: Error names the
// path without the test root.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isErrno reports whether err wraps errno no.
func isErrno(err error, no syscall.Errno) bool { return errors.Is(err, no) }

// lockFile serializes the changes of a registration on this machine.
const lockFile = "/run/o2cb-ra-kernel.lock"

// Lock takes this machine's lock on changing the kernel's registration,
// waiting up to wait for another holder (a racing start or stop), and
// returns its release. Two starts that race would otherwise see each
// other's half-written nodes.
func (k Kernel) Lock(wait time.Duration) (unlock func(), err error) {
	p := k.path(lockFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, &Error{Op: "lock", Path: lockFile, Err: unwrapPath(err)}
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &Error{Op: "lock", Path: lockFile, Err: unwrapPath(err)}
	}
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			if err == unix.EWOULDBLOCK {
				return nil, &Error{Op: "lock", Path: lockFile, Err: fmt.Errorf("another start or stop of the kernel's o2cb cluster holds it for over %v", wait)}
			}
			return nil, &Error{Op: "lock", Path: lockFile, Err: err}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
