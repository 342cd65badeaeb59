package hbdisk

import (
	"crypto/sha256"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// readOnlyDev is an observer's device: any write fails the test and is
// counted, and reads can be made to hang.
type readOnlyDev struct {
	Device
	t      *testing.T
	writes atomic.Int32
	mu     sync.Mutex
	hang   chan struct{} // not nil: reads block until it is closed
}

func (d *readOnlyDev) WriteAt(p []byte, off int64) (int, error) {
	d.writes.Add(1)
	d.t.Errorf("observer wrote %d bytes at byte %d", len(p), off)
	return 0, errors.New("read-only test device")
}

func (d *readOnlyDev) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	ch := d.hang
	d.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return d.Device.ReadAt(p, off)
}

// hangReads makes the next reads block until release is called.
func (d *readOnlyDev) hangReads() (release func()) {
	ch := make(chan struct{})
	d.mu.Lock()
	d.hang = ch
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			d.hang = nil
			d.mu.Unlock()
			close(ch)
		})
	}
}

func readOnly(cfg *Config) { cfg.ReadOnly = true }

// An observer with our node number on a region where another writer
// heartbeats in our slot (the kernel, on a kernel node) and in a peer's:
// Start returns with both live, as a writer's Start would; our own node
// counts as seen and OwnSlotRead follows the other writer's heartbeat;
// when the writers go silent both drop out after the dead threshold, and
// OwnSlotRead stops. Nothing is ever written through the observer.
func TestObserverSeesOwnSlotWrittenByAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		nodes := []int{1, 2}
		kernel := &dropper{Device: disk.Device()}
		peer := &dropper{Device: disk.Device()}
		k := newTestRegion(t, kernel, 1, nodes, nil)
		p := newTestRegion(t, peer, 2, nodes, nil)
		startAll(t, k, p)
		time.Sleep(tInterval / 2) // the observer reads between the writes
		dev := &readOnlyDev{Device: disk.Device(), t: t}
		o := newTestRegion(t, dev, 1, nodes, readOnly)
		begin := time.Now()
		if err := o.r.Start(t.Context()); err != nil {
			t.Fatalf("observer Start = %v", err)
		}
		st := o.r.Status()
		if took := time.Since(begin); took != (SteadyReads-1)*tInterval {
			t.Errorf("observer Start took %v, want %v (reads at 0, 1 and 2 intervals)", took, (SteadyReads-1)*tInterval)
		}
		if st.State != Steady || !slices.Equal(st.LiveNodes, nodes) || !st.OwnLive() {
			t.Fatalf("observer after Start: state %s live %v, want steady with %v, own node 1 seen", st.State, st.LiveNodes, nodes)
		}
		if st.Generation != 0 || st.Seq != 0 || st.Writes != 0 || st.WriteErrors != 0 || st.BytesWritten != 0 || !st.LastWrite.IsZero() {
			t.Errorf("observer status %+v: want no generation, no seq, no write", st)
		}
		if st.OwnSlotRead.IsZero() || time.Since(st.OwnSlotRead) > tInterval {
			t.Errorf("observer OwnSlotRead %v, %v ago; want within an interval", st.OwnSlotRead, time.Since(st.OwnSlotRead))
		}
		if st.Reads != st.Iterations || st.BytesRead != st.Reads*uint64(2*tGeometry.BlockBytes) {
			t.Errorf("observer: %d reads, %d bytes in %d iterations; want one read of slots 1-2 each", st.Reads, st.BytesRead, st.Iterations)
		}
		time.Sleep(tInterval / 2)
		synctest.Wait()
		kernel.drop.Store(true)
		peer.drop.Store(true)
		silent := time.Now()
		time.Sleep(time.Duration(tThreshold+2) * tInterval)
		for _, n := range nodes {
			e, ok := o.log.first(NodeDown, n)
			if !ok || e.Reason != DownTimeout {
				t.Fatalf("observer: node %d down %v %+v; want down by timeout", n, ok, e)
			}
			if after := e.at.Sub(silent); after < tThreshold*tInterval || after > (tThreshold+1)*tInterval {
				t.Errorf("observer saw node %d down %v after it went silent, want %v to %v", n, after, tThreshold*tInterval, (tThreshold+1)*tInterval)
			}
		}
		st = o.r.Status()
		if len(st.LiveNodes) != 0 || st.OwnLive() || st.State != Steady {
			t.Errorf("observer after the writers went silent: state %s live %v, want steady, none live", st.State, st.LiveNodes)
		}
		// The last write landed at silent; the read after it, half an
		// interval later, is the last to find our slot changed.
		if want := silent.Add(tInterval / 2); !st.OwnSlotRead.Equal(want) {
			t.Errorf("OwnSlotRead %v after our slot's writer went silent, want %v (the first read after the last write)", st.OwnSlotRead.Sub(silent), want.Sub(silent))
		}
		before := disk.Bytes()
		if err := o.r.Stop(t.Context()); err != nil || o.r.Err() != nil || o.r.Status().State != Stopped {
			t.Errorf("observer Stop = %v, Err %v, state %s; want nil, nil, stopped", err, o.r.Err(), o.r.Status().State)
		}
		if string(disk.Bytes()) != string(before) {
			t.Errorf("the observer's Stop changed the disk")
		}
		if n := dev.writes.Load(); n != 0 {
			t.Errorf("observer wrote %d times, want 0", n)
		}
		stopAll(t, k, p)
	})
}

