package kernelpeer

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

const (
	// interval is the kernel's heartbeat interval (O2HB_REGION_TIMEOUT_MS,
	// not configurable); our daemon runs at the same pace.
	interval = 2000 * time.Millisecond
	// threshold is the dead threshold of both sides: small to keep the
	// suite short, large enough that a slow TCG write (the kernel fences
	// itself after (threshold-1) intervals without a completed write)
	// does not reboot the guest.
	threshold = 5
	cluster   = "kpeer"
)

// peerSetup is the shared image and the host's configuration.
type peerSetup struct {
	img  string
	uuid string
	geo  ocfs2.Geometry
	conf string
	gc   guestConfig
}

func setup(t *testing.T) *peerSetup {
	t.Helper()
	dir := t.TempDir()
	img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 64, Cluster: cluster, Label: "kpeer", Dir: dir})
	v, err := ocfs2.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	if v.Heartbeat.BlockBytes != 512 {
		t.Fatalf("image file: heartbeat block_bytes %d, want 512", v.Heartbeat.BlockBytes)
	}
	s := &peerSetup{img: img, uuid: v.UUID, geo: v.Heartbeat, conf: writeClusterConf(t, dir, cluster, v.UUID)}
	s.gc = guestConfig{Cluster: cluster, UUID: v.UUID, StartBlock: v.Heartbeat.StartBlock, Threshold: threshold}
	t.Logf("image %s: region %s, start_block %d (512-byte units), %d slots", img, v.UUID, v.Heartbeat.StartBlock, v.Heartbeat.Blocks)
	return s
}

func has(ns []int, n int) bool { return slices.Contains(ns, n) }

func ivals(d time.Duration) string {
	return fmt.Sprintf("%v (%.2f intervals)", d.Round(10*time.Millisecond), float64(d)/float64(interval))
}

