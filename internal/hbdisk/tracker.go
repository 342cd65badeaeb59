package hbdisk

import (
	"errors"
	"fmt"
)

// LiveThreshold is the number of changed samples that make a node live
// (the kernel's O2HB_LIVE_THRESHOLD).
const LiveThreshold = 2

// EventKind says what a tracker event reports.
type EventKind int

// Event kinds, in the order a node usually meets them.
const (
	NodeUp         EventKind = iota + 1 // the node became live in this region
	NodeDown                            // the node is dead in this region
	BadBlock                            // the slot stopped validating (logged once)
	BlockRecovered                      // the slot validates again
	DeadMSMismatch                      // a node became live with another dead_ms than ours
)

func (k EventKind) String() string {
	switch k {
	case NodeUp:
		return "node-up"
	case NodeDown:
		return "node-down"
	case BadBlock:
		return "bad-block"
	case BlockRecovered:
		return "block-recovered"
	case DeadMSMismatch:
		return "dead-ms-mismatch"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Why a node went down.
const (
	DownTimeout    = "missed heartbeats" // dead_threshold consecutive equal samples
	DownGeneration = "generation changed"
	DownClean      = "stopped cleanly" // generation changed to 0: explicit down
)

// Event is one transition the tracker reports.
type Event struct {
	Kind       EventKind
	Node       int
	Generation uint64 // the slot's generation when the event happened
	PrevGen    uint64 // NodeDown on a generation change: the generation before
	DeadMS     uint32 // DeadMSMismatch: the node's dead_ms
	Reason     string // NodeDown: DownTimeout, DownGeneration or DownClean; BadBlock: the error
}

func (e Event) String() string {
	switch e.Kind {
	case NodeDown:
		return fmt.Sprintf("node %d down (%s, generation %#x)", e.Node, e.Reason, e.Generation)
	case BadBlock:
		return fmt.Sprintf("node %d slot unreadable: %s", e.Node, e.Reason)
	case DeadMSMismatch:
		return fmt.Sprintf("node %d has dead_ms %d", e.Node, e.DeadMS)
	}
	return fmt.Sprintf("node %d %s (generation %#x)", e.Node, e.Kind, e.Generation)
}

// slotState is the tracker's memory of one slot, as the kernel keeps it
// in struct o2hb_disk_slot.
type slotState struct {
	lastSeq    uint64
	lastGen    uint64
	changed    int
	equal      int
	live       bool
	bad        bool // the last sample did not validate
	configured bool
}

// Tracker decides which nodes are live in one region from successive
// samples of their slots, with the kernel's rules (o2hb_check_slot):
//
//   - a sample is changed when hb_seq differs from the last good sample,
//     else equal; the region's first read seeds every slot (Seed) without
//     counting, as the kernel's o2hb_populate_slot_data does;
//   - a node that is not live becomes live once it has LiveThreshold
//     changed samples, unless its block has generation 0 (a clean stop:
//     the kernel never runs with generation 0);
//   - a live node is dead after deadThreshold consecutive equal samples,
//     or at once when its generation changes; any changed sample of a
//     live node resets both counts;
//   - a slot that does not validate is ignored while its node is not live
//     and counts as one equal sample while it is; but a block with a good
//     checksum that names another node (ErrSlotOwner) is a sample like
//     any other, counted by its seq and generation: the kernel never
//     looks at hb_node in a peer's slot, and every node must agree on
//     who is live. Either is reported once, when the slot stops
//     validating (BadBlock), and once when it validates again.
//
// Like the kernel, the changed count is not cleared when a node comes up,
// so the first equal sample after that is forgiven. Unlike the kernel, a
// node that dies by a generation change keeps at most that sample's
// change towards coming back.
//
// It has no clock and no goroutine: the region loop feeds it one sample
// per slot per iteration, and tests drive it by hand.
type Tracker struct {
	deadThreshold int
	deadMS        uint32
	slots         [MaxNodes]slotState
}

// NewTracker returns a tracker for the configured node numbers. deadMS is
// our own dead_ms, compared with a peer's when it becomes live.
func NewTracker(deadThreshold int, deadMS uint32, nodes []int) (*Tracker, error) {
	if deadThreshold < MinDeadThreshold {
		return nil, fmt.Errorf("dead threshold %d is below the minimum %d", deadThreshold, MinDeadThreshold)
	}
	t := &Tracker{deadThreshold: deadThreshold, deadMS: deadMS}
	for _, n := range nodes {
		if n < 0 || n >= MaxNodes {
			return nil, fmt.Errorf("node number %d is outside 0..%d", n, MaxNodes-1)
		}
		t.slots[n].configured = true
	}
	return t, nil
}

// Seed takes a slot's content as the starting point of its node, without
// counting a change and without checking it, as the kernel does with the
// first read of a region: a slot written before we looked is not news.
func (t *Tracker) Seed(node int, s Slot) {
	if node < 0 || node >= MaxNodes || !t.slots[node].configured || len(s) < headerBytes {
		return
	}
	t.slots[node].lastSeq, t.slots[node].lastGen = s.Seq(), s.Generation()
}

// Observe feeds one sample of node's slot; err is the slot's Validate
// result. It returns the events the sample causes, appended to evs.
// Samples of nodes that are not configured are ignored, as the kernel
// ignores slots of nodes it does not know.
func (t *Tracker) Observe(evs []Event, node int, s Slot, err error) []Event {
	if node < 0 || node >= MaxNodes || !t.slots[node].configured {
		return evs
	}
	st := &t.slots[node]
	genChanged := false
	switch {
	case err != nil && !st.bad:
		st.bad = true
		evs = append(evs, Event{Kind: BadBlock, Node: node, Generation: st.lastGen, Reason: err.Error()})
	case err == nil && st.bad:
		st.bad = false
		evs = append(evs, Event{Kind: BlockRecovered, Node: node, Generation: s.Generation()})
	}
	if err != nil && !errors.Is(err, ErrSlotOwner) {
		if !st.live {
			return evs
		}
		// A live node that wrote a bad block: a transient miss; none
		// of the block's fields are trusted.
		st.equal++
	} else {
		// A good block, or one whose checksum is good but that names
		// another node: counted by its seq and generation.
		seq, gen := s.Seq(), s.Generation()
		if seq != st.lastSeq {
			st.changed++
		} else {
			st.equal++
		}
		st.lastSeq = seq
		prevGen := st.lastGen
		if gen != prevGen {
			genChanged = true
			st.equal = 0
		}
		st.lastGen = gen
		if !st.live && st.changed >= LiveThreshold && gen != 0 {
			st.live = true
			st.equal = 0
			evs = append(evs, Event{Kind: NodeUp, Node: node, Generation: gen})
			if dm := s.DeadMS(); dm != 0 && dm != t.deadMS {
				evs = append(evs, Event{Kind: DeadMSMismatch, Node: node, Generation: gen, DeadMS: dm})
			}
			return evs
		}
		if st.live && genChanged {
			reason := DownGeneration
			if gen == 0 {
				reason = DownClean
			}
			// The node is writing, so this sample's change counts
			// towards its coming back (the kernel keeps the whole
			// count; where a node went down on the sample right after
			// coming up, that count would bring it back as a ghost).
			st.live = false
			st.changed = min(st.changed, 1)
			return append(evs, Event{Kind: NodeDown, Node: node, Generation: gen, PrevGen: prevGen, Reason: reason})
		}
	}
	if !st.live {
		return evs
	}
	if st.equal >= t.deadThreshold {
		st.live = false
		st.changed = 0
		return append(evs, Event{Kind: NodeDown, Node: node, Generation: st.lastGen, Reason: DownTimeout})
	}
	if st.changed > 0 {
		st.changed, st.equal = 0, 0
	}
	return evs
}

// Configured reports whether node is one the tracker follows.
func (t *Tracker) Configured(node int) bool {
	return node >= 0 && node < MaxNodes && t.slots[node].configured
}

// Live reports whether node is live in this region.
func (t *Tracker) Live(node int) bool {
	return node >= 0 && node < MaxNodes && t.slots[node].live
}

// LiveNodes returns the live node numbers in increasing order.
func (t *Tracker) LiveNodes() []int {
	var out []int
	for n := range t.slots {
		if t.slots[n].live {
			out = append(out, n)
		}
	}
	return out
}

// Missed returns how many consecutive equal samples node has now: how
// close a live node is to being declared dead.
func (t *Tracker) Missed(node int) int {
	if node < 0 || node >= MaxNodes {
		return 0
	}
	return t.slots[node].equal
}
