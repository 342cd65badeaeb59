package hbd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunDirAndParents: the run directory and every directory above it
// must be safe from other users; a world-writable directory above is
// fine only with the sticky bit, as /tmp has.
func TestRunDirAndParents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: directories owned by root")
	}
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

// TestLoadStateRefusesWhatIsNotOurs: a symlink planted at state.json is
// not followed, a foreign or writable file not read.
func TestLoadStateRefusesWhatIsNotOurs(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	good := `{"version":1,"regions":[{"uuid":"00112233445566778899AABBCCDDEEFF","device":"/dev/x","owners":{"global":1}}]}`
	if err := os.WriteFile(victim, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := loadState(victim); err != nil || len(st.Regions) != 1 {
		t.Fatalf("loadState(%s) = %+v, %v; want one region", victim, st, err)
	}
	link := filepath.Join(dir, StateName)
	os.Symlink(victim, link)
	if _, err := loadState(link); !errors.Is(err, ErrUnsafeState) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("loadState(symlink) = %v, want ErrUnsafeState", err)
	}
	os.Chmod(victim, 0o666)
	if _, err := loadState(victim); !errors.Is(err, ErrUnsafeState) || !strings.Contains(err.Error(), "mode 0666") {
		t.Fatalf("loadState(0666 file) = %v, want ErrUnsafeState", err)
	}
	if _, err := loadState(dir); !errors.Is(err, ErrUnsafeState) {
		t.Fatalf("loadState(directory) = %v, want ErrUnsafeState", err)
	}
}
