package hbdisk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the o2hb disk heartbeat block, little-endian.
const (
	offSeq        = 0  // le64 wall-clock seconds
	offNode       = 8  // u8 writer's node number
	offCksum      = 12 // le32 crc32_le(0, slot) with this field zero
	offGeneration = 16 // le64 random per region start; 0 in a clean-stop block
	offDeadMS     = 24 // le32 dead_threshold * 2000
	headerBytes   = 28 // bytes the kernel fills; the rest of the slot is zero
)

// Errors of Slot.Validate; callers test them with errors.Is.
var (
	ErrSlotSize  = errors.New("slot size is not 512 to 4096 bytes, a power of two")
	ErrChecksum  = errors.New("slot checksum mismatch")
	ErrSlotOwner = errors.New("slot holds another node's block")
)

// Block is the content of one heartbeat slot.
type Block struct {
	Seq        uint64 // wall-clock seconds at the write (ours: strictly increasing)
	Node       uint8  // the writer's node number
	Checksum   uint32 // as stored; set by Encode
	Generation uint64 // random per region start; 0 means "stopped cleanly"
	DeadMS     uint32 // the writer's dead threshold in milliseconds
}

// Slot is one slot of a heartbeat region: a device sector of 512 to 4096
// bytes holding a Block in its first 28 bytes, and zeros.
type Slot []byte

// ValidSlotSize reports whether n bytes can hold a slot: a power of two
// from 512 to 4096, the logical sector sizes o2hb accepts.
func ValidSlotSize(n int) bool {
	return n >= 512 && n <= 4096 && n&(n-1) == 0
}

// Seq returns the stored sequence number.
func (s Slot) Seq() uint64 { return binary.LittleEndian.Uint64(s[offSeq:]) }

// Node returns the stored node number.
func (s Slot) Node() uint8 { return s[offNode] }

// StoredChecksum returns the checksum field as stored.
func (s Slot) StoredChecksum() uint32 { return binary.LittleEndian.Uint32(s[offCksum:]) }

// Generation returns the stored generation.
func (s Slot) Generation() uint64 { return binary.LittleEndian.Uint64(s[offGeneration:]) }

// DeadMS returns the stored dead threshold in milliseconds.
func (s Slot) DeadMS() uint32 { return binary.LittleEndian.Uint32(s[offDeadMS:]) }

// Block decodes the slot's fields without checking them.
func (s Slot) Block() Block {
	return Block{
		Seq:        s.Seq(),
		Node:       s.Node(),
		Checksum:   s.StoredChecksum(),
		Generation: s.Generation(),
		DeadMS:     s.DeadMS(),
	}
}

var zero4 [4]byte

// Checksum computes the slot's checksum as the kernel does: crc32_le with
// seed 0 and no final inversion over the whole slot, the checksum field
// counted as zero.
func (s Slot) Checksum() uint32 {
	c := crc32.Update(0xffffffff, crc32.IEEETable, s[:offCksum])
	c = crc32.Update(c, crc32.IEEETable, zero4[:])
	c = crc32.Update(c, crc32.IEEETable, s[offCksum+4:])
	return ^c
}

// Encode writes b into the slot in place: zeroes the slot, fills the
// fields and sets the checksum (b.Checksum is ignored).
func (s Slot) Encode(b Block) {
	clear(s)
	binary.LittleEndian.PutUint64(s[offSeq:], b.Seq)
	s[offNode] = b.Node
	binary.LittleEndian.PutUint64(s[offGeneration:], b.Generation)
	binary.LittleEndian.PutUint32(s[offDeadMS:], b.DeadMS)
	binary.LittleEndian.PutUint32(s[offCksum:], s.Checksum())
}

// Validate checks a slot read from slot number node: its size, its
// checksum, then that the block names node as its writer. A freshly
// formatted (all-zero) slot of node 0 is valid: its checksum is zero.
func (s Slot) Validate(node int) error {
	if !ValidSlotSize(len(s)) {
		return fmt.Errorf("%w: %d", ErrSlotSize, len(s))
	}
	if got, want := s.StoredChecksum(), s.Checksum(); got != want {
		return fmt.Errorf("%w: stored %#08x, computed %#08x", ErrChecksum, got, want)
	}
	if int(s.Node()) != node && !s.isBlank() {
		return fmt.Errorf("%w: slot %d names node %d", ErrSlotOwner, node, s.Node())
	}
	return nil
}

// isBlank reports a never-written slot: all header fields zero.
func (s Slot) isBlank() bool {
	return s.Seq() == 0 && s.Node() == 0 && s.Generation() == 0 && s.DeadMS() == 0
}

func (b Block) String() string {
	return fmt.Sprintf("node %d seq %d generation %#016x dead_ms %d checksum %#08x",
		b.Node, b.Seq, b.Generation, b.DeadMS, b.Checksum)
}
