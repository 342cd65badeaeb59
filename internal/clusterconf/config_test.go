package clusterconf

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

const sample = `cluster:
	name = web
	heartbeat_mode = GLOBAL
	node_count = 3

heartbeat:
	cluster = web
	region = c213a5e1-913b-4a38-a171-01e81bdc2267

heartbeat:
	layout = other
	region = 0123456789abcdef0123456789ABCDEF
	cluster = web

node:
	ip_port = 7777
	ip_address = 10.0.0.1
	number = 7
	name = node7
	cluster = web

node:
	cluster = web
	name = node10
	number = 10
	ip_address = 10.0.0.2
	ip_port = 7778

cluster:
	name = db
	node_count = 0
`

func TestParseModel(t *testing.T) {
	c := parseString(t, sample)
	want := `cluster web mode=global node_count=3
  node 7 node7 10.0.0.1:7777
  node 10 node10 10.0.0.2:7778
  region C213A5E1913B4A38A17101E81BDC2267 ocfs2
  region 0123456789ABCDEF0123456789ABCDEF other
cluster db mode=local node_count=0
`
	if got := dumpModel(c); got != want {
		t.Errorf("Parse(sample) =\n%s\nwant\n%s", got, want)
	}
	web, _ := c.Cluster("web")
	if got := web.Line(); got != 1 {
		t.Errorf("Cluster(web).Line() = %d, want 1", got)
	}
	if n, _ := web.Node("node10"); n.Line != 22 || n.Cluster != "web" {
		t.Errorf("Node(node10) = %+v, want Line 22, Cluster web", n)
	}
	if r := web.Regions(); r[1].Line != 10 {
		t.Errorf("Regions()[1].Line = %d, want 10", r[1].Line)
	}
}

