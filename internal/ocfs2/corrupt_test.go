package ocfs2

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// patched is an image in memory with bytes overridden, so that each case
// corrupts its own view of one real image.
type patched struct {
	base    []byte
	size    int64 // may be less than len(base): a truncated image
	patches map[int64]byte
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= p.size {
		return 0, io.EOF
	}
	n := copy(b, p.base[off:p.size])
	for i := range n {
		if v, ok := p.patches[off+int64(i)]; ok {
			b[i] = v
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (p *patched) put(off int64, b ...byte) {
	for i, v := range b {
		p.patches[off+int64(i)] = v
	}
}
func (p *patched) put16(off int64, v uint16) { p.put(off, binary.LittleEndian.AppendUint16(nil, v)...) }
func (p *patched) put32(off int64, v uint32) { p.put(off, binary.LittleEndian.AppendUint32(nil, v)...) }
func (p *patched) put64(off int64, v uint64) { p.put(off, binary.LittleEndian.AppendUint64(nil, v)...) }

func (p *patched) read(t *testing.T) (*Superblock, Geometry, error) {
	t.Helper()
	sb, err := ReadSuperblock(p, p.size)
	if err != nil {
		return nil, Geometry{}, err
	}
	g, err := HeartbeatGeometry(p, p.size, sb, 512)
	return sb, g, err
}

// layout is where the structures of the test image are, in bytes.
type layout struct {
	bs          int64
	sb          int64 // superblock block
	sysdir      int64 // system directory inode
	dirBlock    int64 // its first directory block
	hbEntry     int64 // the "heartbeat" entry in it
	hbInode     int64 // the heartbeat inode
	hbExtentEnd int64 // first byte after the heartbeat extent
	fsGen       uint32
}

// corruptBase formats an image for the corruption tests: 1 KiB blocks,
// system directory in extents with block trailers (indexed-dirs, mkfs's
// default), and the features given (metaecc adds checksums).
func corruptBase(t *testing.T, features string) ([]byte, layout, Geometry) {
	t.Helper()
	img := testenv.MkfsOCFS2(t, testenv.Image{BlockSize: 1024, ClusterSize: 4096, SizeMiB: 32,
		Features: features})
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	l := layout{bs: 1024, sb: 2 * 1024}
	l.fsGen = le.Uint32(data[l.sb+offSbFSGeneration:])
	l.sysdir = int64(le.Uint64(data[l.sb+offSbSystemDirBlkno:])) * l.bs
	l.dirBlock = int64(le.Uint64(data[l.sysdir+offInodeID2+extentListHeader+8:])) * l.bs
	for off := l.dirBlock; off < l.dirBlock+l.bs; off += int64(le.Uint16(data[off+8:])) {
		n := int64(data[off+10])
		if string(data[off+12:off+12+n]) == "heartbeat" {
			l.hbEntry = off
			l.hbInode = int64(le.Uint64(data[off:])) * l.bs
			break
		}
	}
	if l.hbEntry == 0 {
		t.Fatal("no heartbeat entry in the first system directory block")
	}
	rec := l.hbInode + offInodeID2 + extentListHeader
	l.hbExtentEnd = (int64(le.Uint64(data[rec+8:])) * l.bs) + int64(le.Uint16(data[rec+4:]))*4096
	p := &patched{base: data, size: int64(len(data)), patches: map[int64]byte{}}
	_, g, err := p.read(t)
	if err != nil {
		t.Fatalf("reading the intact image: %v", err)
	}
	return data, l, g
}

func TestCorruption(t *testing.T) {
	data, l, _ := corruptBase(t, "noinline-data")
	list := func(inode int64) int64 { return inode + offInodeID2 }
	rec := func(inode int64, i int) int64 { return inode + offInodeID2 + extentListHeader + int64(i)*extentRecSize }
	trailer := l.dirBlock + l.bs - dirTrailerSize

	tests := []struct {
		name    string
		size    int64 // 0: whole image
		corrupt func(p *patched)
		want    error
		say     string // in the message
	}{
		{"empty", 1, nil, ErrNotOCFS2, "too small"},
		{"truncated in superblock", 2*1024 + 100, nil, ErrNotOCFS2, ""},
		{"truncated before system directory", l.sysdir, nil, ErrTruncated, "s_system_dir_blkno"},
		{"truncated before directory block", l.dirBlock, nil, ErrTruncated, "system directory block"},
		{"truncated in heartbeat extent", l.hbExtentEnd - 1, nil, ErrTruncated, "heartbeat file"},
		{"signature", 0, func(p *patched) { p.put(l.sb, 'X') }, ErrNotOCFS2, ""},
		{"superblock i_blkno", 0, func(p *patched) { p.put64(l.sb+offSbInodeBlkno, 3) }, ErrBadSuperblock, "i_blkno 3"},
		{"blocksize bits", 0, func(p *patched) { p.put32(l.sb+offSbBlocksizeBits, 12) }, ErrBadSuperblock, "s_blocksize_bits 12"},
		{"blocksize bits huge", 0, func(p *patched) { p.put32(l.sb+offSbBlocksizeBits, 200) }, ErrBadSuperblock, "s_blocksize_bits 200"},
		{"clustersize bits", 0, func(p *patched) { p.put32(l.sb+offSbClustersizeBits, 21) }, ErrBadSuperblock, "s_clustersize_bits 21"},
		{"system dir blkno 0", 0, func(p *patched) { p.put64(l.sb+offSbSystemDirBlkno, 0) }, ErrBadSuperblock, "s_system_dir_blkno 0"},
		{"system dir blkno huge", 0, func(p *patched) { p.put64(l.sb+offSbSystemDirBlkno, 1<<62) }, ErrTruncated, "s_system_dir_blkno"},
		{"system dir at superblock+1", 0, func(p *patched) { p.put64(l.sb+offSbSystemDirBlkno, 3) }, ErrBadInode, "signature"},
		{"uuid zero", 0, func(p *patched) { p.put(l.sb+offSbUUID, make([]byte, 16)...) }, ErrBadSuperblock, "s_uuid"},

		{"sysdir signature", 0, func(p *patched) { p.put(l.sysdir, 'J') }, ErrBadInode, `signature "JNODE01\x00"`},
		{"sysdir i_blkno", 0, func(p *patched) { p.put64(l.sysdir+offInodeBlkno, 99) }, ErrBadInode, "i_blkno is 99"},
		{"sysdir fs generation", 0, func(p *patched) { p.put32(l.sysdir+offInodeFSGeneration, l.fsGen+1) }, ErrBadInode, "i_fs_generation"},
		{"sysdir not valid", 0, func(p *patched) { p.put32(l.sysdir+offInodeFlags, 0x10) }, ErrBadInode, "not flagged valid"},
		{"sysdir not a directory", 0, func(p *patched) { p.put16(l.sysdir+offInodeMode, 0o100644) }, ErrBadInode, "not a directory"},
		{"sysdir size huge", 0, func(p *patched) { p.put64(l.sysdir+offInodeSize, 1<<40) }, ErrBadInode, "i_size"},
		{"sysdir l_count 0", 0, func(p *patched) { p.put16(list(l.sysdir)+2, 0) }, ErrBadExtentList, "l_count 0"},
		{"sysdir l_count too big", 0, func(p *patched) { p.put16(list(l.sysdir)+2, 52) }, ErrBadExtentList, "l_count 52"},
		{"sysdir next free > count", 0, func(p *patched) { p.put16(list(l.sysdir)+4, 52) }, ErrBadExtentList, "l_next_free_rec 52"},
		{"sysdir depth 6", 0, func(p *patched) { p.put16(list(l.sysdir), 6) }, ErrBadExtentList, "l_tree_depth 6"},
		{"sysdir depth 1 to a dir block", 0, func(p *patched) { p.put16(list(l.sysdir), 1) }, ErrBadExtentList, `signature`},
		{"sysdir extent past the end", 0, func(p *patched) { p.put64(rec(l.sysdir, 0)+8, 1<<40) }, ErrTruncated, "beyond the end"},
		{"sysdir extent wraps", 0, func(p *patched) { p.put64(rec(l.sysdir, 0)+8, ^uint64(0)) }, ErrTruncated, ""},
		{"sysdir inline flag, bad id_count", 0, func(p *patched) {
			p.put16(l.sysdir+offInodeDynFeatures, dynInlineData)
			p.put16(l.sysdir+offInodeID2, 2000)
		}, ErrBadInode, "id_count 2000"},

		{"entry rec_len 3", 0, func(p *patched) { p.put16(l.hbEntry+8, 3) }, ErrBadDirectory, "rec_len 3"},
		{"entry rec_len 0", 0, func(p *patched) { p.put16(l.hbEntry+8, 0) }, ErrBadDirectory, "rec_len 0"},
		{"entry rec_len unaligned", 0, func(p *patched) { p.put16(l.hbEntry+8, 22) }, ErrBadDirectory, "multiple of 4"},
		{"entry rec_len past block", 0, func(p *patched) { p.put16(l.hbEntry+8, 1020) }, ErrBadDirectory, "runs past"},
		{"entry name_len", 0, func(p *patched) { p.put(l.hbEntry+10, 200) }, ErrBadDirectory, "name_len 200"},
		{"entry renamed", 0, func(p *patched) { p.put(l.hbEntry+12+8, 'T') }, ErrNoHeartbeatFile, `no entry "heartbeat"`},
		{"entry unused", 0, func(p *patched) { p.put64(l.hbEntry, 0) }, ErrNoHeartbeatFile, `no entry "heartbeat"`},
		{"entry to superblock", 0, func(p *patched) { p.put64(l.hbEntry, 2) }, ErrBadInode, "signature"},
		{"entry to sysdir", 0, func(p *patched) { p.put64(l.hbEntry, uint64(l.sysdir/l.bs)) }, ErrBadHeartbeatFile, "not flagged as the heartbeat area"},
		{"trailer signature", 0, func(p *patched) { p.put(trailer+offDirTrailerSignature, 'd') }, ErrBadDirectory, "trailer signature"},

		{"hb signature", 0, func(p *patched) { p.put(l.hbInode+7, 1) }, ErrBadInode, "heartbeat file inode"},
		{"hb flags", 0, func(p *patched) { p.put32(l.hbInode+offInodeFlags, inodeFlagValid) }, ErrBadHeartbeatFile, "not flagged"},
		{"hb inline", 0, func(p *patched) { p.put16(l.hbInode+offInodeDynFeatures, dynInlineData) }, ErrBadHeartbeatFile, "inline"},
		{"hb depth 1", 0, func(p *patched) { p.put16(list(l.hbInode), 1) }, ErrBadHeartbeatFile, "depth 1, want 0"},
		{"hb no extent", 0, func(p *patched) { p.put16(list(l.hbInode)+4, 0) }, ErrBadHeartbeatFile, "0 extents"},
		{"hb two extents", 0, func(p *patched) {
			// The file's 64 clusters as two extents of 32.
			p.put16(list(l.hbInode)+4, 2)
			p.put16(rec(l.hbInode, 0)+4, 32)
			first := binary.LittleEndian.Uint64(data[rec(l.hbInode, 0)+8:])
			p.put32(rec(l.hbInode, 1), 32)
			p.put16(rec(l.hbInode, 1)+4, 32)
			p.put64(rec(l.hbInode, 1)+8, first+32*4)
		}, ErrBadHeartbeatFile, "2 extents, want exactly 1"},
		{"hb l_count too big", 0, func(p *patched) { p.put16(list(l.hbInode)+2, 1000) }, ErrBadExtentList, "l_count 1000"},
		{"hb cpos", 0, func(p *patched) { p.put32(rec(l.hbInode, 0), 5) }, ErrBadHeartbeatFile, "cluster 5"},
		{"hb too small", 0, func(p *patched) { p.put16(rec(l.hbInode, 0)+4, 63) }, ErrBadHeartbeatFile, "252 blocks"},
		{"hb past the end", 0, func(p *patched) { p.put64(rec(l.hbInode, 0)+8, 32<<10-10) }, ErrTruncated, "beyond the end"},
		{"hb at block 0", 0, func(p *patched) { p.put64(rec(l.hbInode, 0)+8, 0) }, ErrBadHeartbeatFile, "inside the volume header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &patched{base: data, size: int64(len(data)), patches: map[int64]byte{}}
			if tc.size != 0 {
				p.size = tc.size
			}
			if tc.corrupt != nil {
				tc.corrupt(p)
			}
			_, g, err := p.read(t)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("reading the corrupted image = %+v, %v; want %v saying %q", g, err, tc.want, tc.say)
			}
		})
	}
}

// TestCorruptEveryByte flips, one at a time, each byte of the structures
// we read: every result is an error wrapping one of our sentinels, or the
// intact volume's region. Without meta-ecc, a flip in the heartbeat
// file's extent record can only give another region that passes every
// check (nothing on disk can tell it apart); with meta-ecc it must not.
func TestCorruptEveryByte(t *testing.T) {
	for _, features := range []string{"noinline-data", "noinline-data,metaecc"} {
		t.Run(features, func(t *testing.T) { corruptEveryByte(t, features) })
	}
}

func corruptEveryByte(t *testing.T, features string) {
	data, l, good := corruptBase(t, features)
	ecc := strings.Contains(features, "metaecc")
	hbRec := l.hbInode + offInodeID2 + extentListHeader
	sentinels := []error{ErrNotOCFS2, ErrTruncated, ErrBadSuperblock, ErrBadInode, ErrBadExtentList,
		ErrBadDirectory, ErrNoHeartbeatFile, ErrBadHeartbeatFile, ErrSectorSize, ErrChecksum}
	ranges := [][2]int64{
		{l.sb, l.sb + sbEnd},
		{l.sysdir, l.sysdir + offInodeID2 + extentListHeader + extentRecSize},
		{l.hbEntry, l.hbEntry + 12 + 9},
		{l.dirBlock + l.bs - dirTrailerSize + offDirTrailerSignature, l.dirBlock + l.bs - dirTrailerSize + offDirTrailerSignature + 8},
		{l.hbInode, l.hbInode + offInodeID2 + extentListHeader + extentRecSize},
	}
	errs, oks := 0, 0
	for _, r := range ranges {
		for off := r[0]; off < r[1]; off++ {
			p := &patched{base: data, size: int64(len(data)), patches: map[int64]byte{}}
			p.put(off, data[off]^0xff)
			_, g, err := p.read(t)
			if err == nil {
				oks++
				if g != good && (ecc || off < hbRec || off >= hbRec+extentRecSize) {
					t.Errorf("flipping byte %#x: region %+v, want %+v", off, g, good)
				}
				continue
			}
			errs++
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Errorf("flipping byte %#x: %v, want an error wrapping a sentinel", off, err)
			}
		}
	}
	if errs == 0 {
		t.Errorf("flips: %d errors, %d readable, want errors", errs, oks)
	}
	t.Logf("%d flips: %d errors, %d still readable", errs+oks, errs, oks)
}

