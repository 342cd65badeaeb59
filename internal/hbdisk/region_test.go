package hbdisk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
)

const (
	tInterval  = 100 * time.Millisecond
	tThreshold = 5
	tStart     = 8 // start block of the slot area in the test disks
)

var tGeometry = Geometry{BlockBytes: 512, StartBlock: tStart, Blocks: MaxNodes}

func testDisk() *memdisk.Disk { return memdisk.New((tStart + MaxNodes + 8) * 512) }

// eventLog collects a region's events with the (fake) time they happened.
type eventLog struct {
	mu  sync.Mutex
	evs []timedEvent
}

type timedEvent struct {
	Event
	at time.Time
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, timedEvent{e, time.Now()})
	l.mu.Unlock()
}

// first returns the first event of kind about node, if any.
func (l *eventLog) first(kind EventKind, node int) (timedEvent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Kind == kind && e.Node == node {
			return e, true
		}
	}
	return timedEvent{}, false
}

func (l *eventLog) count(kind EventKind, node int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Kind == kind && e.Node == node {
			n++
		}
	}
	return n
}

type simNode struct {
	r   *Region
	log *eventLog
}

func newTestRegion(t *testing.T, dev Device, node int, nodes []int, mod func(*Config)) simNode {
	t.Helper()
	l := &eventLog{}
	cfg := Config{
		UUID: "TESTREGION", Device: "memdisk",
		Open:     func() (Device, error) { return dev, nil },
		Geometry: tGeometry, Node: node, Nodes: nodes,
		Interval: tInterval, DeadThreshold: tThreshold,
		OnEvent: l.add,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := NewRegion(cfg)
	if err != nil {
		t.Fatalf("NewRegion(node %d) = %v", node, err)
	}
	// A failed test still ends every loop, so the bubble can end.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.IOTimeout+time.Second)
		defer cancel()
		r.Stop(ctx)
	})
	return simNode{r, l}
}

// startAll starts the regions at once and returns how long each Start took.
func startAll(t *testing.T, nodes ...simNode) []time.Duration {
	t.Helper()
	took := make([]time.Duration, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			begin := time.Now()
			errs[i] = n.r.Start(t.Context())
			took[i] = time.Since(begin)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start(node %d) = %v", nodes[i].r.cfg.Node, err)
		}
	}
	return took
}

// waitDone waits at most d (of fake time) for r's loop to end.
func waitDone(t *testing.T, r *Region, d time.Duration) {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(d):
		t.Fatalf("region of node %d still running after %v: %+v", r.cfg.Node, d, r.Status())
	}
}

func stopAll(t *testing.T, nodes ...simNode) {
	t.Helper()
	for _, n := range nodes {
		if err := n.r.Stop(t.Context()); err != nil {
			t.Errorf("Stop(node %d) = %v", n.r.cfg.Node, err)
		}
	}
}

// dropper is a device whose writes can be made to vanish silently: to
// its peers, the node has died without a word.
type dropper struct {
	Device
	drop atomic.Bool
}

func (d *dropper) WriteAt(p []byte, off int64) (int, error) {
	if d.drop.Load() {
		return len(p), nil
	}
	return d.Device.WriteAt(p, off)
}

func TestRegionsStartedTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		nodes := []int{1, 2, 3}
		var ns []simNode
		for _, n := range nodes {
			ns = append(ns, newTestRegion(t, disk.Device(), n, nodes, nil))
		}
		for i, took := range startAll(t, ns...) {
			if took < 2*tInterval || took > 2*tInterval+tInterval/5 {
				t.Errorf("node %d: Start took %v, want 2 to 2.2 intervals (%v)", nodes[i], took, 2*tInterval)
			}
			if st := ns[i].r.Status(); st.State != Steady || !st.OwnLive() {
				t.Errorf("node %d at steady: state %s, own heartbeat seen %v; want steady, true", nodes[i], st.State, st.OwnLive())
			}
		}
		// Peers that started in the same instant write in phase with
		// us: whether a read sees the write of the same instant varies,
		// so a read may see a peer's seq jump by two, one change for two
		// writes. Two changes then take up to four reads after the
		// seeding one: every peer is live two intervals after steady.
		time.Sleep(2 * tInterval)
		synctest.Wait()
		for _, n := range ns {
			if st := n.r.Status(); !slices.Equal(st.LiveNodes, nodes) {
				t.Errorf("node %d two intervals after steady: live %v, want %v", st.Node, st.LiveNodes, nodes)
			}
		}
		time.Sleep(9 * tInterval)
		for _, n := range ns {
			st := n.r.Status()
			// In fake time no iteration is late, and every one did one
			// read of slots 1-3 and one 512-byte write.
			if st.LatenessP50 != 0 || st.LatenessP99 != 0 || st.Reads != st.Iterations || st.Writes != st.Iterations ||
				st.BytesRead != 3*512*st.Iterations || st.BytesWritten != 512*st.Iterations {
				t.Errorf("node %d counters: %+v", st.Node, st)
			}
			if !slices.Equal(st.LiveNodes, nodes) || st.ReadErrors+st.WriteErrors != 0 {
				t.Errorf("node %d after 10 intervals: live %v errors %d/%d", st.Node, st.LiveNodes, st.ReadErrors, st.WriteErrors)
			}
			if st.Iterations < 13 {
				t.Errorf("node %d: %d iterations in 13 intervals", st.Node, st.Iterations)
			}
		}
		stopAll(t, ns...)
	})
}

// A node joining peers that already heartbeat is steady after two
// intervals and sees every one of them by then, whatever its phase (but
// for reads in the very instant of a peer's write, where the order of
// the two decides: TestRegionsStartedTogether).
func TestRegionJoinsRunningPeersWithinTwoIntervals(t *testing.T) {
	for _, phase := range []time.Duration{1, tInterval / 3, tInterval - 1} {
		t.Run(fmt.Sprint("phase ", phase), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				disk := testDisk()
				nodes := []int{0, 1, 2, 254}
				var running []simNode
				for _, n := range nodes[:3] {
					running = append(running, newTestRegion(t, disk.Device(), n, nodes, nil))
				}
				startAll(t, running...)
				time.Sleep(3*tInterval + phase)
				joiner := newTestRegion(t, disk.Device(), 254, nodes, nil)
				took := startAll(t, joiner)[0]
				if took < 2*tInterval || took > 2*tInterval+tInterval/5 {
					t.Errorf("Start took %v, want 2 to 2.2 intervals", took)
				}
				if st := joiner.r.Status(); !slices.Equal(st.LiveNodes, nodes) {
					t.Errorf("joiner at steady: live %v, want %v", st.LiveNodes, nodes)
				}
				time.Sleep(2 * tInterval)
				for _, n := range running {
					if st := n.r.Status(); !slices.Equal(st.LiveNodes, nodes) {
						t.Errorf("node %d: live %v, want %v", st.Node, st.LiveNodes, nodes)
					}
				}
				stopAll(t, append(running, joiner)...)
			})
		})
	}
}

func TestRegionDetectsSilentDeath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		nodes := []int{1, 2, 3}
		victim := &dropper{Device: disk.Device()}
		n1 := newTestRegion(t, disk.Device(), 1, nodes, nil)
		n2 := newTestRegion(t, disk.Device(), 2, nodes, nil)
		n3 := newTestRegion(t, victim, 3, nodes, nil)
		startAll(t, n1, n2, n3)
		time.Sleep(3 * tInterval) // past the first samples after node-up
		synctest.Wait()           // every node has done this instant's iteration
		victim.drop.Store(true)
		lastWrite := time.Now()
		time.Sleep(time.Duration(tThreshold+3) * tInterval)
		for _, n := range []simNode{n1, n2} {
			e, ok := n.log.first(NodeDown, 3)
			if !ok {
				t.Fatalf("node %d never saw node 3 down; live %v", n.r.cfg.Node, n.r.Status().LiveNodes)
			}
			after := e.at.Sub(lastWrite)
			if after < tThreshold*tInterval || after > (tThreshold+1)*tInterval {
				t.Errorf("node %d saw node 3 down %v after its last write, want %v to %v",
					n.r.cfg.Node, after, tThreshold*tInterval, (tThreshold+1)*tInterval)
			}
			if e.Reason != DownTimeout {
				t.Errorf("node %d: down reason %q, want %q", n.r.cfg.Node, e.Reason, DownTimeout)
			}
			if got := n.r.Status().LiveNodes; !slices.Equal(got, []int{1, 2}) {
				t.Errorf("node %d: live %v, want [1 2]", n.r.cfg.Node, got)
			}
		}
		// Node 3's writes vanish: it reads back an older block of its
		// own (its generation, an older seq). That is a device returning
		// stale data, not another writer: no collision; its own slot
		// counts as unchanged, so node 3 drops out of its own live nodes
		// like any silent node, and its monitor sees the region lost.
		st := n3.r.Status()
		if st.State != Steady || st.StaleReads == 0 {
			t.Errorf("node 3 whose writes vanish: state %s, %d stale reads; want steady (still trying) with stale reads counted", st.State, st.StaleReads)
		}
		if st.OwnLive() {
			t.Errorf("node 3 whose writes vanish still sees itself live: %v", st.LiveNodes)
		}
		if e, ok := n3.log.first(NodeDown, 3); !ok || e.Reason != DownTimeout {
			t.Errorf("node 3 never saw its own node down by timeout (%v, %v)", e, ok)
		}
		n3.r.Stop(context.Background())
		stopAll(t, n1, n2)
	})
}

func TestRegionCleanStopIsSeenAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		nodes := []int{4, 9}
		a := newTestRegion(t, disk.Device(), 4, nodes, nil)
		b := newTestRegion(t, disk.Device(), 9, nodes, nil)
		startAll(t, a, b)
		// Node 4 sees node 9 live 0 to 2 intervals after both are
		// steady (two changed samples); a stop before that, or at the
		// instant of that iteration, is no node going down to it.
		for i := 0; ; i++ {
			if _, ok := a.log.first(NodeUp, 9); ok {
				break
			}
			if i == 50 {
				t.Fatalf("node 4 does not see node 9 live 5 intervals after both were steady")
			}
			time.Sleep(tInterval / 10)
		}
		time.Sleep(tInterval / 2)
		stopped := time.Now()
		stopAll(t, b)
		if st := b.r.Status(); st.State != Stopped || b.r.Err() != nil {
			t.Fatalf("after Stop: state %s err %v, want stopped, nil", st.State, b.r.Err())
		}
		s := Slot(disk.Bytes()[tGeometry.SlotOffset(9):][:512])
		if s.Generation() != 0 || s.Validate(9) != nil {
			t.Fatalf("slot of node 9 after Stop: %v (validate %v), want generation 0", s.Block(), s.Validate(9))
		}
		time.Sleep(2 * tInterval)
		e, ok := a.log.first(NodeDown, 9)
		if !ok || e.Reason != DownClean || e.at.Sub(stopped) > tInterval {
			t.Fatalf("node 4 saw node 9 down: %v %+v at %v after the stop; want %q within one interval",
				ok, e, e.at.Sub(stopped), DownClean)
		}
		stopAll(t, a)
	})
}

func TestRegionCollisionStopsBothWriters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		a := newTestRegion(t, disk.Device(), 1, nil, nil)
		b := newTestRegion(t, disk.Device(), 1, nil, nil)
		errA := make(chan error, 1)
		go func() { errA <- a.r.Start(t.Context()) }()
		time.Sleep(tInterval / 2) // the second writer runs half an interval out of phase
		begin := time.Now()
		errB := b.r.Start(t.Context())
		waitDone(t, a.r, 10*tInterval)
		waitDone(t, b.r, 10*tInterval)
		took := time.Since(begin)
		ea := <-errA
		if !errors.Is(ea, ErrCollision) && !errors.Is(errB, ErrCollision) {
			t.Fatalf("Start = %v and %v, want at least one ErrCollision", ea, errB)
		}
		for _, n := range []simNode{a, b} {
			if st := n.r.Status(); st.State != Collision || !errors.Is(n.r.Err(), ErrCollision) {
				t.Errorf("writer gen %#x: state %s err %v, want collision", st.Generation, st.State, n.r.Err())
			}
		}
		if took > 3*tInterval {
			t.Errorf("both writers stopped %v after the second started, want within 3 intervals", took)
		}
		writes := disk.Writes()
		time.Sleep(5 * tInterval)
		if got := disk.Writes(); got != writes {
			t.Errorf("disk writes went from %d to %d after both reported collision", writes, got)
		}
		// The message names both generations.
		ga, gb := a.r.Status().Generation, b.r.Status().Generation
		for _, n := range []simNode{a, b} {
			msg := n.r.Status().Err
			if !containsHex(msg, ga) || !containsHex(msg, gb) {
				t.Errorf("collision message %q does not name both generations %#x and %#x", msg, ga, gb)
			}
		}
	})
}

