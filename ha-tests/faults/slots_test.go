package faults

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/process"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// The fake peer of these tests: node 3 of a three-node cluster whose
// nodes 1 and 2 are real daemons.
const fakeNode = 3

// deadMS is what our daemons write as hb_dead_ms (threshold * 2000, as
// the kernel): the fake peer writes the same, so that no dead_ms
// mismatch is logged.
const deadMS = threshold * 2000

// slotWriter writes one slot of a volume's image with O_DIRECT, as a
// node's heartbeat would, every half interval (so that every read of a
// daemon finds a new write), with the block its current mode makes. The
// tests use it for a fake peer and for a foreign writer on a daemon's own
// slot.
type slotWriter struct {
	t    *testing.T
	node int
	off  int64
	f    *os.File

	mu     sync.Mutex
	mode   func(seq uint64, s hbdisk.Slot) // fills s for the write numbered seq
	seq    uint64
	buf    hbdisk.Slot
	last   []byte // what the last write put on disk
	paused bool

	stop chan struct{}
	done chan struct{}
}

// newSlotWriter starts writing node's slot of v's image with mode. It
// stops when the test ends.
func newSlotWriter(t *testing.T, v *volume, node int, mode func(uint64, hbdisk.Slot)) *slotWriter {
	t.Helper()
	f, err := hbdisk.OpenDirect(v.Image)
	if err != nil {
		t.Fatal(err)
	}
	w := &slotWriter{t: t, node: node, off: v.Geometry.SlotOffset(node), f: f,
		seq: uint64(time.Now().Unix()), buf: hbdisk.Slot(hbdisk.AlignedBuffer(v.Geometry.BlockBytes)),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.set(mode)
	go w.run()
	t.Cleanup(func() {
		close(w.stop)
		<-w.done
		f.Close()
	})
	return w
}

func (w *slotWriter) run() {
	defer close(w.done)
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			w.mu.Lock()
			if !w.paused {
				w.writeLocked()
			}
			w.mu.Unlock()
		}
	}
}

// set switches to mode and writes one block with it before returning, so
// that every read that begins after set returns finds the new mode's
// blocks.
func (w *slotWriter) set(mode func(uint64, hbdisk.Slot)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mode, w.paused = mode, false
	w.writeLocked()
}

// pause stops writing; the slot keeps the last block written, which it
// returns.
func (w *slotWriter) pause() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paused = true
	return append([]byte(nil), w.last...)
}

func (w *slotWriter) writeLocked() {
	w.seq++
	w.mode(w.seq, w.buf)
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		w.t.Errorf("write node %d's slot at byte %d: %v", w.node, w.off, err)
		return
	}
	w.last = append(w.last[:0], w.buf...)
}

// good makes valid blocks of node with generation gen, seq advancing.
func good(node int, gen uint64) func(uint64, hbdisk.Slot) {
	return func(seq uint64, s hbdisk.Slot) {
		s.Encode(hbdisk.Block{Seq: seq, Node: uint8(node), Generation: gen, DeadMS: deadMS})
	}
}

// generation returns a random non-zero generation.
func generation() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if g := binary.LittleEndian.Uint64(b[:]); g != 0 {
			return g
		}
	}
}

// slotRig is two real daemons (n1, n2, started by the o2cb agent in
// global mode) and a fake node 3 written by the test, live in both.
type slotRig struct {
	t     *testing.T
	v     *volume
	nodes []*node
	pids  []int
	peer  *slotWriter
	gen   uint64 // the fake peer's generation
	uuid  string
}

func newSlotRig(t *testing.T, f *fault) *slotRig {
	t.Helper()
	dir := t.TempDir()
	v := newVolume(t, f, dir, false)
	c := newCluster(t, dir, 3, true, v)
	r := &slotRig{t: t, v: v, uuid: v.UUID, gen: generation()}
	r.peer = newSlotWriter(t, v, fakeNode, good(fakeNode, r.gen))
	for i := 1; i <= 2; i++ {
		n := c.node(i)
		if res := n.agent("o2cb", "start"); res.Code != 0 {
			t.Fatalf("%s: o2cb start = %d, want 0\n%s", n.Name, res.Code, res.Stderr)
		}
		r.nodes = append(r.nodes, n)
		r.pids = append(r.pids, n.pid())
	}
	testenv.WaitFor(t, 5*time.Second, "nodes 1 and 2 see fake node 3 live", func() bool {
		return r.nodes[0].sees(r.uuid, fakeNode) && r.nodes[1].sees(r.uuid, fakeNode)
	})
	return r
}

