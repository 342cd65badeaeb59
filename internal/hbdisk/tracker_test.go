package hbdisk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sample is one step of a tracker table: a block (or a corrupt slot) and
// the events it must cause.
type sample struct {
	seq, gen uint64
	deadMS   uint32 // 0: testDeadMS
	corrupt  bool
	node     uint8  // hb_node written; 0: testNode
	want     string // events, "kind" joined by ","; "" for none
	live     bool   // whether the node is live afterwards
}

const (
	testThreshold = 4
	testDeadMS    = 8000
	testNode      = 5
)

func (s sample) slot() Slot {
	sl := Slot(make([]byte, 512))
	dm := s.deadMS
	if dm == 0 {
		dm = testDeadMS
	}
	node := s.node
	if node == 0 {
		node = testNode
	}
	sl.Encode(Block{Seq: s.seq, Node: node, Generation: s.gen, DeadMS: dm})
	if s.corrupt {
		sl[100] ^= 1
	}
	return sl
}

func kinds(evs []Event) string {
	var k []string
	for _, e := range evs {
		k = append(k, e.Kind.String())
	}
	return strings.Join(k, ",")
}

// equalRun returns n samples with the same seq and generation.
func equalRun(n int, seq, gen uint64, live bool, lastWant string) []sample {
	var out []sample
	for i := range n {
		s := sample{seq: seq, gen: gen, live: live}
		if i == n-1 {
			s.want = lastWant
			if lastWant == "node-down" {
				s.live = false
			}
		}
		out = append(out, s)
	}
	return out
}

// naming makes every sample's block name node instead of testNode.
func naming(node uint8, ss []sample) []sample {
	for i := range ss {
		ss[i].node = node
	}
	return ss
}

