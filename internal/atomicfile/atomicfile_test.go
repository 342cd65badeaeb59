package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, content := range []string{"old\n", "new\n"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("ReadFile = %q, %v; want %q", got, err, content)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	// A rename that fails (the target is a non-empty directory) leaves
	// the old file and no temporary file behind.
	blocked := filepath.Join(dir, "blocked")
	os.MkdirAll(filepath.Join(blocked, "x"), 0o755)
	if err := WriteFile(blocked, []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile over a non-empty directory = nil error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want state.json and blocked only", names)
	}
}

// A writer killed before its rename leaves its temporary file; the next
// write removes it, but not the temporary file of a live writer, which
// holds its lock.
func TestWriteFileRemovesDeadWritersTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.conf")
	dead := filepath.Join(dir, ".cluster.conf.tmp111")
	live := filepath.Join(dir, ".cluster.conf.tmp222")
	other := filepath.Join(dir, ".state.json.tmp333")
	for _, p := range []string{dead, live, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{dead: false, live: true, other: true} {
		if _, err := os.Lstat(p); (err == nil) != want {
			t.Errorf("after WriteFile(%s): %s exists = %v, want %v", path, filepath.Base(p), err == nil, want)
		}
	}
}
