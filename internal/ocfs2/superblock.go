package ocfs2

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Errors of this package; callers test them with errors.Is. The error
// returned wraps one of them and says where and what.
var (
	// ErrNotOCFS2: no OCFS2 superblock at block 2 for any block size.
	ErrNotOCFS2 = errors.New("not an OCFS2 volume")
	// ErrTruncated: a structure the volume points to lies beyond the end
	// of the device or image.
	ErrTruncated = errors.New("volume truncated")
	// ErrBadSuperblock: the superblock has the signature but holds
	// impossible values.
	ErrBadSuperblock = errors.New("corrupt superblock")
	// ErrBadInode: an inode (system directory or heartbeat file) is not
	// a valid inode of this volume.
	ErrBadInode = errors.New("corrupt inode")
	// ErrBadExtentList: an extent list or extent block is inconsistent.
	ErrBadExtentList = errors.New("corrupt extent list")
	// ErrBadDirectory: a directory block or entry is inconsistent.
	ErrBadDirectory = errors.New("corrupt directory")
	// ErrNoHeartbeatFile: the system directory has no "heartbeat" entry.
	ErrNoHeartbeatFile = errors.New("no heartbeat system file")
	// ErrBadHeartbeatFile: the heartbeat file is not one extent of at
	// least 255 blocks, as o2hb needs.
	ErrBadHeartbeatFile = errors.New("bad heartbeat system file")
	// ErrSectorSize: the device's sector size cannot hold this volume's
	// heartbeat (o2hb slots are one sector, at most one filesystem block).
	ErrSectorSize = errors.New("unusable sector size")
	// ErrChecksum: on a volume with meta-ecc, a metadata block's CRC32
	// does not match its content.
	ErrChecksum = errors.New("metadata checksum mismatch")
	// ErrBadUUID: a string is not a 128-bit UUID.
	ErrBadUUID = errors.New("not a volume UUID")
	// ErrUUIDNotFound: no device searched holds the UUID.
	ErrUUIDNotFound = errors.New("no OCFS2 volume with this UUID")
)

// Superblock block number (in filesystem blocks) and the block sizes
// OCFS2 allows.
const (
	superBlockBlkno = 2
	minBlockSize    = 512
	maxBlockSize    = 4096
	minClusterBits  = 12 // 4 KiB
	maxClusterBits  = 20 // 1 MiB
)

// Byte offsets in the superblock's block: the block is an inode
// (ocfs2_dinode) whose id2 union, at 0xC0, holds ocfs2_super_block.
const (
	offSbSignature       = 0x000 // "OCFSV2"
	offSbInodeBlkno      = 0x050 // le64 i_blkno of the superblock inode: 2
	offSbFSGeneration    = 0x060 // le32 i_fs_generation, shared by every inode
	offSbCheck           = 0x080 // i_check, ocfs2_block_check
	offSbFeatureCompat   = 0x0DC // le32
	offSbFeatureIncompat = 0x0E0 // le32
	offSbFeatureROCompat = 0x0E4 // le32
	offSbSystemDirBlkno  = 0x0F0 // le64
	offSbBlocksizeBits   = 0x0F8 // le32
	offSbClustersizeBits = 0x0FC // le32
	offSbLabel           = 0x110 // 64 bytes, NUL padded
	offSbUUID            = 0x150 // 16 bytes
	offSbClusterStack    = 0x160 // 4 bytes, ci_stack
	offSbStackFlags      = 0x164 // u8, ci_stackflags
	offSbClusterName     = 0x168 // 16 bytes, ci_cluster
	sbEnd                = 0x178 // first byte past what we read

	labelLen       = 64
	uuidLen        = 16
	stackLen       = 4
	clusterNameLen = 16
)

const sbSignature = "OCFSV2"

// Feature bits of the superblock that matter here.
const (
	IncompatHeartbeatDev   = 0x0002 // a heartbeat-only device (mkfs.ocfs2 -H)
	IncompatInlineData     = 0x0040
	IncompatUserspaceStack = 0x0080
	IncompatIndexedDirs    = 0x0400
	IncompatMetaECC        = 0x0800
	IncompatClusterInfo    = 0x4000

	stackFlagGlobalHeartbeat = 0x01
)