func TestTrackerTransitions(t *testing.T) {
	const g = 0xabc
	tests := []struct {
		name    string
		samples []sample
	}{
		{"blank slot never lives", equalRun(10, 0, 0, false, "")},
		{"first non-zero seq counts as a change, the second makes it live", []sample{
			{seq: 100, gen: g},
			{seq: 101, gen: g, want: "node-up", live: true},
		}},
		{"from a blank slot it takes two writes", []sample{
			{seq: 0, gen: 0},
			{seq: 100, gen: g},
			{seq: 101, gen: g, want: "node-up", live: true},
		}},
		{"a stale slot of a dead node never lives", append([]sample{{seq: 100, gen: g}},
			equalRun(40, 100, g, false, "")...)},
		{"changes spread over equal samples still count while not live", []sample{
			{seq: 100, gen: g}, {seq: 100, gen: g}, {seq: 100, gen: g},
			{seq: 101, gen: g, want: "node-up", live: true},
		}},
		{"dead after exactly dead_threshold equal samples", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, live: true}},
			equalRun(testThreshold, 102, g, true, "node-down")...)},
		{"the first equal sample after coming up is forgiven, as in the kernel", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 101, gen: g, live: true}},
			equalRun(testThreshold, 101, g, true, "node-down")...)},
		{"a change resets the equal count of a live node", append(append(append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true}},
			equalRun(testThreshold-1, 101, g, true, "")...),
			sample{seq: 102, gen: g, live: true}),
			equalRun(testThreshold-1, 102, g, true, "")...)},
		{"seq going backwards is a change", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 50, gen: g, live: true}, {seq: 50, gen: g, live: true},
		}},
		{"a generation change is death at once, and life at the next change", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g + 1, want: "node-down"},
			{seq: 103, gen: g + 1, want: "node-up", live: true},
		}},
		{"a generation change without a seq change is also death", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 101, gen: g + 1, want: "node-down"},
			{seq: 102, gen: g + 1, want: "node-up", live: true},
		}},
		{"generation 0 is a clean stop and stays dead", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, live: true},
			{seq: 103, gen: 0, want: "node-down"}},
			equalRun(40, 103, 0, false, "")...)},
		{"a clean stop right after coming up stays dead (no ghost)", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: 0, want: "node-down"}},
			equalRun(40, 102, 0, false, "")...)},
		{"after a timeout the node needs two changes again", append(append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, live: true}},
			equalRun(testThreshold, 102, g, true, "node-down")...),
			sample{seq: 103, gen: g},
			sample{seq: 104, gen: g, want: "node-up", live: true})},
		{"bad blocks of a node that is not live are ignored", []sample{
			{seq: 100, gen: g},
			{seq: 101, gen: g, corrupt: true, want: "bad-block"},
			{seq: 102, gen: g, corrupt: true},
			{seq: 100, gen: g, want: "block-recovered"},
			{seq: 103, gen: g, want: "node-up", live: true},
		}},
		{"bad blocks of a live node are missed samples, reported once", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, live: true},
			{seq: 103, gen: g, corrupt: true, want: "bad-block", live: true},
			{seq: 104, gen: g, corrupt: true, live: true},
			{seq: 105, gen: g, corrupt: true, live: true},
			{seq: 106, gen: g, corrupt: true, want: "node-down"},
		}},
		{"a good change after bad blocks keeps a live node live", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, corrupt: true, want: "bad-block", live: true},
			{seq: 103, gen: g, corrupt: true, live: true},
			{seq: 104, gen: g, corrupt: true, live: true},
			{seq: 105, gen: g, want: "block-recovered", live: true}},
			equalRun(testThreshold-1, 105, g, true, "")...)},
		{"a block naming another node is a sample like any other, as in the kernel, reported once", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, node: 9, want: "bad-block", live: true},
			{seq: 103, gen: g, node: 9, live: true},
			{seq: 104, gen: g, node: 9, live: true},
			{seq: 105, gen: g, node: 9, live: true},
			{seq: 106, gen: g, node: 9, live: true},
			{seq: 107, gen: g, want: "block-recovered", live: true},
		}},
		{"a frozen block naming another node times out like any frozen block", append([]sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g, node: 9, want: "bad-block", live: true}},
			naming(9, equalRun(testThreshold, 102, g, true, "node-down"))...)},
		{"a node comes up on blocks naming another node, as in the kernel", []sample{
			{seq: 100, gen: g, node: 9, want: "bad-block"},
			{seq: 101, gen: g, node: 9, want: "node-up", live: true},
		}},
		{"a generation change in a block naming another node is death at once", []sample{
			{seq: 100, gen: g}, {seq: 101, gen: g, want: "node-up", live: true},
			{seq: 102, gen: g + 1, node: 9, want: "bad-block,node-down"},
		}},
		{"generation 0 never comes up, however it changes", []sample{
			{seq: 100, gen: 0}, {seq: 101, gen: 0}, {seq: 102, gen: 0}, {seq: 103, gen: 0},
			{seq: 104, gen: g, want: "node-up", live: true},
		}},
		{"a different dead_ms is reported when the node comes up", []sample{
			{seq: 100, gen: g, deadMS: 62000},
			{seq: 101, gen: g, deadMS: 62000, want: "node-up,dead-ms-mismatch", live: true},
		}},
		{"dead_ms 0 is not a mismatch", []sample{
			{seq: 100, gen: g, deadMS: 0},
			{seq: 101, gen: g, deadMS: 0, want: "node-up", live: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTracker(testThreshold, testDeadMS, []int{1, testNode})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.samples {
				sl := s.slot()
				evs := tr.Observe(nil, testNode, sl, sl.Validate(testNode))
				if got := kinds(evs); got != s.want {
					t.Fatalf("sample %d (%+v): events = %q, want %q", i, s, got, s.want)
				}
				if got := tr.Live(testNode); got != s.live {
					t.Fatalf("sample %d (%+v): Live = %v, want %v", i, s, got, s.live)
				}
			}
		})
	}
}

func TestTrackerDownReasons(t *testing.T) {
	tr, _ := NewTracker(testThreshold, testDeadMS, []int{testNode})
	feed := func(s sample) []Event {
		sl := s.slot()
		return tr.Observe(nil, testNode, sl, sl.Validate(testNode))
	}
	feed(sample{seq: 1, gen: 7})
	feed(sample{seq: 2, gen: 7})
	feed(sample{seq: 3, gen: 7})
	evs := feed(sample{seq: 4, gen: 0})
	want := Event{Kind: NodeDown, Node: testNode, Generation: 0, PrevGen: 7, Reason: DownClean}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("clean stop: events = %v, want [%v]", evs, want)
	}
	feed(sample{seq: 5, gen: 9}) // the change of the down sample counted: live again
	feed(sample{seq: 6, gen: 9})
	evs = feed(sample{seq: 7, gen: 10})
	want = Event{Kind: NodeDown, Node: testNode, Generation: 10, PrevGen: 9, Reason: DownGeneration}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("restart: events = %v, want [%v]", evs, want)
	}
}

