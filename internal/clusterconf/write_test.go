package clusterconf

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// roundTrip writes c, parses the result and checks that the model and
// the stanzas are the same; it returns the text written.
func roundTrip(t *testing.T, c *Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatalf("Write() error: %v", err)
	}
	c2, err := Parse("test.conf", bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("Parse(Write()) error: %v\n%s", err, b.String())
	}
	if got, want := dumpModel(c2), dumpModel(c); got != want {
		t.Errorf("Parse(Write()) model =\n%s\nwant\n%s", got, want)
	}
	if got, want := dumpSyntax(&c2.f, false), dumpSyntax(&c.f, false); got != want {
		t.Errorf("Parse(Write()) stanzas =\n%s\nwant\n%s", got, want)
	}
	var b2 bytes.Buffer
	if err := c2.Write(&b2); err != nil {
		t.Fatal(err)
	}
	if b2.String() != b.String() {
		t.Errorf("Write(Parse(Write())) =\n%q\nwant\n%q", b2.String(), b.String())
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, parseString(t, sample))
	roundTrip(t, parseString(t, "# c1\ncluster:\n# c2\n\tname = a \n\tnode_count = 0\n\tx = 1\\\n 2\n\nodd:\n\tk =\n# end\n"))
}

// TestBuild builds a configuration with the methods and checks the text,
// which follows o2cb's layout.
func TestBuild(t *testing.T) {
	var c Config
	web, err := c.AddCluster("web", ModeLocal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := web.AddNode(Node{Name: "n1", Number: 1, Address: netip.MustParseAddr("10.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := web.AddNode(Node{Name: "n0", Number: 0, Address: netip.MustParseAddr("10.0.0.2"), Port: 7000}); err != nil {
		t.Fatal(err)
	}
	if _, err := web.AddRegion("c213a5e1-913b-4a38-a171-01e81bdc2267", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := web.AddRegion("0123456789ABCDEF0123456789ABCDEF", "other"); err != nil {
		t.Fatal(err)
	}
	if err := web.SetMode(ModeGlobal); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddCluster("db", ModeLocal); err != nil {
		t.Fatal(err)
	}
	want := `cluster:
	name = web
	heartbeat_mode = global
	node_count = 2

cluster:
	name = db
	heartbeat_mode = local
	node_count = 0

heartbeat:
	cluster = web
	region = C213A5E1913B4A38A17101E81BDC2267

heartbeat:
	cluster = web
	region = 0123456789ABCDEF0123456789ABCDEF
	layout = other

node:
	cluster = web
	number = 1
	ip_port = 7777
	ip_address = 10.0.0.1
	name = n1

node:
	cluster = web
	number = 0
	ip_port = 7000
	ip_address = 10.0.0.2
	name = n0

`
	if got := roundTrip(t, &c); got != want {
		t.Errorf("Write() =\n%s\nwant\n%s", got, want)
	}

	if err := web.RemoveNode("n1"); err != nil {
		t.Fatal(err)
	}
	if err := web.RemoveRegion("c213a5e1913b4a38a17101e81bdc2267"); err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, &c)
	if strings.Contains(got, "n1") || strings.Contains(got, "C213A5E1") || !strings.Contains(got, "node_count = 1\n") {
		t.Errorf("after RemoveNode(n1), RemoveRegion: Write() =\n%s\nwant no n1, no C213A5E1, node_count = 1", got)
	}
}

func TestBuildErrors(t *testing.T) {
	var c Config
	cl, _ := c.AddCluster("a", ModeGlobal)
	ip := netip.MustParseAddr("10.0.0.1")
	_, _ = cl.AddNode(Node{Name: "n1", Number: 1, Address: ip})
	_, _ = cl.AddRegion("C213A5E1913B4A38A17101E81BDC2267", "")
	for _, tt := range []struct {
		call string
		err  error
		want error
	}{
		{"AddCluster(a)", second(c.AddCluster("a", ModeLocal)), ErrExists},
		{"AddCluster(a-b)", second(c.AddCluster("a-b", ModeLocal)), ErrInvalid},
		{"AddCluster(b, disk)", second(c.AddCluster("b", "disk")), ErrInvalid},
		{"SetMode(disk)", cl.SetMode("disk"), ErrInvalid},
		{"AddNode(n1 again)", second(cl.AddNode(Node{Name: "n1", Number: 2, Address: ip})), ErrExists},
		{"AddNode(number 1 again)", second(cl.AddNode(Node{Name: "n2", Number: 1, Address: ip})), ErrExists},
		{"AddNode(number 255)", second(cl.AddNode(Node{Name: "n2", Number: 255, Address: ip})), ErrInvalid},
		{"AddNode(IPv6)", second(cl.AddNode(Node{Name: "n2", Number: 2, Address: netip.MustParseAddr("::1")})), ErrInvalid},
		{"AddNode(port 65535)", second(cl.AddNode(Node{Name: "n2", Number: 2, Address: ip, Port: 65535})), ErrInvalid},
		{"AddNode(empty name)", second(cl.AddNode(Node{Number: 2, Address: ip})), ErrInvalid},
		{"AddRegion(again, dashed)", second(cl.AddRegion("c213a5e1-913b-4a38-a171-01e81bdc2267", "")), ErrExists},
		{"AddRegion(bad)", second(cl.AddRegion("nope", "")), ErrInvalid},
		{"AddRegion(bad layout)", second(cl.AddRegion("11111111111111111111111111111111", "a/b")), ErrInvalid},
		{"RemoveNode(x)", cl.RemoveNode("x"), ErrNoSuchNode},
		{"RemoveRegion(other)", cl.RemoveRegion("11111111111111111111111111111111"), ErrNoSuchRegion},
	} {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s = %v, want %v", tt.call, tt.err, tt.want)
		}
	}
	for i := 1; i < hbdisk.MaxRegions; i++ {
		if _, err := cl.AddRegion(strings.Repeat("A", 30)+string("0123456789ABCDEF"[i/16])+string("0123456789ABCDEF"[i%16]), ""); err != nil {
			t.Fatalf("AddRegion(#%d) error: %v", i+1, err)
		}
	}
	if _, err := cl.AddRegion(strings.Repeat("B", 32), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddRegion(#33) = %v, want ErrInvalid", err)
	}
	roundTrip(t, &c)
}

func second[T any](_ T, err error) error { return err }

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.conf")
	c := parseString(t, sample)
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(path); err != nil {
		t.Fatalf("WriteFile() error: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("WriteFile() mode = %v, want 0644", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(WriteFile()) error: %v", err)
	}
	if dumpModel(got) != dumpModel(c) {
		t.Errorf("Load(WriteFile()) =\n%s\nwant\n%s", dumpModel(got), dumpModel(c))
	}
	assertOnly(t, dir, "cluster.conf")
}

// TestWriteFileFails provokes failures a root process meets too and checks
// that nothing is left behind and the old file is intact.
func TestWriteFileFails(t *testing.T) {
	c := parseString(t, sample)
	dir := t.TempDir()

	// A directory that does not exist, and a path component that is a file.
	if err := c.WriteFile(filepath.Join(dir, "missing", "cluster.conf")); err == nil {
		t.Errorf("WriteFile(in a missing directory) = nil, want an error")
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(filepath.Join(file, "cluster.conf")); err == nil {
		t.Errorf("WriteFile(under a file) = nil, want an error")
	}
	// The rename fails: the target is a directory that is not empty.
	target := filepath.Join(dir, "cluster.conf")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := c.WriteFile(target)
	if err == nil || !strings.Contains(err.Error(), target) {
		t.Errorf("WriteFile(over a directory) = %v, want an error naming %s", err, target)
	}
	if _, err := os.Stat(filepath.Join(target, "keep")); err != nil {
		t.Errorf("after a failed WriteFile, the directory it would replace: %v", err)
	}
	assertOnly(t, dir, "cluster.conf", "file")
}

// TestWriteFileImmutable: a directory with the immutable attribute refuses
// new files even to root; the old file must stay as it was.
func TestWriteFileImmutable(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "chattr")
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.conf")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: the file system of %s has no immutable attribute: %v: %s", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	var c Config
	if _, err := c.AddCluster("other", ModeLocal); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(path); err == nil {
		t.Fatalf("WriteFile(in an immutable directory) = nil, want an error")
	}
	if got, _ := os.ReadFile(path); string(got) != sample {
		t.Errorf("after a failed WriteFile the file holds %q, want the old content", got)
	}
	assertOnly(t, dir, "cluster.conf")
}

// assertOnly checks that dir holds exactly names (no temporary file).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}