// Superblock is what o2cb needs from an OCFS2 superblock.
type Superblock struct {
	BlockSize, ClusterSize int // bytes
	Label                  string
	// UUID is 32 upper-case hex digits without dashes: o2cb's region name.
	UUID                                            string
	FeatureCompat, FeatureIncompat, FeatureROCompat uint32
	// ClusterStack is the stack the volume was made for ("o2cb", "pcmk",
	// ...), or "" when the superblock carries no cluster information.
	ClusterStack string
	ClusterName  string
	// GlobalHeartbeat is set for an o2cb volume formatted for global
	// heartbeat (mkfs.ocfs2 --global-heartbeat).
	GlobalHeartbeat bool
	// HeartbeatDevice is set for a heartbeat-only device (mkfs.ocfs2 -H).
	HeartbeatDevice bool
	SystemDirBlkno  uint64 // filesystem block of the system directory inode
	FSGeneration    uint32 // i_fs_generation: every inode of the volume carries it

	blockBits, clusterBits uint
}

// ReadSuperblock finds and decodes the OCFS2 superblock of a device or
// image of size bytes. It probes block sizes 512 to 4096: the superblock is
// filesystem block 2. An input without one gives ErrNotOCFS2; a superblock
// with impossible values gives ErrBadSuperblock.
func ReadSuperblock(r io.ReaderAt, size int64) (*Superblock, error) {
	if size < 3*minBlockSize {
		return nil, fmt.Errorf("%w: %d bytes is too small to hold a superblock", ErrNotOCFS2, size)
	}
	buf := make([]byte, maxBlockSize)
	for bs := minBlockSize; bs <= maxBlockSize; bs <<= 1 {
		off := int64(superBlockBlkno * bs)
		if off+int64(bs) > size {
			break
		}
		b := buf[:bs]
		if _, err := r.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("reading block 2 for block size %d at byte %d: %w", bs, off, err)
		}
		if string(b[offSbSignature:offSbSignature+len(sbSignature)]) != sbSignature {
			continue
		}
		return decodeSuperblock(b, size)
	}
	return nil, ErrNotOCFS2
}

