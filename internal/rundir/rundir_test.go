package rundir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// TestRunDirAndParents: the run directory and every directory above it
// must be safe from other users; a world-writable directory above is
// fine only with the sticky bit, as /tmp has.
func TestRunDirAndParents(t *testing.T) {
	testenv.RequireRoot(t) // directories owned by root
	for _, tc := range []struct {
		name       string
		parentMode os.FileMode
		make       func(t *testing.T, run string)
		unsafe     string // "" if accepted
	}{
		{"missing", 0o755, func(*testing.T, string) {}, ""},
		{"parent sticky 1777", 0o777 | os.ModeSticky, func(*testing.T, string) {}, ""},
		{"parent 0777", 0o777, func(*testing.T, string) {}, "above it has mode 0777"},
		{"parent 0775", 0o775, func(*testing.T, string) {}, "above it has mode 0775"},
		{"regular file", 0o755, func(t *testing.T, run string) { os.WriteFile(run, nil, 0o600) }, "not a directory (a regular file)"},
		{"symlink", 0o755, func(t *testing.T, run string) { os.Symlink(t.TempDir(), run) }, "is a symbolic link"},
		{"0770", 0o755, func(t *testing.T, run string) { os.Mkdir(run, 0o700); os.Chmod(run, 0o770) }, "has mode 0770"},
		{"owned by nobody", 0o755, func(t *testing.T, run string) { os.Mkdir(run, 0o700); os.Chown(run, 65534, 65534) }, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			if err := os.Mkdir(parent, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(parent, tc.parentMode); err != nil {
				t.Fatal(err)
			}
			run := filepath.Join(parent, "o2cb")
			tc.make(t, run)
			err := PrepareRunDir(run)
			if tc.unsafe == "" {
				if err != nil {
					t.Fatalf("PrepareRunDir(%s) = %v, want nil", run, err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeRunDir) || !strings.Contains(err.Error(), tc.unsafe) || !strings.Contains(err.Error(), run) {
				t.Fatalf("PrepareRunDir(%s) = %v, want ErrUnsafeRunDir naming it and %q", run, err, tc.unsafe)
			}
		})
	}
}

// TestLockPID: the pid lock is taken once, names our pid, tells others
// that the directory is held, and is released by closing the file.
func TestLockPID(t *testing.T) {
	dir := t.TempDir()
	if Held(dir) || ReadPID(dir) != 0 {
		t.Fatalf("Held, ReadPID of an empty run dir = %v, %d; want false, 0", Held(dir), ReadPID(dir))
	}
	f, err := LockPID(dir)
	if err != nil {
		t.Fatalf("LockPID(%s) = %v", dir, err)
	}
	if !Held(dir) || ReadPID(dir) != os.Getpid() {
		t.Errorf("Held, ReadPID while locked = %v, %d; want true, %d", Held(dir), ReadPID(dir), os.Getpid())
	}
	if g, err := LockPID(dir); !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), dir) {
		if g != nil {
			g.Close()
		}
		t.Errorf("second LockPID(%s) = %v, want ErrAlreadyRunning naming the directory", dir, err)
	}
	f.Close()
	if Held(dir) {
		t.Error("Held after the lock's file was closed = true, want false")
	}
	os.Remove(filepath.Join(dir, PIDName))
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, PIDName)); err != nil {
		t.Fatal(err)
	}
	if g, err := LockPID(dir); !errors.Is(err, ErrUnsafeRunDir) {
		if g != nil {
			g.Close()
		}
		t.Errorf("LockPID through a symlinked pid file = %v, want ErrUnsafeRunDir", err)
	}
}

// TestOpenOwn: a symlink is not followed and a file others may write is
// refused, each as the kind the caller gave.
func TestOpenOwn(t *testing.T) {
	dir := t.TempDir()
	kind := errors.New("test kind")
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenOwn(good, "test file", os.O_RDONLY, 0, kind)
	if err != nil {
		t.Fatalf("OpenOwn(%s) = %v, want it open", good, err)
	}
	f.Close()
	link := filepath.Join(dir, "link")
	os.Symlink(good, link)
	if _, err := OpenOwn(link, "test file", os.O_RDONLY, 0, kind); !errors.Is(err, kind) || !strings.Contains(err.Error(), "test file "+link+" is a symbolic link") {
		t.Errorf("OpenOwn(symlink) = %v, want the kind, naming the file", err)
	}
	os.Chmod(good, 0o622)
	if _, err := OpenOwn(good, "test file", os.O_RDONLY, 0, kind); !errors.Is(err, kind) || !strings.Contains(err.Error(), "mode 0622") {
		t.Errorf("OpenOwn(0622 file) = %v, want the kind, naming the mode", err)
	}
	if _, err := OpenOwn(filepath.Join(dir, "none"), "test file", os.O_RDONLY, 0, kind); errors.Is(err, kind) || !os.IsNotExist(errors.Unwrap(err)) {
		t.Errorf("OpenOwn(missing) = %v, want a wrapped not-exist error", err)
	}
}
