package ocfs2

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Byte offsets in an inode block (ocfs2_dinode), little-endian.
const (
	offInodeSignature    = 0x00 // "INODE01\0"
	offInodeSize         = 0x20 // le64 i_size
	offInodeMode         = 0x28 // le16 i_mode
	offInodeFlags        = 0x2C // le32 i_flags
	offInodeBlkno        = 0x50 // le64 i_blkno: the inode's own block
	offInodeFSGeneration = 0x60 // le32 i_fs_generation
	offInodeDynFeatures  = 0x76 // le16 i_dyn_features
	offInodeCheck        = 0x80 // i_check, ocfs2_block_check
	offInodeID2          = 0xC0 // id2 union: extent list, inline data, superblock
	offInlineData        = 0xC8 // id2.i_data.id_data, after le16 id_count and padding

	inodeFlagValid     = 0x0001 // OCFS2_VALID_FL
	inodeFlagHeartbeat = 0x0200 // OCFS2_HEARTBEAT_FL
	dynInlineData      = 0x0001 // OCFS2_INLINE_DATA_FL
	modeTypeMask       = 0o170000
	modeDir            = 0o040000
)

const inodeSignature = "INODE01\x00"

// Extent lists (ocfs2_extent_list) and extent blocks (ocfs2_extent_block).
const (
	extentListHeader = 0x10 // l_tree_depth, l_count, l_next_free_rec, padding
	extentRecSize    = 0x10 // e_cpos le32, clusters (le16 leaf / le32 interior), e_blkno le64
	maxTreeDepth     = 5    // OCFS2_MAX_PATH_DEPTH

	offEBSignature    = 0x00 // "EXBLK01\0"
	offEBCheck        = 0x08 // h_check, ocfs2_block_check
	offEBFSGeneration = 0x14 // le32 h_fs_generation
	offEBBlkno        = 0x18 // le64 h_blkno
	offEBList         = 0x30 // h_list

	// maxExtentBlocks bounds the extent blocks one walk reads: far more
	// than a system directory ever has, few enough to stop a corrupt tree.
	maxExtentBlocks = 1024
)

const extentBlockSignature = "EXBLK01\x00"

// volume reads the blocks of one OCFS2 volume.
type volume struct {
	r    io.ReaderAt
	size int64
	sb   *Superblock
}

// blocks returns the number of whole filesystem blocks the device holds.
func (v *volume) blocks() uint64 { return uint64(v.size) >> v.sb.blockBits }

// readBlock reads filesystem block blkno; what names it in errors.
func (v *volume) readBlock(blkno uint64, what string) ([]byte, error) {
	if blkno >= v.blocks() {
		return nil, fmt.Errorf("%w: %s at block %d lies beyond the end of the device (%d blocks of %d bytes)",
			ErrTruncated, what, blkno, v.blocks(), v.sb.BlockSize)
	}
	b := make([]byte, v.sb.BlockSize)
	off := int64(blkno) << v.sb.blockBits
	if _, err := v.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading %s at block %d (byte %d): %w", what, blkno, off, err)
	}
	return b, nil
}

// inode is one inode block.
type inode []byte

func (in inode) size() uint64         { return binary.LittleEndian.Uint64(in[offInodeSize:]) }
func (in inode) mode() uint16         { return binary.LittleEndian.Uint16(in[offInodeMode:]) }
func (in inode) flags() uint32        { return binary.LittleEndian.Uint32(in[offInodeFlags:]) }
func (in inode) dynFeatures() uint16  { return binary.LittleEndian.Uint16(in[offInodeDynFeatures:]) }
func (in inode) inlineData() bool     { return in.dynFeatures()&dynInlineData != 0 }
func (in inode) blkno() uint64        { return binary.LittleEndian.Uint64(in[offInodeBlkno:]) }
func (in inode) fsGeneration() uint32 { return binary.LittleEndian.Uint32(in[offInodeFSGeneration:]) }

// readInode reads and checks the inode at blkno: its signature, that it
// names its own block, belongs to this volume and is in use.
func (v *volume) readInode(blkno uint64, what string) (inode, error) {
	b, err := v.readBlock(blkno, what)
	if err != nil {
		return nil, err
	}
	in := inode(b)
	if sig := string(b[offInodeSignature : offInodeSignature+len(inodeSignature)]); sig != inodeSignature {
		return nil, fmt.Errorf("%w: %s at block %d: signature %q, want %q", ErrBadInode, what, blkno, sig, inodeSignature)
	}
	if err := v.sb.checkMetaECC(b, offInodeCheck); err != nil {
		return nil, fmt.Errorf("%s at block %d: %w", what, blkno, err)
	}
	if n := in.blkno(); n != blkno {
		return nil, fmt.Errorf("%w: %s at block %d: i_blkno is %d", ErrBadInode, what, blkno, n)
	}
	if g := in.fsGeneration(); g != v.sb.FSGeneration {
		return nil, fmt.Errorf("%w: %s at block %d: i_fs_generation %#x, want the superblock's %#x",
			ErrBadInode, what, blkno, g, v.sb.FSGeneration)
	}
	if in.flags()&inodeFlagValid == 0 {
		return nil, fmt.Errorf("%w: %s at block %d: not flagged valid (i_flags %#x)", ErrBadInode, what, blkno, in.flags())
	}
	return in, nil
}