// An observer of a node that is not running sees a writer's clean stop
// at once, as a writer does, and its own node is never seen.
func TestObserverSeesCleanStopAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := testDisk()
		nodes := []int{1, 2}
		w := newTestRegion(t, disk.Device(), 1, nodes, nil)
		startAll(t, w)
		time.Sleep(tInterval / 2) // the observer reads between the writes
		dev := &readOnlyDev{Device: disk.Device(), t: t}
		o := newTestRegion(t, dev, 2, nodes, readOnly)
		startAll(t, o)
		if st := o.r.Status(); !slices.Equal(st.LiveNodes, []int{1}) || st.OwnLive() || !st.OwnSlotRead.IsZero() {
			t.Fatalf("observer as node 2: live %v, own slot read %v; want [1], never", st.LiveNodes, st.OwnSlotRead)
		}
		time.Sleep(tInterval / 2)
		stopped := time.Now()
		stopAll(t, w)
		time.Sleep(2 * tInterval)
		e, ok := o.log.first(NodeDown, 1)
		if !ok || e.Reason != DownClean || e.at.Sub(stopped) > tInterval {
			t.Fatalf("observer saw node 1 down: %v %+v %v after the stop; want %q within an interval", ok, e, e.at.Sub(stopped), DownClean)
		}
		if st := o.r.Status(); len(st.LiveNodes) != 0 {
			t.Errorf("observer after the clean stop: live %v, want none", st.LiveNodes)
		}
		stopAll(t, o)
		if n := dev.writes.Load(); n != 0 {
			t.Errorf("observer wrote %d times, want 0", n)
		}
	})
}

// A read that hangs does not hold Status, which answers with the call in
// flight (real time: Status must answer within milliseconds), and the
// observer fails once no read has completed for the I/O timeout.
func TestObserverHungReadDoesNotBlockStatus(t *testing.T) {
	disk := testDisk()
	dev := &readOnlyDev{Device: disk.Device(), t: t}
	o := newTestRegion(t, dev, 1, []int{1, 2}, readOnly)
	if err := o.r.Start(t.Context()); err != nil {
		t.Fatalf("observer Start = %v", err)
	}
	release := dev.hangReads()
	defer release()
	time.Sleep(tInterval + tInterval/2)
	var slowest time.Duration
	for range 20 {
		begin := time.Now()
		st := o.r.Status()
		slowest = max(slowest, time.Since(begin))
		if st.IOInFlight <= 0 {
			t.Fatalf("during the hung read: IOInFlight %v, want > 0", st.IOInFlight)
		}
		time.Sleep(time.Millisecond)
	}
	if slowest > 10*time.Millisecond {
		t.Errorf("Status took %v during a hung read, want < 10ms", slowest)
	}
	select {
	case <-o.r.Done():
	case <-time.After(2 * tThreshold * tInterval):
		t.Fatalf("observer with a hung read still running: %+v", o.r.Status())
	}
	st := o.r.Status()
	if err := o.r.Err(); !errors.Is(err, ErrIOTimeout) || !strings.Contains(err.Error(), "no read of") || st.State != Failed {
		t.Errorf("observer with a hung read: state %s, err %v; want failed with ErrIOTimeout naming the read", st.State, err)
	}
	begin := time.Now()
	if err := o.r.Stop(t.Context()); err != nil || time.Since(begin) > 10*time.Millisecond {
		t.Errorf("Stop of the failed observer = %v after %v, want nil at once", err, time.Since(begin))
	}
	if n := dev.writes.Load(); n != 0 {
		t.Errorf("observer wrote %d times, want 0", n)
	}
}

