package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// DefaultRunDir is where the daemon keeps its socket, pid and state.
const DefaultRunDir = "/run/o2cb"

// Names of the files in the run directory.
const (
	SocketName = "o2hbd.sock" // the control socket
	PIDName    = "o2hbd.pid"  // the pid file; the daemon holds an exclusive lock on it while it runs
	StateName  = "state.json" // the state file
	LogName    = "o2hbd.log"  // the log file used when there is no syslog
)

// ErrUnsafeRunDir: the run directory, or a directory above it, could be
// changed by someone other than root (or the daemon's user).
var ErrUnsafeRunDir = errors.New("unsafe run directory")

// ErrAlreadyRunning: a daemon already holds the run directory.
var ErrAlreadyRunning = errors.New("daemon already running")

// PrepareRunDir creates the run directory (0700) if needed and checks it
// is safe: a directory, not a symlink, owned by us, not writable by group
// or others; and every directory above it (symlinks resolved) owned by
// root or us and not writable by group or others unless sticky (as /tmp
// is), since whoever may write there could rename the run directory away
// and put their own in its place. An unsafe directory is ErrUnsafeRunDir.
func PrepareRunDir(dir string) error {
	unsafe := func(format string, a ...any) error {
		return &unsafeError{msg: fmt.Sprintf(format, a...), kind: ErrUnsafeRunDir}
	}
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("run directory %s: %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return unsafe("run directory %s is a symbolic link: give the real directory", dir)
	case !fi.IsDir():
		return unsafe("run directory %s is not a directory (%s)", dir, "a "+ocfs2.FileKind(fi.Mode()))
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Geteuid() {
		return unsafe("run directory %s is owned by uid %d, not %d", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return unsafe("run directory %s has mode %04o: it must not be writable by group or others", dir, fi.Mode().Perm())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	for p := parent; ; p = filepath.Dir(p) {
		pi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("run directory %s: %w", dir, err)
		}
		uid := int(pi.Sys().(*syscall.Stat_t).Uid)
		if uid != 0 && uid != os.Geteuid() {
			return unsafe("run directory %s: %s above it is owned by uid %d, not root", dir, p, uid)
		}
		if pi.Mode().Perm()&0o022 != 0 && pi.Mode()&os.ModeSticky == 0 {
			return unsafe("run directory %s: %s above it has mode %04o: writable by group or others without the sticky bit", dir, p, pi.Mode().Perm())
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// unsafeError is a message that errors.Is matches to its kind.
type unsafeError struct {
	msg  string
	kind error
}

func (e *unsafeError) Error() string        { return e.msg }
func (e *unsafeError) Is(target error) bool { return target == e.kind }

// OpenOwn opens a file of the run directory (what names it in messages:
// "state file", "log file") with flag and perm, never through a symlink,
// and checks it is a regular file of ours that group and others cannot
// write: someone else's file there is refused, not used. A refusal is an
// error that errors.Is matches to kind (nil: none); an error of the open
// itself is wrapped (errors.Is(err, fs.ErrNotExist) still tells).
func OpenOwn(path, what string, flag int, perm os.FileMode, kind error) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, &unsafeError{fmt.Sprintf("%s %s is a symbolic link: refusing to follow it (remove it)", what, path), kind}
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	uid := int(fi.Sys().(*syscall.Stat_t).Uid)
	if !fi.Mode().IsRegular() || uid != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		f.Close()
		return nil, &unsafeError{fmt.Sprintf("%s %s is a %s of uid %d with mode %04o: refusing it (want a regular file of uid %d not writable by group or others)",
			what, path, ocfs2.FileKind(fi.Mode()), uid, fi.Mode().Perm(), os.Geteuid()), kind}
	}
	return f, nil
}

// LockPID takes the exclusive lock of dir's pid file and writes our pid
// in it; the lock lasts until the file is closed. A second daemon on the
// same run directory fails here with ErrAlreadyRunning.
func LockPID(dir string) (*os.File, error) {
	path := filepath.Join(dir, PIDName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, &unsafeError{fmt.Sprintf("pid file %s is a symbolic link: refusing to follow it (remove it)", path), ErrUnsafeRunDir}
	}
	if err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		return nil, fmt.Errorf("another heartbeat daemon runs on %s (pid %s): %w", dir, trimNL(b[:n]), ErrAlreadyRunning)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	return f, nil
}

func trimNL(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// ReadPID is the pid that dir's pid file names, 0 if none.
func ReadPID(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, PIDName))
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Held reports whether a daemon holds dir's pid lock (a daemon that runs
// but does not answer holds it too).
func Held(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, PIDName), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