// checkKernelSlot reads node 1's slot, written by the kernel, and checks
// it with our codec: checksum, node number, dead_ms. It also checks that
// `o2cb-ra slots` calls it valid.
func checkKernelSlot(t *testing.T, s *peerSetup, h *host) {
	t.Helper()
	f, err := hbdisk.OpenDirectReadOnly(s.img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := hbdisk.Geometry{BlockBytes: s.geo.BlockBytes, StartBlock: s.geo.StartBlock, Blocks: s.geo.Blocks}
	slots, err := hbdisk.ReadSlots(f, g, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	k := slots[0]
	t.Logf("kernel's slot (node 1) at byte %d: %s | %s", s.geo.SlotOffset(1), hex.EncodeToString(k[:16]), hex.EncodeToString(k[16:28]))
	t.Logf("kernel's block: %v; our checksum of it %#08x", k.Block(), k.Checksum())
	if err := k.Validate(1); err != nil {
		t.Errorf("the kernel's slot does not validate with our codec: %v (bytes %x)", err, []byte(k[:28]))
	}
	if k.Node() != 1 || k.Generation() == 0 || k.Seq() == 0 {
		t.Errorf("the kernel's slot: %v, want node 1, a non-zero generation and seq", k.Block())
	}
	if want := uint32(threshold * 2000); k.DeadMS() != want {
		t.Errorf("the kernel's slot has dead_ms %d, want %d", k.DeadMS(), want)
	}
	for i, b := range k[28:] {
		if b != 0 {
			t.Errorf("the kernel's slot has byte %#x at offset %d past the header", b, 28+i)
			break
		}
	}
	if err := slots[1].Validate(2); err != nil {
		t.Errorf("our own slot (node 2) does not validate: %v", err)
	}
	out := h.slots(s.img)
	t.Logf("o2cb-ra slots:\n%s", out)
	if !regexp.MustCompile(`(?m)^1\s+\d+\s+0x[0-9a-f]+\s+10000\s+0x[0-9a-f]+\s+valid$`).MatchString(out) {
		t.Errorf("o2cb-ra slots does not call node 1's slot valid")
	}
}

// checkConsole fails on what the kernel must never say about us.
func checkConsole(t *testing.T, g *guest) {
	t.Helper()
	c := g.consoleText()
	for _, bad := range []string{"Another node is heartbeating", "Heartbeat generation mismatch",
		"Heartbeat sequence mismatch", "fencing this", "Unable to stabilize", "has a different dead threshold",
		"o2hb: ERROR", "BUG:", "Oops", "Kernel panic"} {
		if strings.Contains(c, bad) {
			t.Errorf("the guest's console says %q", bad)
		}
	}
}

// checkOurLog fails on what our daemon must never say about the kernel.
func checkOurLog(t *testing.T, h *host) {
	t.Helper()
	l := h.log()
	for _, bad := range []string{"bad heartbeat block", "different dead threshold", "collision"} {
		if strings.Contains(l, bad) {
			t.Errorf("our daemon's log says %q", bad)
		}
	}
}

var (
	reJoined = regexp.MustCompile(`Node 2 \(id 0x[0-9a-f]+\) joined my region`)
	reLeft   = regexp.MustCompile(`Node 2 left my region`)
	reGen    = regexp.MustCompile(`Node 2 changed generation \(0x[0-9a-f]+ to 0x([0-9a-f]+)\)`)
	reBadCRC = regexp.MustCompile(`Node 2 has written a bad crc`)
)

// checkKernelEvents checks what the guest's kernel logged about node 2
// (o2hb's ML_HEARTBEAT messages): "gen" (a new non-zero generation),
// "gen 0" (the clean-stop block), "joined", "left", "bad crc", in order.
func checkKernelEvents(t *testing.T, kmsg []string, want ...string) {
	t.Helper()
	var got []string
	for _, l := range kmsg {
		switch {
		case reJoined.MatchString(l):
			got = append(got, "joined")
		case reLeft.MatchString(l):
			got = append(got, "left")
		case reBadCRC.MatchString(l):
			got = append(got, "bad crc")
		default:
			if m := reGen.FindStringSubmatch(l); m != nil {
				if strings.Trim(m[1], "0") == "" {
					got = append(got, "gen 0")
				} else {
					got = append(got, "gen")
				}
			}
		}
	}
	t.Logf("kernel: its o2hb log about node 2: %v", got)
	if !slices.Equal(got, want) {
		t.Errorf("the kernel's o2hb log about node 2 is %v, want %v; its log:\n%s", got, want, strings.Join(kmsg, "\n"))
	}
}

var reLogTime = regexp.MustCompile(`^time=(\S+) `)

// nodeUpAfterStart returns how long after our region's last "starting
// heartbeat" our daemon logged peer n up.
func nodeUpAfterStart(h *host, n int) (time.Duration, bool) {
	var start time.Time
	for _, l := range strings.Split(h.log(), "\n") {
		m := reLogTime.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(l, `msg="starting heartbeat"`):
			start = at
		case strings.Contains(l, `msg="node up"`) && strings.Contains(l, fmt.Sprintf(" peer=%d ", n)) && !start.IsZero():
			return at.Sub(start), true
		}
	}
	return 0, false
}

// downReason returns the reason our daemon logged for the last
// "node down" of peer n.
func downReason(h *host, n int) string {
	re := regexp.MustCompile(fmt.Sprintf(`msg="node down".* peer=%d reason=("[^"]*"|\S+)`, n))
	m := re.FindAllStringSubmatch(h.log(), -1)
	if len(m) == 0 {
		return ""
	}
	return strings.Trim(m[len(m)-1][1], `"`)
}

// TestKernelFirst: the kernel heartbeats first and our daemon joins it;
// each leaves cleanly and the other sees it at once.
func TestKernelFirst(t *testing.T) {
	k := requireGuest(t)
	s := setup(t)

	g := bootGuest(t, k, s.img, s.gc)
	took := g.do("start", 60*time.Second)
	t.Logf("kernel: region steady after %v (guest's own measure of the dev write)", took)
	g.waitLive(2*interval, "the kernel alone", 1)

	h := newHost(t, s.conf, s.img, s.uuid, int(interval/time.Millisecond), threshold)
	h.start()
	begin := time.Now()
	took = h.regionStart()
	t.Logf("ours: ocfs2_hb_ctl -S returned (region steady) after %s", ivals(took))
	if live, _ := h.regionLive(); has(live, 1) {
		t.Logf("ours: node 1 (the kernel) already live when our region became steady: %v", live)
	} else {
		t.Logf("ours: at steady the live nodes are %v", live)
	}
	h.waitLive(3*interval, "our daemon sees the kernel", 1, 2)
	t.Logf("ours: lists node 1 %s after our region start", ivals(time.Since(begin)))
	if d, ok := nodeUpAfterStart(h, 1); ok {
		t.Logf("ours: logged node 1 up %s after our region's first iteration", ivals(d))
	}
	g.waitLive(6*interval, "the kernel sees our daemon", 1, 2)
	t.Logf("kernel: lists node 2 %s after our region start", ivals(time.Since(begin)))

	checkKernelSlot(t, s, h)
	checkConsole(t, g)
	checkOurLog(t, h)

	// Our daemon leaves: its clean-stop block (generation 0) takes node 2
	// out of the kernel's map at its next iteration.
	h.regionStop()
	took = g.waitLive(time.Duration(threshold+3)*interval, "the kernel sees our daemon leave", 1)
	t.Logf("kernel: lists only node 1 %s after ocfs2_hb_ctl -K", ivals(took))
	if took > 2*interval {
		t.Errorf("the kernel took %v to see our clean stop, want within 2 intervals (generation-0 block)", took)
	}

	// Our daemon joins the running kernel again.
	begin = time.Now()
	h.regionStart()
	h.waitLive(3*interval, "our daemon sees the kernel again", 1, 2)
	g.waitLive(6*interval, "the kernel sees our daemon again", 1, 2)
	t.Logf("rejoin: both live again %s after our region start", ivals(time.Since(begin)))

	// The kernel leaves: rmdir of its region writes the generation-0 block.
	begin = time.Now()
	took = g.do("stop", 30*time.Second)
	t.Logf("kernel: rmdir of the region took %v", took)
	h.waitLive(time.Duration(threshold+3)*interval, "our daemon sees the kernel leave", 2)
	since := time.Since(begin)
	reason := downReason(h, 1)
	t.Logf("ours: node 1 dead %s after the guest's rmdir; reason %q", ivals(since), reason)
	if reason != hbdisk.DownClean {
		t.Errorf("our daemon's reason for node 1 down: %q, want %q (the kernel's generation-0 block)", reason, hbdisk.DownClean)
	}
	if since > 2*interval+time.Second {
		t.Errorf("our daemon took %v to see the kernel's clean stop, want within 2 intervals", since)
	}
	g.waitLive(2*interval, "the kernel's map after its own stop")
	// What the kernel made of our slot, in its own words: it saw each
	// generation, took us live twice, and took our clean stop as one.
	checkKernelEvents(t, g.kmsg(), "gen", "joined", "gen 0", "left", "gen", "joined")
	checkConsole(t, g)
	checkOurLog(t, h)
}

// TestDaemonFirst: our daemon heartbeats first and the kernel joins it;
// then each dies without a word (SIGKILL) and the other must time it out
// after dead_threshold intervals.
func TestDaemonFirst(t *testing.T) {
	k := requireGuest(t)
	s := setup(t)

	h := newHost(t, s.conf, s.img, s.uuid, int(interval/time.Millisecond), threshold)
	h.start()
	took := h.regionStart()
	t.Logf("ours: region steady alone after %s", ivals(took))

	g := bootGuest(t, k, s.img, s.gc)
	begin := time.Now()
	g.send("start")
	// Both sides see each other before the kernel's start returns: the
	// kernel needs 5 clean iterations to call its first global region
	// steady, and iterations with a membership change do not count.
	g.waitLive(6*interval, "the kernel sees our daemon", 1, 2)
	t.Logf("kernel: lists 1 and 2 %s after its region start began", ivals(time.Since(begin)))
	h.waitLive(6*interval, "our daemon sees the kernel", 1, 2)
	t.Logf("ours: lists node 1 %s after the kernel's region start began", ivals(time.Since(begin)))
	took = g.waitDone("start", 60*time.Second)
	t.Logf("kernel: region steady after %v with our daemon already heartbeating", took)
	checkKernelSlot(t, s, h)

	// Our daemon dies: the kernel times node 2 out.
	h.signal(syscall.SIGKILL)
	took = g.waitLive(time.Duration(threshold+6)*interval, "the kernel times our dead daemon out", 1)
	t.Logf("kernel: node 2 dead %s after SIGKILL of our daemon (threshold %d)", ivals(took), threshold)
	// Not before threshold-1 intervals (our last write may land just
	// before the kernel's read). The upper bound is loose: the guest's
	// o2hb thread runs late under TCG on a loaded host, and the report
	// reaches us up to a poll later.
	if took < time.Duration(threshold-1)*interval || took > time.Duration(threshold+4)*interval {
		t.Errorf("the kernel timed our daemon out after %v, want %d to %d intervals", took, threshold-1, threshold+4)
	}

	// Our daemon restarts, resumes the region from its state file with a
	// new generation, and the kernel takes it back.
	begin = time.Now()
	h.start()
	g.waitLive(6*interval, "the kernel sees our restarted daemon", 1, 2)
	h.waitLive(3*interval, "our restarted daemon sees the kernel", 1, 2)
	t.Logf("restart: both live again %s after our daemon restarted", ivals(time.Since(begin)))
	checkConsole(t, g)
	// The kernel took our slot's content at its region start as the
	// initial state (o2hb_populate_slot_data: no generation change logged),
	// timed our killed daemon out (no generation change before "left")
	// and took the new generation of the restarted one.
	checkKernelEvents(t, g.kmsg(), "joined", "left", "gen", "joined")

	// The kernel dies (qemu killed): our daemon times node 1 out.
	g.kill()
	took = h.waitLive(time.Duration(threshold+3)*interval, "our daemon times the dead kernel out", 2)
	reason := downReason(h, 1)
	t.Logf("ours: node 1 dead %s after qemu was killed; reason %q", ivals(took), reason)
	if reason != hbdisk.DownTimeout {
		t.Errorf("our daemon's reason for node 1 down: %q, want %q", reason, hbdisk.DownTimeout)
	}
	if took < time.Duration(threshold-1)*interval || took > time.Duration(threshold+1)*interval+interval/2 {
		t.Errorf("our daemon timed the kernel out after %v, want within one interval of %d intervals", took, threshold)
	}
	checkOurLog(t, h)
}