// TestParseValidation checks each rule of the model, with the line of
// the error.
func TestParseValidation(t *testing.T) {
	cluster := "cluster:\n\tname = a\n\tnode_count = 2\n\n" // lines 1-4
	node := func(attrs string) string { return cluster + "node:\n\tcluster = a\n" + attrs }
	full := "\tname = n1\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n"
	hb := func(attrs string) string { return cluster + "heartbeat:\n\tcluster = a\n" + attrs }
	uuid := "C213A5E1913B4A38A17101E81BDC2267"
	tests := []struct {
		name, in string
		want     []wantErr
	}{
		{"cluster without name", "cluster:\n\tnode_count = 0\n", []wantErr{{1, "cluster stanza has no name"}}},
		{"cluster name too long", "cluster:\n\tname = abcdefghijklmnopq\n\tnode_count = 0\n", []wantErr{{2, "longer than 16"}}},
		{"cluster name not alphanumeric", "cluster:\n\tname = my-cluster\n\tnode_count = 0\n", []wantErr{{2, "only letters and digits"}}},
		{"cluster without node_count", "cluster:\n\tname = a\n", []wantErr{{1, `cluster "a" has no node_count`}}},
		{"node_count not a number", "cluster:\n\tname = a\n\tnode_count = two\n", []wantErr{{3, `node_count "two" is not a decimal number`}}},
		{"bad heartbeat mode", "cluster:\n\tname = a\n\tnode_count = 0\n\theartbeat_mode = disk\n", []wantErr{{4, `heartbeat mode "disk": want local or global`}}},
		{"empty heartbeat mode", "cluster:\n\tname = a\n\tnode_count = 0\n\theartbeat_mode =\n", []wantErr{{4, `heartbeat mode ""`}}},
		{"cluster twice", cluster + cluster, []wantErr{{5, `cluster "a" is configured twice (also at line 1)`}}},
		{"node of unknown cluster", "node:\n\tcluster = b\n" + full, []wantErr{{2, `cluster "b" is not configured`}}},
		{"node without cluster", "node:\n" + full, []wantErr{{1, `node "n1" has no cluster`}}},
		{"node missing everything", node(""), []wantErr{{5, "no name"}, {5, "no number"}, {5, "no ip_address"}, {5, "no ip_port"}}},
		{"node number too big", node("\tname = n1\n\tnumber = 255\n\tip_address = 10.0.0.1\n\tip_port = 7777\n"), []wantErr{{8, "number 255 is out of range (0 to 254)"}}},
		{"node number signed", node("\tname = n1\n\tnumber = +3\n\tip_address = 10.0.0.1\n\tip_port = 7777\n"), []wantErr{{8, `number "+3" is not a decimal number`}}},
		{"node address not IPv4", node("\tname = n1\n\tnumber = 1\n\tip_address = ::1\n\tip_port = 7777\n"), []wantErr{{9, `ip_address "::1" is not an IPv4 address`}}},
		{"node address leading zero", node("\tname = n1\n\tnumber = 1\n\tip_address = 10.0.0.01\n\tip_port = 7777\n"), []wantErr{{9, "not an IPv4 address"}}},
		{"node port zero", node("\tname = n1\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 0\n"), []wantErr{{10, "ip_port 0 is out of range (1 to 65534)"}}},
		{"node port too big", node("\tname = n1\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 65535\n"), []wantErr{{10, "ip_port 65535 is out of range (1 to 65534)"}}},
		{"node name with blank", node("\tname = n 1\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n"), []wantErr{{7, "blanks"}}},
		{"node name too long", node("\tname = " + strings.Repeat("n", 65) + "\n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n"), []wantErr{{7, "longer than 64"}}},
		{"node name twice", node(full) + "\nnode:\n\tcluster = a\n\tname = n1\n\tnumber = 2\n\tip_address = 10.0.0.2\n\tip_port = 7777\n",
			[]wantErr{{12, `node "n1" of cluster "a" is configured twice (also at line 5)`}}},
		{"node number twice", node(full) + "\nnode:\n\tcluster = a\n\tname = n2\n\tnumber = 1\n\tip_address = 10.0.0.2\n\tip_port = 7777\n",
			[]wantErr{{12, `number 1 is taken by node "n1" (line 5)`}}},
		{"region without region", hb(""), []wantErr{{5, "heartbeat stanza has no region"}}},
		{"region not a UUID", hb("\tregion = /dev/sdb1\n"), []wantErr{{7, `region: not a volume UUID: "/dev/sdb1" is not 32 hex digits`}}},
		{"region with a bad digit", hb("\tregion = G213A5E1913B4A38A17101E81BDC2267\n"), []wantErr{{7, `region: not a volume UUID: "G213A5E1913B4A38A17101E81BDC2267": 'G' is not a hex digit`}}},
		{"region twice, in two spellings", hb("\tregion = "+uuid+"\n") + "\nheartbeat:\n\tcluster = a\n\tregion = c213a5e1-913b-4a38-a171-01e81bdc2267\n",
			[]wantErr{{9, "region " + uuid + ` of cluster "a" is configured twice (also at line 5)`}}},
		{"bad layout", hb("\tregion = " + uuid + "\n\tlayout = ../x\n"), []wantErr{{8, `layout "../x"`}}},
		{"empty layout", hb("\tregion = " + uuid + "\n\tlayout =\n"), []wantErr{{8, "empty layout"}}},
		{"region of unknown cluster", "heartbeat:\n\tcluster = zz\n\tregion = " + uuid + "\n", []wantErr{{2, `cluster "zz" is not configured`}}},
		{"syntax and model errors together",
			"cluster:\n\tname = a!\n\tnode_count = 1\n\theartbeat_mode = x\n\n\tstray = 1\nnode:\n\tcluster = a\n\tname = n\n\tnumber = 999\n\tip_address = 1.2.3\n\tip_port = 1\n",
			[]wantErr{{2, "only letters and digits"}, {4, `heartbeat mode "x"`}, {6, "outside a stanza"}, {8, `cluster "a" is not configured`}, {10, "out of range"}, {11, "not an IPv4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.conf", strings.NewReader(tt.in))
			if c != nil {
				t.Errorf("Parse(%s) = a config, want nil with errors", tt.name)
			}
			checkErrors(t, "Parse("+tt.name+")", err, ErrInvalid, tt.want)
		})
	}
}

