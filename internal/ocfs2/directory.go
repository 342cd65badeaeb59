package ocfs2

import (
	"encoding/binary"
	"fmt"
)

// Directory entries (ocfs2_dir_entry) and the block trailer
// (ocfs2_dir_block_trailer) that volumes with meta-ecc or indexed-dirs
// put in the last 64 bytes of every directory block.
const (
	dirEntryHeader = 12 // le64 inode, le16 rec_len, u8 name_len, u8 file_type
	dirPad         = 4  // rec_len is a multiple of this

	dirTrailerSize         = 64
	offDirTrailerSignature = 0x10 // "DIRTRL1\0" from the trailer's start
	offDirTrailerCheck     = 0x38 // db_check (the header's /*30*/ comment is off by 8)

	// maxSystemDirBytes bounds the system directory we read. A volume of
	// 255 slots needs well under 1 MiB.
	maxSystemDirBytes = 16 << 20
)

const dirTrailerSignature = "DIRTRL1\x00"

// heartbeatFileName is the system file holding the heartbeat area; it
// has no per-slot suffix.
const heartbeatFileName = "heartbeat"

// findDirEntry scans the directory entries packed in data (one directory
// block without its trailer, or an inline directory) for name and
// returns the entry's inode block. Entries with inode 0 are unused. It
// checks every rec_len as it goes, so a corrupt block gives an error
// naming the byte offset, never a read outside data.
func findDirEntry(data []byte, name string) (blkno uint64, found bool, err error) {
	le := binary.LittleEndian
	for off := 0; off < len(data); {
		if len(data)-off < dirEntryHeader {
			return 0, false, fmt.Errorf("%w: entry at byte %d: %d bytes left, an entry needs %d",
				ErrBadDirectory, off, len(data)-off, dirEntryHeader)
		}
		ino := le.Uint64(data[off:])
		recLen := int(le.Uint16(data[off+8:]))
		nameLen := int(data[off+10])
		switch {
		case recLen < dirEntryHeader:
			return 0, false, fmt.Errorf("%w: entry at byte %d: rec_len %d is shorter than an entry header",
				ErrBadDirectory, off, recLen)
		case recLen%dirPad != 0:
			return 0, false, fmt.Errorf("%w: entry at byte %d: rec_len %d is not a multiple of %d",
				ErrBadDirectory, off, recLen, dirPad)
		case recLen > len(data)-off:
			return 0, false, fmt.Errorf("%w: entry at byte %d: rec_len %d runs past the end of the block (%d bytes)",
				ErrBadDirectory, off, recLen, len(data))
		case dirEntryHeader+nameLen > recLen:
			return 0, false, fmt.Errorf("%w: entry at byte %d: name_len %d does not fit rec_len %d",
				ErrBadDirectory, off, nameLen, recLen)
		}
		if ino != 0 && string(data[off+dirEntryHeader:off+dirEntryHeader+nameLen]) == name {
			return ino, true, nil
		}
		off += recLen
	}
	return 0, false, nil
}

// hasDirTrailer reports whether the volume's directory blocks end in a
// trailer: with meta-ecc or indexed-dirs, for directories not inline.
func (sb *Superblock) hasDirTrailer() bool {
	return sb.FeatureIncompat&(IncompatMetaECC|IncompatIndexedDirs) != 0
}

// lookup finds name in the directory whose inode is at dirBlkno and
// returns the entry's inode block. what names the directory in errors.
func (v *volume) lookup(dirBlkno uint64, name, what string) (uint64, error) {
	dir, err := v.readInode(dirBlkno, what)
	if err != nil {
		return 0, err
	}
	if m := dir.mode(); m&modeTypeMask != modeDir {
		return 0, fmt.Errorf("%w: %s at block %d is not a directory (i_mode %#o)", ErrBadInode, what, dirBlkno, m)
	}
	size := dir.size()
	if size > maxSystemDirBytes || size > uint64(v.size) {
		return 0, fmt.Errorf("%w: %s at block %d: i_size %d is larger than the %d bytes a system directory can have",
			ErrBadInode, what, dirBlkno, size, min(uint64(maxSystemDirBytes), uint64(v.size)))
	}
	if dir.inlineData() {
		count := uint64(binary.LittleEndian.Uint16(dir[offInodeID2:]))
		if offInlineData+count > uint64(len(dir)) {
			return 0, fmt.Errorf("%w: %s at block %d: inline id_count %d does not fit a %d-byte block",
				ErrBadInode, what, dirBlkno, count, len(dir))
		}
		if size > count {
			return 0, fmt.Errorf("%w: %s at block %d: i_size %d exceeds inline id_count %d",
				ErrBadInode, what, dirBlkno, size, count)
		}
		blkno, found, err := findDirEntry(dir[offInlineData:offInlineData+size], name)
		if err != nil {
			return 0, fmt.Errorf("%s at block %d, inline data: %w", what, dirBlkno, err)
		}
		if !found {
			return 0, fmt.Errorf("%w: no entry %q in %s at block %d (inline, %d bytes)",
				ErrNoHeartbeatFile, name, what, dirBlkno, size)
		}
		return blkno, nil
	}

	list, err := parseExtentList(dir, offInodeID2, fmt.Sprintf("%s at block %d", what, dirBlkno))
	if err != nil {
		return 0, err
	}
	leaves, err := v.leafExtents(list, fmt.Sprintf("%s at block %d", what, dirBlkno))
	if err != nil {
		return 0, err
	}
	bs := uint64(v.sb.BlockSize)
	dirBlocks := (size + bs - 1) / bs
	perCluster := uint64(1) << (v.sb.clusterBits - v.sb.blockBits)
	data := v.sb.BlockSize
	if v.sb.hasDirTrailer() {
		data -= dirTrailerSize
	}
	searched := uint64(0)
	for _, r := range leaves {
		first := uint64(r.Cpos) * perCluster // logical block of the record's start
		for i := uint64(0); i < uint64(r.Clusters)*perCluster && first+i < dirBlocks; i++ {
			if r.Blkno+i < r.Blkno { // wrapped around
				return 0, fmt.Errorf("%w: %s at block %d: extent at block %d overflows", ErrBadExtentList, what, dirBlkno, r.Blkno)
			}
			blkno := r.Blkno + i
			blockWhat := fmt.Sprintf("%s block %d (logical %d)", what, blkno, first+i)
			b, err := v.readBlock(blkno, blockWhat)
			if err != nil {
				return 0, err
			}
			if v.sb.hasDirTrailer() {
				t := b[data:]
				if sig := string(t[offDirTrailerSignature : offDirTrailerSignature+len(dirTrailerSignature)]); sig != dirTrailerSignature {
					return 0, fmt.Errorf("%w: %s: trailer signature %q at byte %d, want %q (the volume has meta-ecc or indexed-dirs)",
						ErrBadDirectory, blockWhat, sig, data+offDirTrailerSignature, dirTrailerSignature)
				}
				if err := v.sb.checkMetaECC(b, data+offDirTrailerCheck); err != nil {
					return 0, fmt.Errorf("%s: %w", blockWhat, err)
				}
			}
			ino, found, err := findDirEntry(b[:data], name)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", blockWhat, err)
			}
			if found {
				return ino, nil
			}
			searched++
		}
	}
	return 0, fmt.Errorf("%w: no entry %q in %s at block %d (%d blocks searched)",
		ErrNoHeartbeatFile, name, what, dirBlkno, searched)
}
