package hbdisk

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestNextDue(t *testing.T) {
	base := time.Unix(1000, 0)
	iv := tInterval
	at := func(f float64) time.Time { return base.Add(time.Duration(f * float64(iv))) }
	for _, c := range []struct {
		name   string
		anchor time.Time // zero: none
		steady bool
		prev   time.Time
		now    time.Time // end of the iteration due at prev
		want   time.Time
	}{
		{"one interval after the last due time", time.Time{}, true, at(0), at(0.1), at(1)},
		{"a slow iteration does not shift the next", time.Time{}, true, at(0), at(0.9), at(1)},
		{"an overrun runs at once, due at the missed tick", time.Time{}, true, at(0), at(1.3), at(1)},
		{"a long overrun skips ticks, no catch-up burst", time.Time{}, true, at(0), at(3.4), at(3)},
		{"starting: the anchor waits", at(0.3), false, at(0), at(0.1), at(1)},
		{"steady: moves forward to the nearest grid point", at(0.3), true, at(0), at(0.1), at(1.3)},
		{"steady: moves back to the nearest grid point", at(0.75), true, at(0), at(0.1), at(0.75)},
		{"steady: an anchor in the future works the same", at(10.6), true, at(0), at(0.1), at(0.6)},
		{"steady: an anchor in the past works the same", at(-7.2), true, at(0), at(0.1), at(0.8)},
		{"steady: half an interval off moves forward", at(0.5), true, at(0), at(0.1), at(1.5)},
		{"steady: on the grid stays on it", at(0.3), true, at(0.3), at(0.4), at(1.3)},
		{"steady: a grid point passed is not taken", at(0.75), true, at(0), at(0.8), at(1.75)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRegion(Config{Device: "memdisk", Geometry: tGeometry, Node: 1, Nodes: []int{1},
				Interval: iv, Anchor: c.anchor})
			if err != nil {
				t.Fatal(err)
			}
			if c.steady {
				close(r.steady)
			}
			if got := r.nextDue(c.prev, c.now); !got.Equal(c.want) {
				t.Errorf("nextDue(%v, %v) = %v, want %v", c.prev.Sub(base), c.now.Sub(base), got.Sub(base), c.want.Sub(base))
			}
		})
	}
}

// writeTimes records when a device's writes happen.
type writeTimes struct {
	Device
	mu sync.Mutex
	at []time.Time
}

func (w *writeTimes) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	w.at = append(w.at, time.Now())
	w.mu.Unlock()
	return w.Device.WriteAt(p, off)
}

func (w *writeTimes) times() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.at...)
}

// A region with an anchor starts on its own grid (reads one interval
// apart, steady after two intervals) and, once steady, writes on the
// anchor's grid, never twice within half an interval.
func TestRegionMovesToItsAnchorOnceSteady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev := &writeTimes{Device: testDisk().Device()}
		t0 := time.Now()
		anchor := t0.Add(-5*tInterval + tInterval*3/10)
		n := newTestRegion(t, dev, 1, []int{1, 2}, func(c *Config) { c.Anchor = anchor })
		took := startAll(t, n)[0]
		if took != 2*tInterval {
			t.Errorf("Start took %v, want %v", took, 2*tInterval)
		}
		time.Sleep(5 * tInterval)
		synctest.Wait()
		at := dev.times()
		for i, w := range at {
			if i > 0 && w.Sub(at[i-1]) < tInterval/2 {
				t.Errorf("write %d only %v after the one before", i, w.Sub(at[i-1]))
			}
			onGrid := w.Sub(anchor)%tInterval == 0
			if i < 3 && w != t0.Add(time.Duration(i)*tInterval) {
				t.Errorf("starting write %d at %v, want %v", i, w.Sub(t0), time.Duration(i)*tInterval)
			}
			if i >= 3 && !onGrid {
				t.Errorf("steady write %d at %v: not on the anchor's grid (%v + k×%v)", i, w.Sub(t0), anchor.Sub(t0), tInterval)
			}
		}
		if len(at) < 7 {
			t.Errorf("%d writes in 7 intervals", len(at))
		}
		if st := n.r.Status(); st.MaxLateness != 0 {
			t.Errorf("max lateness %v, want 0 on an idle fake clock", st.MaxLateness)
		}
	})
}

// A slot read again with the same bytes keeps its last check; any byte
// changed, even one the header does not show, is checked anew.
func TestRegionChecksChangedSlotsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		n := newTestRegion(t, disk.Device(), 1, []int{1, 2}, nil)
		peer := Slot(make([]byte, 512))
		seq := uint64(100)
		put := func(mod func(Slot)) {
			peer.Encode(Block{Seq: seq, Node: 2, Generation: 7, DeadMS: tThreshold * deadMSPerIteration})
			if mod != nil {
				mod(peer)
			}
			disk.WriteRaw(peer, tGeometry.SlotOffset(2))
		}
		put(nil)
		startAll(t, n) // reads at 0, 1, 2 intervals
		step := func(mod func(Slot)) {
			t.Helper()
			seq++
			put(mod)
			time.Sleep(tInterval)
			synctest.Wait()
		}
		for range 3 {
			step(nil)
		}
		if !n.r.tracker.Live(2) {
			t.Fatal("node 2 not live after 3 changed samples")
		}
		// Same header, one byte of the zero area flipped: bad.
		flip := func(s Slot) { s[300] ^= 1 }
		seq--
		step(flip)
		if got := n.log.count(BadBlock, 2); got != 1 {
			t.Fatalf("%d bad-block events after a flipped byte, want 1", got)
		}
		// The same bad bytes again: still bad, one event, a missed sample.
		seq--
		step(flip)
		if got, st := n.log.count(BadBlock, 2), n.r.Status(); got != 1 || st.BadBlocks != 1 {
			t.Errorf("bad-block events %d, BadBlocks %d after the same bad slot again, want 1, 1", got, st.BadBlocks)
		}
		if got := n.r.tracker.Missed(2); got != 2 {
			t.Errorf("node 2 missed %d samples, want 2", got)
		}
		// The good bytes of before: valid again.
		seq--
		step(nil)
		if got := n.log.count(BlockRecovered, 2); got != 1 {
			t.Errorf("%d recovered events, want 1", got)
		}
		// Unchanged good bytes: node 2 dies after the threshold.
		for range tThreshold {
			seq--
			step(nil)
		}
		if n.r.tracker.Live(2) {
			t.Errorf("node 2 live after %d unchanged samples", tThreshold+3)
		}
		if got := n.log.count(NodeDown, 2); got != 1 {
			t.Errorf("%d node-down events, want 1", got)
		}
		if live := n.r.Status().LiveNodes; slices.Contains(live, 2) || !slices.Contains(live, 1) {
			t.Errorf("live nodes %v, want 1 without 2", live)
		}
	})
}
