package o2cbfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// fakeTree lays out a registered cluster as configfs shows it, in plain
// files under a temporary root: enough for the reading and planning
// logic. What only the kernel does (default groups, write-once
// attributes, EBUSY) is tested in the qemu guests.
func fakeTree(t *testing.T, c Cluster, regions ...Region) Kernel {
	t.Helper()
	root := t.TempDir()
	k := Kernel{Root: root}
	put := func(p, v string) {
		t.Helper()
		full := k.path(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp := func(p ...string) string { return clusterPath(c.Name, p...) }
	put(cp("heartbeat", "mode"), c.Mode)
	put(cp("heartbeat", "dead_threshold"), itoa(c.DeadThreshold))
	put(cp("idle_timeout_ms"), itoa(c.IdleTimeoutMS))
	put(cp("keepalive_delay_ms"), itoa(c.KeepaliveDelayMS))
	put(cp("reconnect_delay_ms"), itoa(c.ReconnectDelayMS))
	put(cp("fence_method"), c.FenceMethod)
	for _, n := range c.Nodes {
		put(cp("node", n.Name, "num"), itoa(n.Num))
		put(cp("node", n.Name, "ipv4_port"), itoa(n.Port))
		put(cp("node", n.Name, "ipv4_address"), n.Address.String())
		local := "0"
		if n.Local {
			local = "1"
		}
		put(cp("node", n.Name, "local"), local)
	}
	for _, r := range regions {
		rp := func(a string) string { return k.regionPath(c.Name, r.UUID, a) }
		put(rp("block_bytes"), itoa(r.BlockBytes))
		put(rp("start_block"), itoa(int(r.StartBlock)))
		put(rp("blocks"), itoa(r.Blocks))
		put(rp("dev"), r.Dev)
		pid := ""
		if r.Pid > 0 {
			pid = itoa(r.Pid)
		}
		put(rp("pid"), pid)
	}
	return k
}

func itoa(n int) string { return strconv.Itoa(n) }

func twoNodes(local int) []Node {
	ns := []Node{
		{Name: "n1", Num: 1, Address: netip.MustParseAddr("169.254.77.1"), Port: 7777},
		{Name: "n2", Num: 2, Address: netip.MustParseAddr("169.254.77.2"), Port: 7777},
	}
	for i := range ns {
		ns[i].Local = ns[i].Num == local
	}
	return ns
}

func cluster(local int) Cluster {
	return Cluster{Name: "web", Mode: "global", Nodes: twoNodes(local), Timeouts: DefaultTimeouts}
}

func TestRegisteredReadsTheTree(t *testing.T) {
	want := cluster(2)
	want.DeadThreshold, want.IdleTimeoutMS = 7, 10000
	r := Region{UUID: "0123456789ABCDEF0123456789ABCDEF", Dev: "vdb", Pid: 412}
	r.BlockBytes, r.StartBlock, r.Blocks = 512, 4352, 255
	k := fakeTree(t, want, r)
	got, err := k.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || got.Mode != want.Mode || got.Timeouts != want.Timeouts || len(got.Nodes) != 2 {
		t.Fatalf("Registered() = %+v, want %+v", got, want)
	}
	for i, n := range got.Nodes {
		if n != want.Nodes[i] {
			t.Errorf("node %d = %+v, want %+v", i, n, want.Nodes[i])
		}
	}
	regions, err := k.Regions()
	if err != nil || len(regions) != 1 || regions[0] != r || !regions[0].Started() {
		t.Fatalf("Regions() = %+v, %v; want [%+v]", regions, err, r)
	}
}

func TestRegisterAdoptsAMatchingRegistration(t *testing.T) {
	want := cluster(1)
	k := fakeTree(t, want)
	before := snapshot(t, k.Root)
	if err := k.Register(want); err != nil {
		t.Fatalf("Register of the registered cluster: %v", err)
	}
	if after := snapshot(t, k.Root); after != before {
		t.Errorf("Register wrote to a matching registration:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot is every file of a tree with its content.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.WriteString(strings.TrimPrefix(p, root) + "=" + strings.TrimSpace(string(data)) + " ")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRegisterRefusesADifferentRegistration(t *testing.T) {
	region := Region{UUID: "0123456789ABCDEF0123456789ABCDEF", Dev: "vdb", Pid: 412}
	region.BlockBytes, region.StartBlock, region.Blocks = 512, 4352, 255
	otherAddr := cluster(1)
	otherAddr.Nodes[1].Address = netip.MustParseAddr("169.254.77.9")
	extra := cluster(1)
	extra.Nodes = append(extra.Nodes, Node{Name: "n3", Num: 3, Address: netip.MustParseAddr("169.254.77.3"), Port: 7777})
	otherName := cluster(1)
	otherName.Name = "db"
	otherMode := cluster(1)
	otherMode.Mode = "local"
	otherThreshold := cluster(1)
	otherThreshold.DeadThreshold = 7
	otherLocal := cluster(2)
	for _, tc := range []struct {
		name    string
		want    Cluster
		regions []Region
		says    string
	}{
		{"another cluster", otherName, nil, `cluster "web" is registered, not "db"`},
		{"a node's address", otherAddr, nil, "node n2 (number 2, 169.254.77.9:7777) is registered as n2 (number 2, 169.254.77.2:7777)"},
		{"a node not configured", cluster(1), nil, ""}, // registered has n3, below
		{"the mode while a region runs", otherMode, []Region{region}, "heartbeat mode is global, not local"},
		{"dead_threshold while a region runs", otherThreshold, []Region{region}, "heartbeat dead_threshold is 31, not 7"},
		{"another local node", otherLocal, nil, "node n1 (number 1, 169.254.77.1:7777) is registered as this node, not n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			registered := cluster(1)
			if tc.says == "" {
				registered, tc.says = extra, "node n3 (number 3, 169.254.77.3:7777) is registered but not configured"
			}
			k := fakeTree(t, registered, tc.regions...)
			before := snapshot(t, k.Root)
			err := k.Register(tc.want)
			if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Register: %v; want ErrMismatch saying %q", err, tc.says)
			}
			if after := snapshot(t, k.Root); after != before {
				t.Errorf("a refused Register changed the tree:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestRegisterRewritesSettingsWithoutRegions(t *testing.T) {
	have := cluster(1)
	k := fakeTree(t, have)
	want := have
	want.Mode = "local"
	want.Timeouts = Timeouts{DeadThreshold: 7, IdleTimeoutMS: 1500, KeepaliveDelayMS: 500, ReconnectDelayMS: 1000, FenceMethod: "panic"}
	if err := k.Register(want); err != nil {
		t.Fatal(err)
	}
	got, err := k.Registered()
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != want.Mode || got.Timeouts != want.Timeouts {
		t.Errorf("after Register: mode %s, %+v; want %s, %+v", got.Mode, got.Timeouts, want.Mode, want.Timeouts)
	}
}

func TestPlanNodes(t *testing.T) {
	half := Node{Name: "n2", Num: 0}
	plan, err := planNodes([]Node{twoNodes(1)[0], half}, twoNodes(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.remove) != 1 || plan.remove[0].Name != "n2" || len(plan.add) != 1 || plan.add[0].Name != "n2" {
		t.Errorf("a half-written n2: plan %+v, want remove and add n2", plan)
	}
	plan, err = planNodes(nil, twoNodes(1))
	if err != nil || len(plan.add) != 2 || len(plan.remove) != 0 {
		t.Errorf("nothing registered: plan %+v, %v; want both added", plan, err)
	}
}

func TestTimeoutsCheck(t *testing.T) {
	for _, tc := range []struct {
		t    Timeouts
		says string
	}{
		{DefaultTimeouts, ""},
		{Timeouts{DeadThreshold: 2, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000, FenceMethod: "reset"}, "dead_threshold 2"},
		{Timeouts{DeadThreshold: 31, IdleTimeoutMS: 2000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000, FenceMethod: "reset"}, "greater than keepalive_delay_ms"},
		{Timeouts{DeadThreshold: 31, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 0, FenceMethod: "reset"}, "must be positive"},
		{Timeouts{DeadThreshold: 31, IdleTimeoutMS: 30000, KeepaliveDelayMS: 2000, ReconnectDelayMS: 2000, FenceMethod: "reboot"}, `fence_method "reboot"`},
	} {
		err := tc.t.Check()
		if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%+v.Check() = %v, want %q", tc.t, err, tc.says)
		}
	}
}

func TestUnregisterRefusesWhileRegionsRun(t *testing.T) {
	r := Region{UUID: "0123456789ABCDEF0123456789ABCDEF"}
	r.BlockBytes, r.Blocks = 512, 255
	k := fakeTree(t, cluster(1), r)
	before := snapshot(t, k.Root)
	err := k.Unregister(0)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), r.UUID) {
		t.Fatalf("Unregister: %v; want ErrInUse naming %s", err, r.UUID)
	}
	if snapshot(t, k.Root) != before {
		t.Error("a refused Unregister changed the tree")
	}
}

func TestMountsParsesMountinfo(t *testing.T) {
	k := Kernel{Root: t.TempDir()}
	info := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 254:16 / /srv/web\040data rw,relatime shared:20 - ocfs2 /dev/vdb rw,heartbeat=global
41 22 0:40 / /sys/kernel/config rw - configfs configfs rw
`
	if err := os.MkdirAll(filepath.Dir(k.path(mountinfo)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.path(mountinfo), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := k.Mounts()
	if err != nil || len(got) != 1 || got[0] != (Mount{Device: "/dev/vdb", Dir: "/srv/web data"}) {
		t.Fatalf("Mounts() = %+v, %v", got, err)
	}
}

func TestRefsKeyIsTheCRC32OfTheUUIDText(t *testing.T) {
	// The standard check value of CRC-32/IEEE, and the key as key_t.
	if got := RefsKey("123456789"); uint32(got) != 0xCBF43926 {
		t.Errorf("RefsKey(123456789) = %#x, want 0xcbf43926", uint32(got))
	}
}

// The reference count is a real System V semaphore set: taken and given
// back across "processes" (persistent references survive the lock), and
// gone once the last user destroys it.
func TestRefsCountAcrossLocks(t *testing.T) {
	testenv.RequireRoot(t) // the set is created with mode 0, as libo2cb does
	b := make([]byte, 16)
	rand.Read(b)
	uuid := strings.ToUpper(hex.EncodeToString(b))
	r, err := LockRefs(uuid, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Destroy() })
	if err := r.Get(true); err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	if n, err := CountRefs(uuid); n != 1 || err != nil {
		t.Fatalf("CountRefs after one persistent Get = %d, %v; want 1", n, err)
	}
	// The lock is free again: a second locker does not wait.
	r2, err := LockRefs(uuid, time.Second)
	if err != nil {
		t.Fatalf("second LockRefs: %v", err)
	}
	// A third locker times out while it is held.
	if _, err := LockRefs(uuid, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "held its lock") {
		t.Fatalf("LockRefs while locked: %v; want a timeout", err)
	}
	if err := r2.Put(true); err != nil {
		t.Fatal(err)
	}
	if n, err := r2.Count(); n != 0 || err != nil {
		t.Fatalf("Count after Put = %d, %v; want 0", n, err)
	}
	if err := r2.Destroy(); err != nil {
		t.Fatal(err)
	}
	if n, err := CountRefs(uuid); n != 0 || err != nil {
		t.Fatalf("CountRefs after Destroy = %d, %v; want 0", n, err)
	}
}