func containsHex(s string, v uint64) bool {
	return strings.Contains(s, fmt.Sprintf("%#x", v))
}

func TestRegionFailsWhenWritesFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		n := newTestRegion(t, disk.Device(), 2, []int{1, 2}, nil)
		startAll(t, n)
		synctest.Wait()
		lastGood := n.r.Status().LastWrite
		disk.FailWrites(syscall.EIO)
		waitDone(t, n.r, 2*tThreshold*tInterval)
		st := n.r.Status()
		if st.State != Failed || !errors.Is(n.r.Err(), ErrIOTimeout) {
			t.Fatalf("state %s err %v, want failed with ErrIOTimeout", st.State, n.r.Err())
		}
		ioTimeout := (tThreshold - 1) * tInterval
		if after := time.Since(lastGood); after < ioTimeout || after > ioTimeout+tInterval {
			t.Errorf("failed %v after the last good write, want %v to %v", after, ioTimeout, ioTimeout+tInterval)
		}
		if st.WriteErrors < 3 {
			t.Errorf("WriteErrors = %d, want at least 3", st.WriteErrors)
		}
		// The message says why: the device's own error.
		if !strings.Contains(st.Err, syscall.EIO.Error()) {
			t.Errorf("failure message %q does not name the device's error %q", st.Err, syscall.EIO)
		}
		if st.ReadErrors != 0 {
			t.Errorf("ReadErrors = %d, want 0: reads never failed", st.ReadErrors)
		}
	})
}

func TestRegionStalledDeviceFailsWithoutBlockingOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow, fast := testDisk(), testDisk()
		a := newTestRegion(t, slow.Device(), 1, []int{1}, nil)
		b := newTestRegion(t, fast.Device(), 1, []int{1}, nil)
		startAll(t, a, b)
		synctest.Wait()
		lastGood := a.r.Status().LastWrite
		release := slow.Stall()
		t.Cleanup(release)
		time.Sleep(tInterval + tInterval/2)
		// Status answers at once while the device call hangs.
		st := a.r.Status()
		if st.IOInFlight <= 0 || st.State != Steady {
			t.Errorf("during the stall: IOInFlight %v state %s, want > 0 and steady", st.IOInFlight, st.State)
		}
		before := b.r.Status().Iterations
		waitDone(t, a.r, 2*tThreshold*tInterval)
		if after := time.Since(lastGood); after != (tThreshold-1)*tInterval {
			t.Errorf("stalled region failed %v after its last write, want exactly %v", after, (tThreshold-1)*tInterval)
		}
		if !errors.Is(a.r.Err(), ErrIOTimeout) || a.r.Status().State != Failed {
			t.Errorf("stalled region: state %s err %v, want failed with ErrIOTimeout", a.r.Status().State, a.r.Err())
		}
		if got := b.r.Status().Iterations - before; got < 2 {
			t.Errorf("the other region did %d iterations during the stall, want it unaffected", got)
		}
		// Stop returns at once: the failed region has nothing to write.
		if err := a.r.Stop(t.Context()); err != nil {
			t.Errorf("Stop of failed region = %v", err)
		}
		release()
		stopAll(t, b)
	})
}

func TestRegionStartFailsWhenNeverSteady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		disk.FailWrites(syscall.EIO)
		n := newTestRegion(t, disk.Device(), 1, nil, func(c *Config) { c.DeadThreshold = 31 })
		begin := time.Now()
		err := n.r.Start(t.Context())
		if !errors.Is(err, ErrUnsteady) {
			t.Fatalf("Start on a disk that fails writes = %v, want ErrUnsteady", err)
		}
		if took := time.Since(begin); took != (MaxStartIterations-1)*tInterval {
			t.Errorf("Start gave up after %v, want %v", took, (MaxStartIterations-1)*tInterval)
		}
		// With the default ratio the write timeout comes first.
		n2 := newTestRegion(t, disk.Device(), 1, nil, nil)
		if err := n2.r.Start(t.Context()); !errors.Is(err, ErrIOTimeout) {
			t.Fatalf("Start with threshold %d = %v, want ErrIOTimeout", tThreshold, err)
		}
	})
}

func TestRegionStartCancelledWritesCleanStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		n := newTestRegion(t, disk.Device(), 3, nil, nil)
		ctx, cancel := context.WithTimeout(t.Context(), tInterval+tInterval/2)
		defer cancel()
		err := n.r.Start(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start with a 1.5-interval deadline = %v, want DeadlineExceeded", err)
		}
		if st := n.r.Status(); st.State != Stopped {
			t.Errorf("state %s, want stopped", st.State)
		}
		s := Slot(disk.Bytes()[tGeometry.SlotOffset(3):][:512])
		if s.Generation() != 0 || s.Seq() == 0 {
			t.Errorf("slot after cancelled start: %v, want a clean-stop block", s.Block())
		}
	})
}

func TestRegionVerifyFailureWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		bad := errors.New("UUID on device is 00FF..., want TESTREGION")
		n := newTestRegion(t, disk.Device(), 1, nil, func(c *Config) {
			c.Verify = func(Device) error { return bad }
		})
		err := n.r.Start(t.Context())
		if !errors.Is(err, ErrIOTimeout) && !errors.Is(err, ErrUnsteady) {
			t.Fatalf("Start with a failing Verify = %v, want a start failure", err)
		}
		if got := disk.Writes(); got != 0 {
			t.Fatalf("%d writes reached a device that failed verification, want 0", got)
		}
	})
}

func TestRegionTouchesOnlyItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		noise := make([]byte, len(disk.Bytes()))
		for i := range noise {
			noise[i] = byte(i*7 + 3)
		}
		disk.WriteRaw(noise, 0)
		// Blank the slots of the configured nodes so they read as fresh.
		disk.WriteRaw(make([]byte, 512), tGeometry.SlotOffset(7))
		hashOutside := func() [32]byte {
			b := disk.Bytes()
			clear(b[tGeometry.SlotOffset(7) : tGeometry.SlotOffset(7)+512])
			return sha256.Sum256(b)
		}
		before := hashOutside()
		n := newTestRegion(t, disk.Device(), 7, []int{0, 7, 254}, nil)
		startAll(t, n)
		time.Sleep(5 * tInterval)
		stopAll(t, n)
		if hashOutside() != before {
			t.Fatal("bytes outside node 7's slot changed")
		}
		// The noise in other slots is corrupt blocks: reported once each.
		for _, peer := range []int{0, 254} {
			if got := n.log.count(BadBlock, peer); got != 1 {
				t.Errorf("bad-block events for node %d = %d, want 1", peer, got)
			}
		}
		if got := n.r.Status(); got.BadBlocks != 0 && got.State != Stopped {
			t.Errorf("status after stop: %+v", got)
		}
	})
}

func TestRegionSeqAdvancesEveryIteration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		n := newTestRegion(t, disk.Device(), 5, nil, nil)
		startAll(t, n)
		var last uint64
		for i := range 20 {
			synctest.Wait()
			seq := Slot(disk.Bytes()[tGeometry.SlotOffset(5):][:512]).Seq()
			if seq <= last {
				t.Fatalf("iteration %d: seq %d, not past %d", i, seq, last)
			}
			if now := uint64(time.Now().Unix()); seq < now {
				t.Fatalf("seq %d is behind the clock %d", seq, now)
			}
			last = seq
			time.Sleep(tInterval)
		}
		stopAll(t, n)
	})
}

func TestRegionWriteLandedDespiteErrorIsNotCollision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		flaky := &landThenFail{Device: disk.Device()}
		n := newTestRegion(t, flaky, 6, nil, nil)
		startAll(t, n)
		flaky.fail.Store(1)
		time.Sleep(4 * tInterval)
		if st := n.r.Status(); st.State != Steady || st.WriteErrors != 1 {
			t.Fatalf("after one write that landed but failed: state %s (%s) write errors %d, want steady, 1",
				st.State, st.Err, st.WriteErrors)
		}
		stopAll(t, n)
	})
}

// landThenFail writes, then reports an error for the next fail writes.
type landThenFail struct {
	Device
	fail atomic.Int32
}

func (d *landThenFail) WriteAt(p []byte, off int64) (int, error) {
	n, err := d.Device.WriteAt(p, off)
	if err == nil && d.fail.Add(-1) >= 0 {
		return 0, syscall.EIO
	}
	return n, err
}