func TestTrackerIgnoresUnconfiguredNodes(t *testing.T) {
	tr, _ := NewTracker(testThreshold, testDeadMS, []int{1})
	for seq := range uint64(5) {
		s := sample{seq: seq + 1, gen: 3}.slot()
		if evs := tr.Observe(nil, testNode, s, nil); len(evs) != 0 {
			t.Fatalf("Observe(unconfigured node) = %v, want no events", evs)
		}
	}
	if tr.Live(testNode) || len(tr.LiveNodes()) != 0 {
		t.Fatalf("unconfigured node became live: %v", tr.LiveNodes())
	}
	if evs := tr.Observe(nil, 300, nil, nil); len(evs) != 0 {
		t.Fatalf("Observe(node 300) = %v, want nothing", evs)
	}
}

func TestTrackerLiveNodesAndMissed(t *testing.T) {
	nodes := []int{0, 3, 254}
	tr, _ := NewTracker(testThreshold, testDeadMS, nodes)
	for seq := uint64(1); seq <= 2; seq++ {
		for _, n := range nodes {
			s := Slot(make([]byte, 512))
			s.Encode(Block{Seq: seq, Node: uint8(n), Generation: 1})
			tr.Observe(nil, n, s, s.Validate(n))
		}
	}
	if got := tr.LiveNodes(); !slices.Equal(got, nodes) {
		t.Fatalf("LiveNodes() = %v, want %v", got, nodes)
	}
	s := Slot(make([]byte, 512))
	s.Encode(Block{Seq: 3, Node: 3, Generation: 1})
	tr.Observe(nil, 3, s, nil) // a change: counts reset
	tr.Observe(nil, 3, s, nil)
	tr.Observe(nil, 3, s, nil)
	if got := tr.Missed(3); got != 2 {
		t.Fatalf("Missed(3) = %d, want 2", got)
	}
}

func TestNewTrackerErrors(t *testing.T) {
	for _, tc := range []struct {
		threshold int
		nodes     []int
	}{
		{2, []int{1}},
		{31, []int{255}},
		{31, []int{-1}},
	} {
		if _, err := NewTracker(tc.threshold, 0, tc.nodes); err == nil {
			t.Errorf("NewTracker(%d, %v) = nil error, want one", tc.threshold, tc.nodes)
		}
	}
}

func ExampleTracker() {
	tr, _ := NewTracker(31, 62000, []int{1, 2})
	s := Slot(make([]byte, 512))
	for seq := uint64(1); seq <= 2; seq++ {
		s.Encode(Block{Seq: 1700000000 + seq, Node: 2, Generation: 0x42, DeadMS: 62000})
		for _, e := range tr.Observe(nil, 2, s, s.Validate(2)) {
			fmt.Println(e)
		}
	}
	fmt.Println(tr.LiveNodes())
	// Output:
	// node 2 node-up (generation 0x42)
	// [2]
}

// The first read of a region seeds the tracker, as the kernel's
// o2hb_populate_slot_data: a slot written before we looked is no change,
// and a clean-stop block written just after it is one change, not a
// node coming up (the ghost the kernel-peer suite found).
func TestTrackerSeed(t *testing.T) {
	mk := func(seq, gen uint64) Slot {
		s := Slot(make([]byte, 512))
		s.Encode(Block{Seq: seq, Node: testNode, Generation: gen, DeadMS: testDeadMS})
		return s
	}
	feed := func(tr *Tracker, s Slot) string { return kinds(tr.Observe(nil, testNode, s, s.Validate(testNode))) }

	tr, _ := NewTracker(testThreshold, testDeadMS, []int{testNode})
	tr.Seed(testNode, mk(100, 7))
	if got := feed(tr, mk(100, 7)); got != "" {
		t.Fatalf("unchanged seeded slot: %q", got)
	}
	if got := feed(tr, mk(101, 0)); got != "" || tr.Live(testNode) {
		t.Fatalf("clean stop after the seed: %q live %v, want nothing", got, tr.Live(testNode))
	}
	for range 10 {
		if got := feed(tr, mk(101, 0)); got != "" || tr.Live(testNode) {
			t.Fatalf("stopped node: %q live %v", got, tr.Live(testNode))
		}
	}

	tr, _ = NewTracker(testThreshold, testDeadMS, []int{testNode})
	tr.Seed(testNode, mk(100, 7))
	if got := feed(tr, mk(101, 7)); got != "" {
		t.Fatalf("first change after the seed: %q, want none yet", got)
	}
	if got := feed(tr, mk(102, 7)); got != "node-up" {
		t.Fatalf("second change after the seed: %q, want node-up", got)
	}
	tr.Seed(300, mk(1, 1)) // out of range: ignored
}