// extentRec is one record of an extent list. Clusters is e_leaf_clusters
// in a leaf (depth 0) and e_int_clusters in an interior node.
type extentRec struct {
	Cpos     uint32 // first logical cluster
	Clusters uint32
	Blkno    uint64 // first physical block (leaf) or the child extent block
}

// extentList is a decoded ocfs2_extent_list.
type extentList struct {
	Depth int
	Recs  []extentRec // the used records, l_next_free_rec of them
}

// parseExtentList decodes the extent list at byte off of block b. It
// checks the counts against the room the block has; what names the list.
func parseExtentList(b []byte, off int, what string) (extentList, error) {
	le := binary.LittleEndian
	if off+extentListHeader > len(b) {
		return extentList{}, fmt.Errorf("%w: %s: list header at byte %d does not fit a %d-byte block",
			ErrBadExtentList, what, off, len(b))
	}
	depth := int(le.Uint16(b[off:]))
	count := int(le.Uint16(b[off+2:]))
	next := int(le.Uint16(b[off+4:]))
	room := (len(b) - off - extentListHeader) / extentRecSize
	switch {
	case depth > maxTreeDepth:
		return extentList{}, fmt.Errorf("%w: %s: l_tree_depth %d, at most %d", ErrBadExtentList, what, depth, maxTreeDepth)
	case count == 0 || count > room:
		return extentList{}, fmt.Errorf("%w: %s: l_count %d, want 1 to %d for %d-byte blocks",
			ErrBadExtentList, what, count, room, len(b))
	case next > count:
		return extentList{}, fmt.Errorf("%w: %s: l_next_free_rec %d exceeds l_count %d", ErrBadExtentList, what, next, count)
	}
	l := extentList{Depth: depth, Recs: make([]extentRec, next)}
	for i := range l.Recs {
		p := off + extentListHeader + i*extentRecSize
		r := extentRec{Cpos: le.Uint32(b[p:]), Blkno: le.Uint64(b[p+8:])}
		if depth == 0 {
			r.Clusters = uint32(le.Uint16(b[p+4:]))
		} else {
			r.Clusters = le.Uint32(b[p+4:])
		}
		l.Recs[i] = r
	}
	return l, nil
}

// leafExtents returns the leaf records of the extent tree rooted at the
// list l, reading extent blocks as needed. Each level must be one less
// deep than its parent, so the walk ends; maxExtentBlocks bounds its width.
func (v *volume) leafExtents(l extentList, what string) ([]extentRec, error) {
	var leaves []extentRec
	read := 0
	var walk func(l extentList, what string) error
	walk = func(l extentList, what string) error {
		if l.Depth == 0 {
			leaves = append(leaves, l.Recs...)
			return nil
		}
		for i, r := range l.Recs {
			read++
			if read > maxExtentBlocks {
				return fmt.Errorf("%w: %s: more than %d extent blocks", ErrBadExtentList, what, maxExtentBlocks)
			}
			childWhat := fmt.Sprintf("%s, extent block %d (record %d at depth %d)", what, r.Blkno, i, l.Depth)
			child, err := v.readExtentBlock(r.Blkno, childWhat)
			if err != nil {
				return err
			}
			if child.Depth != l.Depth-1 {
				return fmt.Errorf("%w: %s: l_tree_depth %d, want %d", ErrBadExtentList, childWhat, child.Depth, l.Depth-1)
			}
			if err := walk(child, childWhat); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(l, what); err != nil {
		return nil, err
	}
	return leaves, nil
}

// readExtentBlock reads and checks the extent block at blkno and returns
// its list.
func (v *volume) readExtentBlock(blkno uint64, what string) (extentList, error) {
	b, err := v.readBlock(blkno, what)
	if err != nil {
		return extentList{}, err
	}
	le := binary.LittleEndian
	if sig := string(b[offEBSignature : offEBSignature+len(extentBlockSignature)]); sig != extentBlockSignature {
		return extentList{}, fmt.Errorf("%w: %s: signature %q, want %q", ErrBadExtentList, what, sig, extentBlockSignature)
	}
	if err := v.sb.checkMetaECC(b, offEBCheck); err != nil {
		return extentList{}, fmt.Errorf("%s: %w", what, err)
	}
	if n := le.Uint64(b[offEBBlkno:]); n != blkno {
		return extentList{}, fmt.Errorf("%w: %s: h_blkno is %d", ErrBadExtentList, what, n)
	}
	if g := le.Uint32(b[offEBFSGeneration:]); g != v.sb.FSGeneration {
		return extentList{}, fmt.Errorf("%w: %s: h_fs_generation %#x, want the superblock's %#x",
			ErrBadExtentList, what, g, v.sb.FSGeneration)
	}
	return parseExtentList(b, offEBList, what)
}
