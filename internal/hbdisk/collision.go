package hbdisk

import (
	"errors"
	"fmt"
)

// checkOwn compares our slot as just read with what we wrote last. A
// block of ours that is older than the last one we wrote is no other
// writer (the generation is ours) but a device returning stale data:
// stale, not a collision. The kernel only logs either; we stop on a
// collision (DESIGN) and feed a stale read to the tracker like any read,
// so that our own slot, unchanged, takes us out of the region's live
// nodes after the dead threshold.
func (r *Region) checkOwn() (stale bool, collision error) {
	bb := r.cfg.Geometry.BlockBytes
	i := r.cfg.Node - r.lo
	got := Slot(r.rbuf[i*bb : (i+1)*bb])
	if got.Generation() == r.gen && int(got.Node()) == r.cfg.Node && got.Validate(r.cfg.Node) == nil {
		switch {
		case got.Seq() == r.lastSeq || got.Seq() == r.tried:
			return false, nil
		case got.Seq() < r.lastSeq:
			return true, nil
		}
	}
	return false, r.collisionError(got)
}

// collisionError says what another writer left in our slot. It leads
// with both generations in short form (8 hex digits), so that an exit
// reason, of which Pacemaker keeps 128 characters, names them; the full
// values follow for the log.
func (r *Region) collisionError(got Slot) error {
	short := func(g uint64) string { return fmt.Sprintf("%016x", g)[:8] }
	var what string
	switch {
	case errors.Is(got.Validate(r.cfg.Node), ErrChecksum):
		what = fmt.Sprintf("bad checksum in our slot (gen %s), ours %s", short(got.Generation()), short(r.gen))
	case int(got.Node()) != r.cfg.Node:
		what = fmt.Sprintf("node %d gen %s in our slot, ours %s", got.Node(), short(got.Generation()), short(r.gen))
	case got.Generation() != r.gen:
		what = fmt.Sprintf("gen %s in our slot, ours %s", short(got.Generation()), short(r.gen))
	default:
		what = fmt.Sprintf("seq %d in our slot, we wrote %d (gen %s)", got.Seq(), r.lastSeq, short(r.gen))
	}
	return regionErrorf(r.cfg.UUID, "%s: %w; on %s we wrote seq %d generation %#x, found seq %d generation %#x node %d",
		what, ErrCollision, r.cfg.Device, r.lastSeq, r.gen, got.Seq(), got.Generation(), got.Node())
}
