package hbd

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

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
