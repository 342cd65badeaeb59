// Package atomicfile replaces a file so that a reader, or the file after a
// crash or power cut, holds the old content or the new, never a mix:
//
//	err := atomicfile.WriteFile("/run/o2cb/state.json", data, 0o600)
//
// The order of the system calls is what makes it so: the new content goes
// to a temporary file in the same directory (".<name>.tmp<random>"),
// which is fsynced, renamed over the file, and then the directory is
// fsynced so that the rename itself lasts.
//
// A writer killed before its rename leaves its temporary file behind. A
// writer holds an flock on its temporary file from creation to rename, so
// the next WriteFile of the same file, by any process, tells a dead
// writer's leftovers (unlocked) from a live writer's (locked) and removes
// the former: leftovers never outlive the next write.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteFile replaces path with data: a temporary file in the same
// directory, written, given perm, synced and renamed over path, then the
// directory synced so that the rename lasts. A failure before the rename
// leaves path untouched and no temporary file behind. A failure to sync
// the directory after the rename is an error too, although path then
// holds the new content: it may not survive a power cut (a file system
// that cannot sync directories, EINVAL, is taken at its word).
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	prefix := "." + base + ".tmp"
	removeStale(dir, prefix)
	tmp, err := createLocked(dir, prefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && tmp != nil {
			os.Remove(tmp.Name()) // still locked: no one else removes it
			tmp.Close()
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	cerr := tmp.Close()
	tmp = nil
	if cerr != nil {
		return cerr
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%s replaced, but it may not survive a power cut: %w", path, err)
	}
	return nil
}

// createLocked creates a temporary file and takes its flock. A leftover
// remover may take the lock of a file between its creation and our lock,
// and unlink it: then we try again with another name.
func createLocked(dir, prefix string) (*os.File, error) {
	for range 8 {
		tmp, err := os.CreateTemp(dir, prefix+"*")
		if err != nil {
			return nil, err
		}
		err = flock(tmp, unix.LOCK_EX|unix.LOCK_NB)
		if fi, serr := tmp.Stat(); err == nil && serr == nil && fi.Sys().(*syscall.Stat_t).Nlink == 0 {
			tmp.Close() // unlinked by a remover before we locked it
			continue
		} else if errors.Is(err, unix.EWOULDBLOCK) {
			tmp.Close() // a remover holds it and will unlink it
			continue
		}
		// Locked, or a file system without flock: then no remover
		// can lock it either, and it is safe from them.
		return tmp, nil
	}
	return nil, fmt.Errorf("create a temporary file for %s in %s: kept being removed", strings.TrimPrefix(prefix, "."), dir)
}

// removeStale removes the temporary files of dead writers of the same
// file: those whose flock we can take.
func removeStale(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if flock(f, unix.LOCK_EX|unix.LOCK_NB) == nil {
			// Still the file we locked, not a new one of the same name.
			open, err1 := f.Stat()
			named, err2 := os.Lstat(name)
			if err1 == nil && err2 == nil && os.SameFile(open, named) {
				os.Remove(name)
			}
		}
		f.Close()
	}
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.Flock(int(fd), how) }); err != nil {
		return err
	}
	return ferr
}

// syncDir makes a rename in dir last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return nil
}
