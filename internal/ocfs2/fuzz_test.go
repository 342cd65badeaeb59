package ocfs2

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

var update = flag.Bool("update", false, "regenerate the fuzz seeds under testdata/fuzz from images made by mkfs.ocfs2")

// sparseSize is the size of the device a fuzz input describes.
const sparseSize = 64 << 20

// sparse is a device of sparseSize bytes, zero but for chunks. A fuzz
// input lists its chunks, each as le32 offset in 512-byte units, le16
// length, and the bytes; so a seed holds the few blocks of a real volume
// that matter (superblock, inodes, directory block) at their own offsets.
type sparse struct{ chunks []chunk }

type chunk struct {
	off  int64
	data []byte
}

const maxChunks = 64

func parseSparse(b []byte) *sparse {
	s := &sparse{}
	for len(b) >= 6 && len(s.chunks) < maxChunks {
		off := int64(binary.LittleEndian.Uint32(b)) * 512
		n := int(binary.LittleEndian.Uint16(b[4:]))
		b = b[6:]
		n = min(n, len(b))
		if off < sparseSize {
			s.chunks = append(s.chunks, chunk{off, b[:n]})
		}
		b = b[n:]
	}
	return s
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= sparseSize {
		return 0, io.EOF
	}
	n := len(p)
	if rest := sparseSize - off; int64(n) > rest {
		n = int(rest)
	}
	clear(p[:n])
	for _, c := range s.chunks {
		lo, hi := max(off, c.off), min(off+int64(n), c.off+int64(len(c.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], c.data[lo-c.off:hi-c.off])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// appendChunks appends the non-zero runs of block, which starts at byte
// off (a multiple of 512), as chunks.
func appendChunks(out, block []byte, off int64) []byte {
	for start := 0; start < len(block); start += 512 {
		sec := block[start : start+512]
		end := len(sec)
		for end > 0 && sec[end-1] == 0 {
			end--
		}
		if end == 0 {
			continue
		}
		out = binary.LittleEndian.AppendUint32(out, uint32((off+int64(start))/512))
		out = binary.LittleEndian.AppendUint16(out, uint16(end))
		out = append(out, sec[:end]...)
	}
	return out
}

// FuzzReadSuperblock runs the whole reading of a volume (superblock,
// system directory, extent blocks, heartbeat inode) on a sparse device.
func FuzzReadSuperblock(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := parseSparse(data)
		sb, err := ReadSuperblock(r, sparseSize)
		if err != nil {
			return
		}
		if len(sb.UUID) != 32 || sb.BlockSize < 512 || sb.BlockSize > 4096 || sb.ClusterSize < sb.BlockSize {
			t.Fatalf("ReadSuperblock accepted %+v", sb)
		}
		for _, sector := range []int{512, 4096} {
			g, err := HeartbeatGeometry(r, sparseSize, sb, sector)
			if err != nil {
				continue
			}
			if g.Blocks != 255 || g.BlockBytes != sector ||
				!g.WriteInside(g.Extent, g.SlotOffset(0), 255*int64(sector)) || g.Extent.Offset+g.Extent.Bytes > sparseSize {
				t.Fatalf("HeartbeatGeometry(sector %d) = %+v: not a region inside the device", sector, g)
			}
		}
	})
}

// FuzzDirectory runs the directory entry and extent list parsers on one
// block.
func FuzzDirectory(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		findDirEntry(data, heartbeatFileName)
		for _, off := range []int{0, offInodeID2} {
			if l, err := parseExtentList(data, off, "fuzz"); err == nil {
				if off+extentListHeader+len(l.Recs)*extentRecSize > len(data) {
					t.Fatalf("parseExtentList(at %d) accepted %d records in %d bytes", off, len(l.Recs), len(data))
				}
			}
		}
	})
}

// TestUpdateFuzzSeeds writes the seeds of both fuzz targets from images
// made by mkfs.ocfs2 (go test -run TestUpdateFuzzSeeds -update).
func TestUpdateFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("regenerates seeds only with -update")
	}
	testenv.RequireCommand(t, "mkfs.ocfs2")
	for _, im := range []testenv.Image{
		{BlockSize: 4096, ClusterSize: 4096, SizeMiB: 32},
		{BlockSize: 4096, ClusterSize: 1 << 20, SizeMiB: 64, Local: true, Features: "noinline-data"},
		{BlockSize: 1024, ClusterSize: 4096, SizeMiB: 32, Features: "noinline-data,metaecc"},
		{BlockSize: 512, ClusterSize: 65536, SizeMiB: 128, Local: true},
		{BlockSize: 2048, ClusterSize: 4096, SizeMiB: 32, Features: "noinline-data,noindexed-dirs"},
	} {
		name := fmt.Sprintf("b%d-c%d", im.BlockSize, im.ClusterSize)
		if im.Features != "" {
			name += "-" + strings.ReplaceAll(im.Features, ",", "-")
		}
		if im.Local {
			name += "-local"
		}
		img := testenv.MkfsOCFS2(t, im)
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		sb, err := ReadSuperblock(f, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		v := &volume{r: f, size: fi.Size(), sb: sb}
		block := func(n uint64) []byte {
			b, err := v.readBlock(n, "seed block")
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		bs := int64(sb.BlockSize)
		seed := appendChunks(nil, block(2), 2*bs)
		seed = appendChunks(seed, block(sb.SystemDirBlkno), int64(sb.SystemDirBlkno)*bs)
		dir, _ := v.readInode(sb.SystemDirBlkno, "system directory")
		var dirBlock []byte
		if !dir.inlineData() {
			l, err := parseExtentList(dir, offInodeID2, "system directory")
			if err != nil {
				t.Fatal(err)
			}
			dirBlock = block(l.Recs[0].Blkno)
			seed = appendChunks(seed, dirBlock, int64(l.Recs[0].Blkno)*bs)
		} else {
			dirBlock = dir[offInlineData : offInlineData+dir.size()]
		}
		hb, err := v.lookup(sb.SystemDirBlkno, heartbeatFileName, "system directory")
		if err != nil {
			t.Fatal(err)
		}
		hbBlock := block(hb)
		seed = appendChunks(seed, hbBlock, int64(hb)*bs)
		f.Close()
		if _, err := HeartbeatGeometry(parseSparse(seed), sparseSize, sb, 512); err != nil {
			t.Fatalf("%s: the seed does not hold a readable volume: %v", name, err)
		}
		writeSeed(t, "FuzzReadSuperblock", name, seed)
		if len(dirBlock) > 2048 {
			dirBlock = dirBlock[:2048] // keep seeds small; the fuzzer grows them
		}
		writeSeed(t, "FuzzDirectory", name, dirBlock)
		writeSeed(t, "FuzzDirectory", name+"-heartbeat-inode", hbBlock[:512])
	}
}

func writeSeed(t *testing.T, target, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if len(content) > 16<<10 {
		t.Fatalf("seed %s/%s is %d bytes, want under 16 KiB", target, name, len(content))
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