func TestParseTooManyRegions(t *testing.T) {
	var b strings.Builder
	b.WriteString("cluster:\n\tname = a\n\tnode_count = 0\n\theartbeat_mode = global\n\n")
	for i := range hbdisk.MaxRegions + 2 {
		b.WriteString("heartbeat:\n\tcluster = a\n\tregion = " + strings.Repeat("0", 30) + string("0123456789ABCDEF"[i/16]) + string("0123456789ABCDEF"[i%16]) + "\n\n")
	}
	_, err := Parse("test.conf", strings.NewReader(b.String()))
	checkErrors(t, "Parse(34 regions)", err, ErrInvalid, []wantErr{
		{6 + 4*32, "already has 32 heartbeat regions"},
		{6 + 4*33, "already has 32 heartbeat regions"},
	})
}

// TestParseLikeOCFS2Tools checks what ocfs2-tools reads differently from
// a naive reading.
func TestParseLikeOCFS2Tools(t *testing.T) {
	// Trailing blanks are kept in the file but not in the values; a
	// missing heartbeat_mode is local; unknown stanzas and keys are kept.
	in := "cluster:\n\tname = a  \n\tnode_count = 1 \n\tcolour = blue\n\nnode:\n\tname = n1\t\n\tcluster = a \n\tnumber = 1\n\tip_address = 10.0.0.1\n\tip_port = 7777\n\nextra:\n\tk = v\n"
	c := parseString(t, in)
	if got, want := dumpModel(c), "cluster a mode=local node_count=1\n  node 1 n1 10.0.0.1:7777\n"; got != want {
		t.Errorf("Parse(%q) =\n%s\nwant\n%s", in, got, want)
	}
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\tname = a  \n", "\tcolour = blue\n", "extra:\n\tk = v\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("Write() = %q, want it to contain %q", b.String(), s)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.conf"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist and not ErrInvalid", err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("cluster:\n\tname = a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	var le *LineError
	if !errors.As(err, &le) || le.Path != bad || le.Line != 1 || !errors.Is(err, ErrInvalid) || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(bad) = %v, want a *LineError at %s:1 wrapping ErrInvalid", err, bad)
	}
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil || c.Path != good {
		t.Fatalf("Load(good) = %v, %v; want the config with Path %s", c, err, good)
	}
}

func TestCluster(t *testing.T) {
	two := parseString(t, sample)
	one := parseString(t, "cluster:\n\tname = only\n\tnode_count = 0\n")
	none := parseString(t, "# nothing\n")
	tests := []struct {
		c        *Config
		name     string
		want     string
		wantErr  error
		wantText string
	}{
		{one, "", "only", nil, ""},
		{one, "only", "only", nil, ""},
		{two, "db", "db", nil, ""},
		{two, "", "", ErrAmbiguousCluster, "2 clusters are configured (web, db)"},
		{two, "x", "", ErrUnknownCluster, `no cluster "x" is configured (clusters: web, db)`},
		{none, "", "", ErrNoCluster, "no cluster is configured"},
	}
	for _, tt := range tests {
		cl, err := tt.c.Cluster(tt.name)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "test.conf: ") {
				t.Errorf("Cluster(%q) = %v, want %v saying %q", tt.name, err, tt.wantErr, tt.wantText)
			}
			continue
		}
		if err != nil || cl.Name() != tt.want {
			t.Errorf("Cluster(%q) = %v, %v; want %s", tt.name, cl, err, tt.want)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	c := parseString(t, sample+"\ncluster:\n\tname = empty\n\theartbeat_mode = global\n\tnode_count = 0\n\nheartbeat:\n\tcluster = db\n\tregion = 11111111111111111111111111111111\n")
	web, _ := c.Cluster("web")
	hb, err := web.Heartbeat()
	if err != nil || hb.Mode != ModeGlobal || len(hb.Regions) != 2 || hb.Regions[1].Layout != "other" {
		t.Errorf("web.Heartbeat() = %+v, %v; want global with 2 regions", hb, err)
	}
	// Local mode: a heartbeat configuration; its heartbeat stanzas are
	// not started.
	db, _ := c.Cluster("db")
	hb, err = db.Heartbeat()
	if err != nil || hb.Mode != ModeLocal || hb.Regions != nil || len(db.Regions()) != 1 {
		t.Errorf("db.Heartbeat() = %+v, %v; want local without regions (Regions() still lists 1)", hb, err)
	}
	empty, _ := c.Cluster("empty")
	_, err = empty.Heartbeat()
	var le *LineError
	if !errors.Is(err, ErrNoHeartbeat) || !errors.As(err, &le) || le.Line != 33 {
		t.Errorf("empty.Heartbeat() = %v, want ErrNoHeartbeat at line 33", err)
	}
}