// regions returns each daemon's status of the region.
func (r *slotRig) regions() []*hbclient.RegionStatus {
	r.t.Helper()
	var out []*hbclient.RegionStatus
	for _, n := range r.nodes {
		rs := n.region(r.uuid)
		if rs == nil {
			r.t.Fatalf("%s: region %s is gone", n.Name, r.uuid)
		}
		out = append(out, rs)
	}
	return out
}

// iterations returns each daemon's iteration count of the region.
func (r *slotRig) iterations() []uint64 {
	r.t.Helper()
	var out []uint64
	for _, rs := range r.regions() {
		out = append(out, rs.Iterations)
	}
	return out
}

// alive checks that every daemon still runs with the pid it started with
// and answers status with it.
func (r *slotRig) alive() {
	r.t.Helper()
	for i, n := range r.nodes {
		if got := n.pid(); got != r.pids[i] || !process.Running(got) {
			r.t.Fatalf("%s: daemon pid %d (running %v), want %d still running", n.Name, got, process.Running(got), r.pids[i])
		}
		if got := n.status().PID; got != r.pids[i] {
			r.t.Fatalf("%s: status pid = %d, want %d", n.Name, got, r.pids[i])
		}
	}
}

// keepLive runs for k iterations of every daemon and fails the test as
// soon as one of them does not see node live, polling every 10 ms. It
// returns how many status samples it took.
func (r *slotRig) keepLive(node int, k uint64) int {
	r.t.Helper()
	start := r.iterations()
	samples := 0
	deadline := time.Now().Add(time.Duration(k)*interval*3 + 5*time.Second)
	for {
		done := true
		for i, rs := range r.regions() {
			if !slices.Contains(rs.LiveNodes, node) {
				r.t.Fatalf("%s: node %d not live %d iterations after the fault (live %v), want live throughout",
					r.nodes[i].Name, node, rs.Iterations-start[i], rs.LiveNodes)
			}
			if rs.Iterations < start[i]+k {
				done = false
			}
		}
		samples++
		if done {
			return samples
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("daemons did not run %d more iterations by %v%s", k, deadline.Format(time.TimeOnly), r.describe(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIterations waits until every daemon has run k iterations more than
// from.
func (r *slotRig) waitIterations(from []uint64, k uint64) []uint64 {
	r.t.Helper()
	limit := time.Duration(k)*interval*3 + 5*time.Second
	for begin := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		now := r.iterations()
		done := true
		for i := range now {
			done = done && now[i] >= from[i]+k
		}
		if done {
			return now
		}
		if time.Since(begin) > limit {
			r.t.Fatalf("daemons did not run %d more iterations within %v%s", k, limit, r.describe(from))
		}
	}
}

// describe says where each daemon's region is, its iterations counted
// from from, for a failure message.
func (r *slotRig) describe(from []uint64) string {
	var b strings.Builder
	for i, rs := range r.regions() {
		fmt.Fprintf(&b, "; %s: %d iterations, state %s, error %q, lateness p50 %.1f ms p99 %.1f ms, live %v",
			r.nodes[i].Name, rs.Iterations-from[i], rs.State, rs.Error, rs.LatenessP50, rs.LatenessP99, rs.LiveNodes)
	}
	return b.String()
}

// logLines counts the lines of log with message msg about peer.
func logLines(log, msg string, peer int) int {
	re := regexp.MustCompile(`(^| )peer=` + strconv.Itoa(peer) + `( |$)`)
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) && re.MatchString(l) {
			n++
		}
	}
	return n
}

// Log messages of the region loop (internal/hbdisk) the tests count.
const (
	msgBad       = "bad heartbeat block"
	msgRecovered = "heartbeat block valid again"
	msgDown      = "node down"
	msgUp        = "node up"
)

// checkLog checks that each daemon logged msg about peer exactly want
// times.
func (r *slotRig) checkLog(msg string, peer, want int) {
	r.t.Helper()
	for _, n := range r.nodes {
		if got := logLines(n.log(), msg, peer); got != want {
			r.t.Errorf("%s: log lines %q about peer %d = %d, want %d", n.Name, msg, peer, got, want)
		}
	}
}

// persistentBad is the body of the tests whose corruption stays in node
// 3's slot: the node must be dead after `threshold` bad samples, the bad
// block logged once over many iterations, and recovery logged once.
func persistentBad(t *testing.T, f *fault, makeMode func(gen uint64) func(uint64, hbdisk.Slot), wantErr error) {
	r := newSlotRig(t, f)
	mode := makeMode(r.gen)
	probe := hbdisk.Slot(make([]byte, r.v.Geometry.BlockBytes))
	mode(1, probe)
	if err := probe.Validate(fakeNode); !errors.Is(err, wantErr) {
		t.Fatalf("injected block: Validate(%d) = %v, want %v", fakeNode, err, wantErr)
	}
	bad0 := r.regions()
	r.peer.set(mode)
	i0 := r.iterations()

	// Dead after threshold bad samples: the first bad read is in one of
	// the next two iterations, and a live node may carry one equal
	// sample from before.
	dead := make([]uint64, len(r.nodes))
	testenv.WaitFor(t, 5*time.Second, "node 3 dead on both daemons", func() bool {
		all := true
		for i, rs := range r.regions() {
			if dead[i] == 0 && !slices.Contains(rs.LiveNodes, fakeNode) {
				dead[i] = rs.Iterations
			}
			all = all && dead[i] != 0
		}
		return all
	})
	for i, n := range r.nodes {
		took := dead[i] - i0[i]
		f.observe(t, "%s: node 3 dead %d iterations after the bad block was written (threshold %d bad samples; the iteration in flight may have read the slot before)", n.Name, took, threshold)
		if took < threshold-1 || took > threshold+3 {
			t.Errorf("%s: node 3 dead after %d iterations, want %d to %d (threshold %d bad samples)", n.Name, took, threshold-1, threshold+3, threshold)
		}
	}

	// The corruption stays for many more iterations: one warning.
	const more = 20
	end := r.waitIterations(i0, threshold+more)
	r.alive()
	r.checkLog(msgBad, fakeNode, 1)
	r.checkLog(msgDown, fakeNode, 1)
	bad1 := r.regions()
	for i, n := range r.nodes {
		if d := bad1[i].BadBlocks - bad0[i].BadBlocks; d != 1 {
			t.Errorf("%s: bad_blocks rose by %d, want 1 (one transition)", n.Name, d)
		}
		f.observe(t, "%s: %d \"%s\" line over %d iterations of the bad block; bad_blocks %d -> %d",
			n.Name, logLines(n.log(), msgBad, fakeNode), msgBad, end[i]-i0[i], bad0[i].BadBlocks, bad1[i].BadBlocks)
	}

	// Valid blocks again: live after two changed samples, logged once.
	r.peer.set(good(fakeNode, r.gen))
	i1 := r.iterations()
	back := make([]uint64, len(r.nodes))
	testenv.WaitFor(t, 5*time.Second, "node 3 live again on both daemons", func() bool {
		all := true
		for i, rs := range r.regions() {
			if back[i] == 0 && slices.Contains(rs.LiveNodes, fakeNode) {
				back[i] = rs.Iterations
			}
			all = all && back[i] != 0
		}
		return all
	})
	r.keepLive(fakeNode, 10)
	r.alive()
	r.checkLog(msgRecovered, fakeNode, 1)
	r.checkLog(msgBad, fakeNode, 1)
	r.checkLog(msgUp, fakeNode, 2)
	for i, n := range r.nodes {
		f.observe(t, "%s: node 3 live again %d iterations after valid blocks resumed; \"%s\" logged once; pid %d unchanged",
			n.Name, back[i]-i1[i], msgRecovered, r.pids[i])
	}
}

func TestSlotRandomBytes(t *testing.T) {
	f := record(t, "slots",
		"node 3 (a fake peer written by the test, live on daemons n1 and n2) has its slot overwritten with random bytes every half interval, then valid blocks again",
		"no crash; node 3 dead after `threshold` (5) bad samples (kernel: a bad CRC is a missed sample of a live node); one \"bad heartbeat block\" line per transition, not per iteration; bad_blocks +1; recovery logged once")
	persistentBad(t, f, func(uint64) func(uint64, hbdisk.Slot) {
		return func(_ uint64, s hbdisk.Slot) { rand.Read(s) }
	}, hbdisk.ErrChecksum)
}

func TestSlotBadChecksum(t *testing.T) {
	f := record(t, "slots",
		"node 3's slot holds well-formed blocks (node 3, its generation, seq advancing) whose stored CRC is off by one, every half interval, then valid blocks again",
		"as for random bytes: no crash; node 3 dead after 5 bad samples; one warning per transition; bad_blocks +1; recovery logged once")
	persistentBad(t, f, func(gen uint64) func(uint64, hbdisk.Slot) {
		return func(seq uint64, s hbdisk.Slot) {
			good(fakeNode, gen)(seq, s)
			binary.LittleEndian.PutUint32(s[12:], s.StoredChecksum()+1) // hb_cksum is at byte 12
		}
	}, hbdisk.ErrChecksum)
}

func TestSlotWrongNode(t *testing.T) {
	f := record(t, "slots",
		"node 3's slot holds blocks with a valid CRC, node 3's generation and an advancing seq, but hb_node 5, every half interval for 20 iterations; then node 3's own blocks again",
		"kernel rules: o2hb_check_slot never looks at a peer slot's hb_node, so each such block is a sample like any other and node 3 stays live on both daemons; no crash; the foreign node number is logged once (\"bad heartbeat block\", bad_blocks +1) and its end once")
	r := newSlotRig(t, f)
	mode := good(5, r.gen)
	probe := hbdisk.Slot(make([]byte, r.v.Geometry.BlockBytes))
	mode(1, probe)
	if err := probe.Validate(fakeNode); !errors.Is(err, hbdisk.ErrSlotOwner) {
		t.Fatalf("injected block: Validate(%d) = %v, want %v", fakeNode, err, hbdisk.ErrSlotOwner)
	}
	bad0 := r.regions()
	r.peer.set(mode)
	const k = 20
	samples := r.keepLive(fakeNode, k)
	r.alive()
	r.checkLog(msgBad, fakeNode, 1)
	r.checkLog(msgDown, fakeNode, 0)
	bad1 := r.regions()
	for i, n := range r.nodes {
		if d := bad1[i].BadBlocks - bad0[i].BadBlocks; d != 1 {
			t.Errorf("%s: bad_blocks rose by %d, want 1", n.Name, d)
		}
		f.observe(t, "%s: node 3 live in all %d status samples over %d iterations of hb_node 5 blocks; %d \"%s\" line; bad_blocks %d -> %d",
			n.Name, samples, k, logLines(n.log(), msgBad, fakeNode), msgBad, bad0[i].BadBlocks, bad1[i].BadBlocks)
	}
	r.peer.set(good(fakeNode, r.gen))
	r.keepLive(fakeNode, 5)
	r.alive()
	r.checkLog(msgRecovered, fakeNode, 1)
	r.checkLog(msgUp, fakeNode, 1)
	f.observe(t, "node 3's own blocks again: \"%s\" logged once on each daemon, node 3 never down", msgRecovered)
}

func TestSlotSeqBackwards(t *testing.T) {
	f := record(t, "slots",
		"node 3's slot holds valid blocks (CRC, node 3, its generation) whose hb_seq goes down by one at every write, every half interval for 20 iterations",
		"kernel rules: a sample is changed when hb_seq differs from the last one (o2hb_check_slot compares for equality), so a seq going backwards is a change, as after a peer's clock is stepped back: node 3 stays live; nothing logged; bad_blocks unchanged; no crash")
	r := newSlotRig(t, f)
	bad0 := r.regions()
	r.peer.mu.Lock()
	back := r.peer.seq
	r.peer.mu.Unlock()
	first := back
	r.peer.set(func(_ uint64, s hbdisk.Slot) {
		back--
		good(fakeNode, r.gen)(back, s)
	})
	const k = 20
	samples := r.keepLive(fakeNode, k)
	r.alive()
	r.peer.mu.Lock()
	last := back
	r.peer.mu.Unlock()
	r.checkLog(msgBad, fakeNode, 0)
	r.checkLog(msgDown, fakeNode, 0)
	bad1 := r.regions()
	for i, n := range r.nodes {
		if bad1[i].BadBlocks != bad0[i].BadBlocks {
			t.Errorf("%s: bad_blocks %d -> %d, want unchanged", n.Name, bad0[i].BadBlocks, bad1[i].BadBlocks)
		}
		f.observe(t, "%s: node 3 live in all %d status samples over %d iterations while its seq went from %d down to %d; no warning; bad_blocks %d",
			n.Name, samples, k, first, last, bad1[i].BadBlocks)
	}
}

func TestSlotTorn(t *testing.T) {
	f := record(t, "slots",
		"torn writes of node 3's slot, each written as one whole 512-byte sector (O_DIRECT): (a) first 256 bytes of the new block, last 256 of the old, for 10 iterations; (b) only the new block's hb_seq (bytes 0-7) over the old block, for 2 iterations of each daemon, between valid blocks",
		"(a) the block holds its 28 bytes of fields in the first half and zeros after, so the torn sector is the new block itself: a valid change, node 3 live, nothing logged; (b) a bad CRC for a few samples, fewer than the threshold: node 3 stays live (a missed sample per the kernel), one warning and one recovery line, bad_blocks +1; no crash")
	r := newSlotRig(t, f)
	w := r.peer
	bb := r.v.Geometry.BlockBytes
	newBlock := make([]byte, bb)
	torn := func(keep int) func(uint64, hbdisk.Slot) {
		return func(seq uint64, s hbdisk.Slot) {
			good(fakeNode, r.gen)(seq, hbdisk.Slot(newBlock))
			copy(s, newBlock[:keep])
			copy(s[keep:], w.last[keep:]) // what is on disk: the old block
		}
	}

	// (a) A tear at half the sector.
	bad0 := r.regions()
	w.set(torn(bb / 2))
	w.mu.Lock()
	same := string(w.last) == string(newBlock)
	w.mu.Unlock()
	if !same {
		t.Fatalf("a block torn at byte %d differs from the new block, want equal (fields in the first 28 bytes, zeros after)", bb/2)
	}
	samples := r.keepLive(fakeNode, 10)
	r.checkLog(msgBad, fakeNode, 0)
	bad1 := r.regions()
	for i, n := range r.nodes {
		if bad1[i].BadBlocks != bad0[i].BadBlocks {
			t.Errorf("%s: bad_blocks %d -> %d after half-sector tears, want unchanged", n.Name, bad0[i].BadBlocks, bad1[i].BadBlocks)
		}
	}
	f.observe(t, "(a) a sector torn at byte %d equals the new block byte for byte; node 3 live in all %d status samples over 10 iterations, no warning", bb/2, samples)

	// (b) A tear inside the fields: new seq, old checksum.
	w.set(torn(8))
	w.mu.Lock()
	err := hbdisk.Slot(w.last).Validate(fakeNode)
	w.mu.Unlock()
	if !errors.Is(err, hbdisk.ErrChecksum) {
		t.Fatalf("block torn at byte 8: Validate(%d) = %v, want %v", fakeNode, err, hbdisk.ErrChecksum)
	}
	samples = r.keepLive(fakeNode, 2)
	w.set(good(fakeNode, r.gen))
	samples += r.keepLive(fakeNode, 10)
	r.alive()
	r.checkLog(msgBad, fakeNode, 1)
	r.checkLog(msgRecovered, fakeNode, 1)
	r.checkLog(msgDown, fakeNode, 0)
	bad2 := r.regions()
	for i, n := range r.nodes {
		if d := bad2[i].BadBlocks - bad1[i].BadBlocks; d != 1 {
			t.Errorf("%s: bad_blocks rose by %d after torn headers, want 1", n.Name, d)
		}
		f.observe(t, "(b) %s: node 3 live in all %d status samples across the torn blocks and 10 iterations after; one warning, one recovery line; bad_blocks %d -> %d",
			n.Name, samples, bad1[i].BadBlocks, bad2[i].BadBlocks)
	}
}

// read returns the slot's bytes as on disk.
func (w *slotWriter) read() []byte {
	w.t.Helper()
	b := hbdisk.AlignedBuffer(len(w.buf))
	if _, err := w.f.ReadAt(b, w.off); err != nil {
		w.t.Fatalf("read node %d's slot at byte %d: %v", w.node, w.off, err)
	}
	return b
}

// pacemakerReasonMax is how many characters of an exit reason Pacemaker
// keeps.
const pacemakerReasonMax = 128

// checkCollisionReason checks that a monitor failed with an exit reason
// that names the collision and, within what Pacemaker keeps, both
// generations (at least their first 8 hex digits).
func checkCollisionReason(t *testing.T, f *fault, agent string, res result, ours, foreign uint64) {
	t.Helper()
	reason := testenv.ExitReason(res.Stderr)
	head := strings.ToLower(reason[:min(pacemakerReasonMax, len(reason))])
	f.observe(t, "%s monitor exit %d, exit reason of %d characters, the first %d: %q", agent, res.Code, len(reason), pacemakerReasonMax, reason[:min(pacemakerReasonMax, len(reason))])
	if res.Code != 1 {
		t.Errorf("%s monitor = %d, want 1 (OCF_ERR_GENERIC)\n%s", agent, res.Code, res.Stderr)
	}
	if !strings.Contains(head, "collision") {
		t.Errorf("%s monitor exit reason %q: no \"collision\" in its first %d characters", agent, reason, pacemakerReasonMax)
	}
	for _, g := range []uint64{ours, foreign} {
		if short := fmt.Sprintf("%016x", g)[:8]; !strings.Contains(head, short) {
			t.Errorf("%s monitor exit reason %q: generation %#016x (%s) not in its first %d characters", agent, reason, g, short, pacemakerReasonMax)
		}
	}
}

// foreignWriter writes valid blocks with node's number and a generation
// of its own into node's slot of v until the daemon of n reports the
// region in collision, then writes once more and stops. It checks that
// the daemon writes the slot no more: the foreign block stays for 10
// intervals. It returns our generation and the foreign one.
func foreignWriter(t *testing.T, f *fault, n *node, v *volume) (ours, foreign uint64) {
	t.Helper()
	rs := n.region(v.UUID)
	if rs == nil || rs.State != hbclient.StateSteady {
		t.Fatalf("%s: region %s = %+v, want steady", n.Name, v.UUID, rs)
	}
	ours, err := strconv.ParseUint(strings.TrimPrefix(rs.Generation, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("%s: region generation %q: %v", n.Name, rs.Generation, err)
	}
	pid := n.pid()
	for foreign = generation(); foreign == ours; foreign = generation() {
	}
	i0 := rs.Iterations
	w := newSlotWriter(t, v, n.number, good(n.number, foreign))
	took := testenv.WaitFor(t, 5*time.Second, "region in collision", func() bool {
		rs = n.region(v.UUID)
		return rs != nil && rs.State == hbclient.StateCollision
	})
	f.observe(t, "%s: region %s in collision %v after the foreign writer began (the region ended in iteration %d after it, before counting it)",
		n.Name, v.UUID[:8], took.Round(time.Millisecond), rs.Iterations-i0+1)
	if slices.Contains(rs.LiveNodes, n.number) {
		t.Errorf("%s: region in collision still lists node %d live (%v)", n.Name, n.number, rs.LiveNodes)
	}
	w.set(good(n.number, foreign))
	last := w.pause()
	writes, iters := rs.Writes, rs.Iterations
	time.Sleep(10 * interval)
	if got := w.read(); string(got) != string(last) {
		t.Errorf("%s's slot changed after the collision: %s, want the foreign block %s",
			n.Name, hbdisk.Slot(got).Block(), hbdisk.Slot(last).Block())
	}
	rs = n.region(v.UUID)
	if rs.Writes != writes || rs.Iterations != iters || rs.State != hbclient.StateCollision {
		t.Errorf("%s: after the collision writes %d -> %d, iterations %d -> %d, state %s; want no change, collision",
			n.Name, writes, rs.Writes, iters, rs.Iterations, rs.State)
	}
	f.observe(t, "%s: slot holds the foreign block (generation %#x) 10 intervals after the last foreign write; region writes stay at %d",
		n.Name, foreign, rs.Writes)
	if got := n.pid(); got != pid || !process.Running(pid) {
		t.Fatalf("%s: daemon pid %d, want %d still running", n.Name, got, pid)
	}
	log := n.log()
	for _, g := range []uint64{ours, foreign} {
		if !strings.Contains(log, fmt.Sprintf("%#x", g)) {
			t.Errorf("%s: daemon log does not name generation %#x", n.Name, g)
		}
	}
	msgRe := regexp.MustCompile(`level=(\w+) msg="([^"]*)"`)
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, fmt.Sprintf("%#x", foreign)) && strings.Contains(l, fmt.Sprintf("%#x", ours)) {
			if m := msgRe.FindStringSubmatch(l); m != nil {
				f.observe(t, "%s: daemon log %s %q names generation %#x (ours) and %#x (foreign) in full", n.Name, m[1], m[2], ours, foreign)
			}
			break
		}
	}
	return ours, foreign
}

func TestForeignWriterGlobal(t *testing.T) {
	f := record(t, "slots",
		"node 1's daemon runs two global regions (o2cb agent start); a second writer puts valid blocks with node 1's number and another generation into node 1's slot of one region, every half interval, until the daemon reacts, then once more, and stops",
		"that region in state collision and no longer written (the slot keeps the foreign block for 10 intervals); the other region steady; o2cb monitor succeeds with region_quorum=any and fails (1) with all, its exit reason naming the collision and both generations within Pacemaker's 128 characters; the daemon log names both generations in full hex; same daemon pid")
	dir := t.TempDir()
	v1 := newVolume(t, f, dir, false)
	v2 := newVolume(t, f, dir, false)
	c := newCluster(t, dir, 2, true, v1, v2)
	n := c.node(1)
	if res := n.agent("o2cb", "start"); res.Code != 0 {
		t.Fatalf("o2cb start = %d, want 0\n%s", res.Code, res.Stderr)
	}
	ours, foreign := foreignWriter(t, f, n, v1)
	if rs := n.region(v2.UUID); rs == nil || rs.State != hbclient.StateSteady || !slices.Contains(rs.LiveNodes, 1) {
		t.Errorf("other region %s = %+v, want steady with node 1 live", v2.UUID, rs)
	}
	if res := n.agent("o2cb", "monitor", "region_quorum=any"); res.Code != 0 {
		t.Errorf("o2cb monitor (region_quorum=any) = %d, want 0: the other region sees node 1\n%s", res.Code, res.Stderr)
	} else {
		f.observe(t, "o2cb monitor (region_quorum=any) exit 0: the other region still sees node 1")
	}
	checkCollisionReason(t, f, "o2cb (region_quorum=all)", n.agent("o2cb", "monitor", "region_quorum=all"), ours, foreign)
}

func TestForeignWriterHBRegion(t *testing.T) {
	f := record(t, "slots",
		"node 1's daemon runs one region for an hbregion resource (local mode); a second writer puts valid blocks with node 1's number and another generation into node 1's slot, every half interval, until the daemon reacts, then once more, and stops",
		"region state collision and no longer written (the slot keeps the foreign block for 10 intervals); hbregion monitor fails (1) with an exit reason naming the collision and both generations within Pacemaker's 128 characters; the daemon log names both generations in full hex; hbregion stop succeeds")
	dir := t.TempDir()
	v := newVolume(t, f, dir, false)
	c := newCluster(t, dir, 2, false, v)
	n := c.node(1)
	if res := n.agent("o2cb", "start"); res.Code != 0 {
		t.Fatalf("o2cb start = %d, want 0\n%s", res.Code, res.Stderr)
	}
	if res := n.agent("hbregion", "start", "uuid="+v.UUID); res.Code != 0 {
		t.Fatalf("hbregion start = %d, want 0\n%s", res.Code, res.Stderr)
	}
	ours, foreign := foreignWriter(t, f, n, v)
	checkCollisionReason(t, f, "hbregion", n.agent("hbregion", "monitor", "uuid="+v.UUID), ours, foreign)
	res := n.agent("hbregion", "stop", "uuid="+v.UUID)
	if res.Code != 0 {
		t.Errorf("hbregion stop = %d, want 0\n%s", res.Code, res.Stderr)
	}
	f.observe(t, "hbregion stop exit %d", res.Code)
}