// decodeSuperblock decodes and checks the superblock in b, block 2 read
// with block size len(b), on a device of size bytes.
func decodeSuperblock(b []byte, size int64) (*Superblock, error) {
	le := binary.LittleEndian
	bs := len(b)
	sb := &Superblock{
		FeatureCompat:   le.Uint32(b[offSbFeatureCompat:]),
		FeatureIncompat: le.Uint32(b[offSbFeatureIncompat:]),
		FeatureROCompat: le.Uint32(b[offSbFeatureROCompat:]),
		SystemDirBlkno:  le.Uint64(b[offSbSystemDirBlkno:]),
		FSGeneration:    le.Uint32(b[offSbFSGeneration:]),
		Label:           cString(b[offSbLabel : offSbLabel+labelLen]),
		UUID:            strings.ToUpper(hex.EncodeToString(b[offSbUUID : offSbUUID+uuidLen])),
	}
	if n := le.Uint64(b[offSbInodeBlkno:]); n != superBlockBlkno {
		return nil, fmt.Errorf("%w: i_blkno %d at byte %#x, want %d", ErrBadSuperblock, n, offSbInodeBlkno, superBlockBlkno)
	}
	blockBits := le.Uint32(b[offSbBlocksizeBits:])
	if blockBits > 31 || 1<<blockBits != bs {
		return nil, fmt.Errorf("%w: s_blocksize_bits %d at byte %#x, want %d: signature found at block 2 of %d-byte blocks",
			ErrBadSuperblock, blockBits, offSbBlocksizeBits, log2(bs), bs)
	}
	clusterBits := le.Uint32(b[offSbClustersizeBits:])
	if clusterBits < minClusterBits || clusterBits > maxClusterBits {
		return nil, fmt.Errorf("%w: s_clustersize_bits %d at byte %#x, want %d to %d",
			ErrBadSuperblock, clusterBits, offSbClustersizeBits, minClusterBits, maxClusterBits)
	}
	sb.blockBits, sb.clusterBits = uint(blockBits), uint(clusterBits)
	sb.BlockSize, sb.ClusterSize = bs, 1<<clusterBits
	blocks := uint64(size) >> sb.blockBits
	if sb.SystemDirBlkno <= superBlockBlkno {
		return nil, fmt.Errorf("%w: s_system_dir_blkno %d at byte %#x, want a block after the superblock",
			ErrBadSuperblock, sb.SystemDirBlkno, offSbSystemDirBlkno)
	}
	if sb.SystemDirBlkno >= blocks {
		return nil, fmt.Errorf("%w: s_system_dir_blkno %d at byte %#x lies beyond the end of the device (%d blocks of %d bytes)",
			ErrTruncated, sb.SystemDirBlkno, offSbSystemDirBlkno, blocks, bs)
	}
	if bytes.Count(b[offSbUUID:offSbUUID+uuidLen], []byte{0}) == uuidLen {
		return nil, fmt.Errorf("%w: s_uuid at byte %#x is all zeros", ErrBadSuperblock, offSbUUID)
	}
	if err := sb.checkMetaECC(b, offSbCheck); err != nil {
		return nil, fmt.Errorf("superblock: %w", err)
	}
	sb.HeartbeatDevice = sb.FeatureIncompat&IncompatHeartbeatDev != 0
	if sb.FeatureIncompat&(IncompatClusterInfo|IncompatUserspaceStack) != 0 {
		sb.ClusterStack = cString(b[offSbClusterStack : offSbClusterStack+stackLen])
		sb.ClusterName = cString(b[offSbClusterName : offSbClusterName+clusterNameLen])
		sb.GlobalHeartbeat = sb.FeatureIncompat&IncompatClusterInfo != 0 &&
			sb.ClusterStack == "o2cb" &&
			b[offSbStackFlags]&stackFlagGlobalHeartbeat != 0
	}
	return sb, nil
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// log2 returns the base-2 logarithm of a power of two.
func log2(n int) uint {
	var k uint
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}

// NormalizeUUID returns s as o2cb names a region: 32 upper-case hex
// digits. It accepts them in any case, bare or dashed 8-4-4-4-12 as blkid
// prints them (43fa4f36-ed35-4789-a313-654157458296), with white space
// around them. It is the one check of a region UUID, wherever one comes
// from (cluster.conf, a parameter, a request).
func NormalizeUUID(s string) (string, error) {
	t := strings.TrimSpace(s)
	if len(t) == 2*uuidLen+4 && t[8] == '-' && t[13] == '-' && t[18] == '-' && t[23] == '-' {
		t = t[:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	}
	if len(t) != 2*uuidLen {
		return "", fmt.Errorf("%w: %q is not 32 hex digits, bare or dashed 8-4-4-4-12", ErrBadUUID, s)
	}
	b := []byte(t)
	for i, c := range b {
		switch {
		case '0' <= c && c <= '9', 'A' <= c && c <= 'F':
		case 'a' <= c && c <= 'f':
			b[i] = c - 'a' + 'A'
		default:
			return "", fmt.Errorf("%w: %q: %q is not a hex digit", ErrBadUUID, s, c)
		}
	}
	return string(b), nil
}

// checkMetaECC verifies, on a volume with meta-ecc, the CRC32 of the
// metadata block b whose ocfs2_block_check (le32 bc_crc32e, le16 bc_ecc,
// le16 reserved) is at checkOff: crc32_le(~0, block), without the final
// inversion, computed with the check zeroed. A mismatch the kernel could
// repair with the Hamming code is still refused: we never write metadata,
// and a bit flip in an extent must not move the heartbeat region.
func (sb *Superblock) checkMetaECC(b []byte, checkOff int) error {
	if sb.FeatureIncompat&IncompatMetaECC == 0 {
		return nil
	}
	var saved [8]byte
	copy(saved[:], b[checkOff:])
	clear(b[checkOff : checkOff+8])
	crc := ^crc32.ChecksumIEEE(b)
	copy(b[checkOff:], saved[:])
	if stored := binary.LittleEndian.Uint32(saved[:]); stored != crc {
		return fmt.Errorf("%w: crc32 %#08x stored, %#08x computed", ErrChecksum, stored, crc)
	}
	return nil
}