func TestNodeQueries(t *testing.T) {
	c := parseString(t, `cluster:
	name = a
	node_count = 4

node:
	cluster = a
	name = web1
	number = 4
	ip_address = 10.0.0.1
	ip_port = 7777

node:
	cluster = a
	name = Web2.example.com
	number = 0
	ip_address = 10.0.0.2
	ip_port = 7777

node:
	cluster = a
	name = db
	number = 9
	ip_address = 10.0.0.3
	ip_port = 7777

node:
	cluster = a
	name = db.lan
	number = 2
	ip_address = 10.0.0.4
	ip_port = 7777
`)
	cl, _ := c.Cluster("")
	for _, tt := range []struct {
		host    string
		want    string
		wantErr error
	}{
		{"web1", "web1", nil},
		{"web1.example.com", "web1", nil},
		{"WEB1.Example.Com", "web1", nil},
		{"web10", "", ErrNoSuchNode},
		{"web", "", ErrNoSuchNode},
		{"web2.example.com", "Web2.example.com", nil},
		{"web2", "", ErrNoSuchNode},
		{"db.lan", "db.lan", nil},
		{"db", "db", nil},
		{"db.lan.example.com", "", ErrAmbiguousNode},
	} {
		n, err := cl.LocalNode(tt.host)
		if !errors.Is(err, tt.wantErr) || n.Name != tt.want {
			t.Errorf("LocalNode(%q) = %q, %v; want %q, %v", tt.host, n.Name, err, tt.want, tt.wantErr)
		}
	}
	if n, err := cl.Node("db"); err != nil || n.Number != 9 || n.Address != netip.MustParseAddr("10.0.0.3") {
		t.Errorf("Node(db) = %+v, %v; want number 9 at 10.0.0.3", n, err)
	}
	if _, err := cl.Node("DB"); !errors.Is(err, ErrNoSuchNode) || !strings.Contains(err.Error(), "test.conf:1: ") || !strings.Contains(err.Error(), "nodes: web1, Web2.example.com, db, db.lan") {
		t.Errorf("Node(DB) = %v, want ErrNoSuchNode at test.conf:1 listing the nodes", err)
	}
	if n, err := cl.NodeByNumber(2); err != nil || n.Name != "db.lan" {
		t.Errorf("NodeByNumber(2) = %+v, %v; want db.lan", n, err)
	}
	if _, err := cl.NodeByNumber(3); !errors.Is(err, ErrNoSuchNode) {
		t.Errorf("NodeByNumber(3) = %v, want ErrNoSuchNode", err)
	}
	if got := cl.MaxNodeNumber(); got != 9 {
		t.Errorf("MaxNodeNumber() = %d, want 9", got)
	}
	empty := parseString(t, "cluster:\n\tname = e\n\tnode_count = 0\n")
	if cl, _ := empty.Cluster(""); cl.MaxNodeNumber() != -1 {
		t.Errorf("MaxNodeNumber() of a cluster without nodes = %d, want -1", cl.MaxNodeNumber())
	}
}

func TestParseMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mode
	}{{"local", ModeLocal}, {"Global", ModeGlobal}, {"LOCAL", ModeLocal}, {"disk", ""}, {"", ""}} {
		got, err := ParseMode(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
