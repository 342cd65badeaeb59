package ocfs2

import (
	"fmt"
	"io"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Geometry is a heartbeat region as o2hb (the kernel) and libocfs2 see it:
// its slots (BlockBytes is the device's logical sector size, Blocks is
// hbdisk.MaxNodes) and the heartbeat file's extent that holds them.
// Before every write, heartbeat I/O checks
// g.WriteInside(g.Extent, off, n).
type Geometry struct {
	hbdisk.Geometry
	// Extent is the heartbeat file's extent on the device, in bytes. The
	// slots lie at its start.
	Extent hbdisk.Extent
}

// HeartbeatGeometry finds the heartbeat region of the volume whose
// superblock is sb, on a device of size bytes with sectorSize-byte
// logical sectors (512 for an image file). It looks up "heartbeat" in the
// system directory (inline or in extents, with or without block
// trailers) and computes the region as libocfs2's ocfs2_fill_heartbeat_desc
// does: the file must be one extent at depth 0 of at least 255 filesystem
// blocks, and the region is its first 255 sectors.
func HeartbeatGeometry(r io.ReaderAt, size int64, sb *Superblock, sectorSize int) (Geometry, error) {
	if sectorSize < minBlockSize || sectorSize > maxBlockSize || sectorSize&(sectorSize-1) != 0 {
		return Geometry{}, fmt.Errorf("%w: %d bytes, want a power of two from 512 to 4096", ErrSectorSize, sectorSize)
	}
	if sb.BlockSize < sectorSize {
		return Geometry{}, fmt.Errorf("%w: the filesystem's %d-byte blocks are smaller than the device's %d-byte sectors",
			ErrSectorSize, sb.BlockSize, sectorSize)
	}
	if sb.blockBits == 0 || sb.clusterBits < sb.blockBits {
		return Geometry{}, fmt.Errorf("%w: superblock not read by ReadSuperblock", ErrBadSuperblock)
	}
	v := &volume{r: r, size: size, sb: sb}
	blkno, err := v.lookup(sb.SystemDirBlkno, heartbeatFileName, "system directory")
	if err != nil {
		return Geometry{}, err
	}
	what := fmt.Sprintf("heartbeat file inode at block %d", blkno)
	in, err := v.readInode(blkno, "heartbeat file inode")
	if err != nil {
		return Geometry{}, err
	}
	if in.flags()&inodeFlagHeartbeat == 0 {
		return Geometry{}, fmt.Errorf("%w: %s is not flagged as the heartbeat area (i_flags %#x)",
			ErrBadHeartbeatFile, what, in.flags())
	}
	if in.inlineData() {
		return Geometry{}, fmt.Errorf("%w: %s holds inline data, not an extent", ErrBadHeartbeatFile, what)
	}
	list, err := parseExtentList(in, offInodeID2, what)
	if err != nil {
		return Geometry{}, err
	}
	if list.Depth != 0 {
		return Geometry{}, fmt.Errorf("%w: %s: extent tree depth %d, want 0", ErrBadHeartbeatFile, what, list.Depth)
	}
	if len(list.Recs) != 1 {
		return Geometry{}, fmt.Errorf("%w: %s has %d extents, want exactly 1", ErrBadHeartbeatFile, what, len(list.Recs))
	}
	rec := list.Recs[0]
	if rec.Cpos != 0 {
		return Geometry{}, fmt.Errorf("%w: %s: its extent starts at cluster %d of the file, want 0",
			ErrBadHeartbeatFile, what, rec.Cpos)
	}
	fsBlocks := uint64(rec.Clusters) << (sb.clusterBits - sb.blockBits)
	if fsBlocks < hbdisk.MaxNodes {
		return Geometry{}, fmt.Errorf("%w: %s: its extent holds %d blocks (%d clusters), want at least %d",
			ErrBadHeartbeatFile, what, fsBlocks, rec.Clusters, hbdisk.MaxNodes)
	}
	if rec.Blkno <= superBlockBlkno {
		return Geometry{}, fmt.Errorf("%w: %s: its extent starts at block %d, inside the volume header",
			ErrBadHeartbeatFile, what, rec.Blkno)
	}
	devBlocks := v.blocks()
	if rec.Blkno >= devBlocks || fsBlocks > devBlocks-rec.Blkno {
		return Geometry{}, fmt.Errorf("%w: %s: its extent, blocks %d to %d, lies beyond the end of the device (%d blocks of %d bytes)",
			ErrTruncated, what, rec.Blkno, rec.Blkno+fsBlocks-1, devBlocks, sb.BlockSize)
	}
	off := int64(rec.Blkno) << sb.blockBits
	g := Geometry{
		Geometry: hbdisk.Geometry{BlockBytes: sectorSize, StartBlock: uint64(off) / uint64(sectorSize), Blocks: hbdisk.MaxNodes},
		Extent:   hbdisk.Extent{Offset: off, Bytes: int64(fsBlocks) << sb.blockBits},
	}
	if slots := g.Slots(); !g.WriteInside(g.Extent, slots.Offset, slots.Bytes) {
		return Geometry{}, fmt.Errorf("%w: %s: %d slots of %d bytes at block %d do not fit its extent of %d bytes",
			ErrBadHeartbeatFile, what, g.Blocks, g.BlockBytes, g.StartBlock, g.Extent.Bytes)
	}
	return g, nil
}