// TestDeepSystemDirectory moves the system directory's extent list into
// an extent block (tree depth 1), as a large directory has it, and checks
// that the region found is unchanged; then makes the tree loop.
func TestDeepSystemDirectory(t *testing.T) {
	data, l, good := corruptBase(t, "noinline-data")
	// A free block to hold the extent block: the last block of the
	// heartbeat extent, beyond its 255 slots of 512 bytes.
	eb := l.hbExtentEnd - l.bs
	ebBlkno := uint64(eb / l.bs)
	orig := data[l.sysdir+offInodeID2 : l.sysdir+offInodeID2+extentListHeader+extentRecSize]
	clusters := binary.LittleEndian.Uint16(orig[extentListHeader+4:])
	deep := func() *patched {
		p := &patched{base: data, size: int64(len(data)), patches: map[int64]byte{}}
		p.put(eb, []byte(extentBlockSignature)...)
		p.put32(eb+offEBFSGeneration, l.fsGen)
		p.put64(eb+offEBBlkno, ebBlkno)
		p.put16(eb+offEBList, 0)                                           // depth
		p.put16(eb+offEBList+2, uint16((l.bs-offEBList-16)/extentRecSize)) // count
		p.put16(eb+offEBList+4, 1)                                         // next free
		p.put(eb+offEBList+extentListHeader, orig[extentListHeader:]...)   // the leaf record
		in := l.sysdir + offInodeID2
		p.put16(in, 1) // depth 1
		p.put16(in+4, 1)
		p.put32(in+extentListHeader, 0)
		p.put32(in+extentListHeader+4, uint32(clusters)) // e_int_clusters
		p.put64(in+extentListHeader+8, ebBlkno)
		return p
	}
	if _, g, err := deep().read(t); err != nil || g != good {
		t.Fatalf("depth-1 system directory: region %+v, %v, want %+v", g, err, good)
	}
	for _, tc := range []struct {
		name    string
		corrupt func(p *patched)
		say     string
	}{
		{"extent block signature", func(p *patched) { p.put(eb, 'e') }, "signature"},
		{"extent block h_blkno", func(p *patched) { p.put64(eb+offEBBlkno, 7) }, "h_blkno is 7"},
		{"extent block generation", func(p *patched) { p.put32(eb+offEBFSGeneration, l.fsGen^1) }, "h_fs_generation"},
		{"extent block l_count", func(p *patched) { p.put16(eb+offEBList+2, 61) }, "l_count 61"},
		{"loop to itself", func(p *patched) {
			// depth 2 in the inode, 1 in the block, which points at itself
			p.put16(l.sysdir+offInodeID2, 2)
			p.put16(eb+offEBList, 1)
			p.put64(eb+offEBList+extentListHeader+8, ebBlkno)
		}, "l_tree_depth 1, want 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := deep()
			tc.corrupt(p)
			if _, _, err := p.read(t); !errors.Is(err, ErrBadExtentList) || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("read = %v, want %v saying %q", err, ErrBadExtentList, tc.say)
			}
		})
	}
}

// TestChecksums corrupts one byte of each metadata block we read on a
// volume with meta-ecc: each gives ErrChecksum naming the block.
func TestChecksums(t *testing.T) {
	data, l, _ := corruptBase(t, "noinline-data,metaecc")
	for _, tc := range []struct {
		name string
		off  int64
		say  string
	}{
		{"superblock label", l.sb + offSbLabel, "superblock"},
		{"system directory inode", l.sysdir + offInodeSize, "system directory at block"},
		{"directory block", l.hbEntry + 12 + 3, "system directory block"},
		{"heartbeat inode extent", l.hbInode + offInodeID2 + extentListHeader + 8, "heartbeat file inode"},
		{"stored crc", l.hbInode + offInodeCheck, "heartbeat file inode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &patched{base: data, size: int64(len(data)), patches: map[int64]byte{}}
			p.put(tc.off, data[tc.off]^0x01)
			if _, _, err := p.read(t); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("read = %v, want %v naming %q", err, ErrChecksum, tc.say)
			}
		})
	}
}
