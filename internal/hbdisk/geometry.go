package hbdisk

import (
	"fmt"
	"math"
)

// Geometry places a region's slots on its device: the kernel's
// block_bytes, start_block and blocks.
type Geometry struct {
	BlockBytes int    // slot size: the device's logical sector size
	StartBlock uint64 // first slot, in BlockBytes units from the device start
	Blocks     int    // number of slots (MaxNodes for OCFS2)
}

// SlotOffset returns the byte offset of node's slot on the device.
func (g Geometry) SlotOffset(node int) int64 {
	return int64(g.StartBlock+uint64(node)) * int64(g.BlockBytes)
}

func (g Geometry) validate() error {
	if !ValidSlotSize(g.BlockBytes) {
		return fmt.Errorf("block size %d: %w", g.BlockBytes, ErrSlotSize)
	}
	if g.Blocks < 1 || g.Blocks > MaxNodes {
		return fmt.Errorf("%d blocks: must be 1 to %d", g.Blocks, MaxNodes)
	}
	if g.StartBlock > (1<<62)/uint64(g.BlockBytes) {
		return fmt.Errorf("start block %d is beyond any device", g.StartBlock)
	}
	return nil
}

// Slots returns the bytes that g's slots take on the device.
func (g Geometry) Slots() Extent {
	return Extent{Offset: g.SlotOffset(0), Bytes: int64(g.Blocks) * int64(g.BlockBytes)}
}

// WriteInside reports whether the n bytes at off lie inside g's slots
// and, unless extent is the zero Extent, inside extent too (for OCFS2, the
// heartbeat file's extent). Every heartbeat write is checked with it
// first: a heartbeat that scribbles on data is the worst bug there is.
func (g Geometry) WriteInside(extent Extent, off, n int64) bool {
	return g.Slots().Contains(off, n) && (extent == Extent{} || extent.Contains(off, n))
}

// Extent is a byte range of the device, [Offset, Offset+Bytes).
type Extent struct{ Offset, Bytes int64 }

// Contains reports whether the n bytes at off, n > 0, lie inside e. An
// extent or a range that starts below 0 or ends past the largest int64
// contains nothing: no sum here can overflow.
func (e Extent) Contains(off, n int64) bool {
	if n <= 0 || e.Offset < 0 || off < e.Offset || e.Bytes < n || e.Bytes > math.MaxInt64-e.Offset {
		return false
	}
	return off-e.Offset <= e.Bytes-n
}
