package hbdisk

import "fmt"

// Geometry places a region's slots on its device.
type Geometry struct {
	BlockBytes int    // slot size: the device's logical sector size
	StartBlock uint64 // first slot, in BlockBytes units
	Blocks     int    // number of slots (255 for OCFS2)
}

// SlotOffset returns the byte offset of node's slot.
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

// Extent is a byte range of the device, [Offset, Offset+Bytes).
type Extent struct{ Offset, Bytes int64 }

func (e Extent) contains(off, n int64) bool {
	return off >= e.Offset && n >= 0 && off+n <= e.Offset+e.Bytes
}