func TestNewRegionRejectsBadConfig(t *testing.T) {
	dev := testDisk().Device()
	open := func() (Device, error) { return dev, nil }
	ok := Config{Open: open, Geometry: tGeometry, Node: 1, Interval: tInterval}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"block size", func(c *Config) { c.Geometry.BlockBytes = 1000 }},
		{"no blocks", func(c *Config) { c.Geometry.Blocks = 0 }},
		{"too many blocks", func(c *Config) { c.Geometry.Blocks = 256 }},
		{"node beyond blocks", func(c *Config) { c.Geometry.Blocks = 4; c.Node = 4 }},
		{"negative node", func(c *Config) { c.Node = -1 }},
		{"configured node beyond blocks", func(c *Config) { c.Geometry.Blocks = 10; c.Nodes = []int{1, 12} }},
		{"threshold below kernel minimum", func(c *Config) { c.DeadThreshold = 2 }},
		{"tiny interval", func(c *Config) { c.Interval = time.Microsecond }},
		{"interval below the minimum", func(c *Config) { c.Interval = MinInterval - time.Millisecond }},
		{"interval above the maximum", func(c *Config) { c.Interval = MaxInterval + time.Second }},
		{"threshold above the maximum", func(c *Config) { c.DeadThreshold = MaxDeadThreshold + 1 }},
		{"slot outside extent", func(c *Config) { c.Extent = Extent{Offset: 0, Bytes: tStart * 512} }},
		{"absurd start block", func(c *Config) { c.Geometry.StartBlock = 1 << 62 }},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := NewRegion(cfg); err == nil {
			t.Errorf("NewRegion with %s = nil error, want one", tc.name)
		}
	}
	if _, err := NewRegion(ok); err != nil {
		t.Fatalf("NewRegion(good config) = %v", err)
	}
}

// A peer whose clean-stop block lands just after our first read has only
// stopped: it must not come up as a ghost (found against a real kernel,
// which seeds its view from the first read).
func TestRegionNoGhostFromCleanStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		running := Slot(make([]byte, 512))
		running.Encode(Block{Seq: 946684000, Node: 4, Generation: 0xfeed, DeadMS: 10000})
		disk.WriteRaw(running, tGeometry.SlotOffset(4))
		n := newTestRegion(t, disk.Device(), 1, []int{1, 4}, nil)
		errc := make(chan error, 1)
		go func() { errc <- n.r.Start(t.Context()) }()
		synctest.Wait() // our first read is done
		stopped := Slot(make([]byte, 512))
		stopped.Encode(Block{Seq: 946684001, Node: 4, Generation: 0, DeadMS: 10000})
		disk.WriteRaw(stopped, tGeometry.SlotOffset(4))
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * tInterval)
		if got := n.r.Status().LiveNodes; !slices.Equal(got, []int{1}) {
			t.Fatalf("live %v, want only [1]: the stopped node 4 came up", got)
		}
		if n.log.count(NodeUp, 4) != 0 {
			t.Fatal("node-up event for the stopped node 4")
		}
	})
}

// A node restarted within the second its killed predecessor last wrote
// (or whose sub-second interval ran seq ahead of the clock) finds its
// slot holding the seq it would write: it continues past it, so that its
// first write is a change and it is live in the region when steady.
func TestRegionRestartContinuesPastOwnSeq(t *testing.T) {
	for _, ahead := range []uint64{0, 3} {
		t.Run(fmt.Sprintf("ahead%d", ahead), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				disk := testDisk()
				old := uint64(time.Now().Unix()) + ahead
				killed := Slot(make([]byte, 512))
				killed.Encode(Block{Seq: old, Node: 1, Generation: 0xdead, DeadMS: 10000})
				disk.WriteRaw(killed, tGeometry.SlotOffset(1))
				n := newTestRegion(t, disk.Device(), 1, []int{1, 2}, nil)
				startAll(t, n)
				if got := n.r.Status().LiveNodes; !slices.Contains(got, 1) {
					t.Errorf("live nodes when steady = %v, want node 1 itself (old slot seq %d, now %d)", got, old, time.Now().Unix())
				}
				if seq := Slot(disk.Bytes()[tGeometry.SlotOffset(1):][:512]).Seq(); seq <= old+2 {
					t.Errorf("seq after 3 writes = %d, want past %d", seq, old+2)
				}
				stopAll(t, n)
			})
		})
	}
}
