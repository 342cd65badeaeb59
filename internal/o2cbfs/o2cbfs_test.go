package o2cbfs

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestPlanNodes(t *testing.T) {
	want := []Node{
		{Name: "n1", Num: 1, Address: netip.MustParseAddr("169.254.77.1"), Port: 7777, Local: true},
		{Name: "n2", Num: 2, Address: netip.MustParseAddr("169.254.77.2"), Port: 7777},
	}
	half := Node{Name: "n2", Num: 0}
	plan, err := planNodes([]Node{want[0], half}, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.remove) != 1 || plan.remove[0].Name != "n2" || len(plan.add) != 1 || plan.add[0].Name != "n2" {
		t.Errorf("a half-written n2: plan %+v, want remove and add n2", plan)
	}
	plan, err = planNodes(nil, want)
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

func TestLockSerializesChanges(t *testing.T) {
	k := Kernel{Root: t.TempDir()}
	unlock, err := k.Lock(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Lock(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "holds it") {
		t.Fatalf("second Lock while held: %v; want a timeout", err)
	}
	unlock()
	unlock2, err := k.Lock(100 * time.Millisecond)
	if err != nil {
		t.Fatalf("Lock after the release: %v", err)
	}
	unlock2()
}