// An observer opens a real file read-only by itself (no Open hook): on a
// file of mode 0444 it runs (a read-write open would fail, but for root),
// sees the writer that heartbeats there through its own descriptor, and
// leaves every byte outside the writer's slot as it was; stopped writer,
// a second observer run leaves the whole file as it was.
func TestObserverLeavesRealFileUntouched(t *testing.T) {
	img := t.TempDir() + "/hb.img"
	if err := os.WriteFile(img, make([]byte, (tStart+MaxNodes+8)*512), 0o644); err != nil {
		t.Fatal(err)
	}
	probe, err := OpenDirect(img)
	if err != nil {
		t.Skipf("the temporary directory does not take O_DIRECT opens: %v", err)
	}
	probe.Close()
	nodes := []int{1, 2}
	w := newTestRegion(t, nil, 1, nodes, func(c *Config) { c.Open, c.Device = nil, img })
	if err := w.r.Start(t.Context()); err != nil {
		t.Fatalf("writer Start = %v", err)
	}
	if err := os.Chmod(img, 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if f, err := os.OpenFile(img, os.O_RDWR, 0); err == nil {
			f.Close()
			t.Fatalf("a read-write open of the 0444 file succeeded; the test proves nothing")
		}
	}
	sum := func() [32]byte {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	observe := func(wantLive []int) Status {
		t.Helper()
		o := newTestRegion(t, nil, 2, nodes, func(c *Config) { c.Open, c.Device, c.ReadOnly = nil, img, true })
		if err := o.r.Start(t.Context()); err != nil {
			t.Fatalf("observer Start on the 0444 file = %v", err)
		}
		time.Sleep(3 * tInterval)
		st := o.r.Status()
		if !slices.Equal(st.LiveNodes, wantLive) {
			t.Errorf("observer live %v, want %v", st.LiveNodes, wantLive)
		}
		if err := o.r.Stop(t.Context()); err != nil {
			t.Errorf("observer Stop = %v", err)
		}
		st = o.r.Status()
		if st.Writes != 0 || st.WriteErrors != 0 || st.BytesWritten != 0 || st.Reads == 0 {
			t.Errorf("observer: %d writes, %d write errors, %d bytes written, %d reads; want no write, some reads", st.Writes, st.WriteErrors, st.BytesWritten, st.Reads)
		}
		return st
	}

	outside := hashOutsideSlot(t, img, 1)
	observe([]int{1})
	if got := hashOutsideSlot(t, img, 1); got != outside {
		t.Errorf("the file outside the writer's slot changed while the observer ran")
	}
	if err := w.r.Stop(t.Context()); err != nil {
		t.Fatalf("writer Stop = %v", err)
	}
	whole := sum()
	observe(nil)
	if sum() != whole {
		t.Errorf("the file changed while the observer alone ran")
	}
}

// hashOutsideSlot hashes the file at path without node's slot.
func hashOutsideSlot(t *testing.T, path string, node int) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := tGeometry.SlotOffset(node)
	clear(b[off : off+int64(tGeometry.BlockBytes)])
	return sha256.Sum256(b)
}

// A read-only region refuses a write should any path reach one.
func TestReadOnlyRegionRefusesWrite(t *testing.T) {
	o := newTestRegion(t, testDisk().Device(), 1, nil, readOnly)
	if err := o.r.write(Slot(AlignedBuffer(512))); !errors.Is(err, errReadOnly) {
		t.Errorf("write on a read-only region = %v, want errReadOnly", err)
	}
}

// SetIOPriority sets the priority of the thread that issues the
// observer's reads, as a writer's: ioprio_get on that thread gives it
// back (best-effort class, which needs no privilege).
func TestObserverSetIOPriority(t *testing.T) {
	o := newTestRegion(t, testDisk().Device(), 1, []int{1, 2}, readOnly)
	if err := o.r.Start(t.Context()); err != nil {
		t.Fatalf("observer Start = %v", err)
	}
	const bestEffort4 = 2<<13 | 4
	tid, err := o.r.SetIOPriority(t.Context(), bestEffort4)
	if err != nil || tid == 0 || o.r.IOThreadID() != tid {
		t.Fatalf("SetIOPriority = %d, %v; IOThreadID %d", tid, err, o.r.IOThreadID())
	}
	const ioprioWhoProcess = 1
	got, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
	if e != 0 || got != bestEffort4 {
		t.Errorf("ioprio_get(thread %d) = %#x, %v; want %#x", tid, got, e, bestEffort4)
	}
	if err := o.r.Stop(t.Context()); err != nil {
		t.Errorf("observer Stop = %v", err)
	}
}
