package ocfs2

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// Tests against images made by mkfs.ocfs2, checked with ocfs2-tools'
// debugfs.ocfs2 and tunefs.ocfs2 and util-linux's blkid.

// minSizeMiB is the smallest image mkfs.ocfs2 formats with 4 slots, per
// block and cluster size (measured with ocfs2-tools 1.8.7).
func minSizeMiB(block, cluster int) int {
	switch {
	case cluster == 1<<20:
		return 64
	case block == 512:
		return 128
	default:
		return 32
	}
}

// debugfsExtents returns the heartbeat file's extent rows as
// debugfs.ocfs2 -R "stat //heartbeat" prints them: block and clusters.
func debugfsExtents(t *testing.T, img, path string) (blkno, clusters []uint64, inline bool) {
	t.Helper()
	out := testenv.Run(t, "debugfs.ocfs2", "-R", "stat "+path, img)
	rows := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.Contains(line, "Dynamic Features:") && strings.Contains(line, "InlineData"):
			inline = true
		case len(f) > 0 && f[0] == "##":
			rows = strings.Contains(line, "Block#")
		case rows && len(f) >= 4:
			// ## Offset Clusters Block# Flags
			c, err1 := strconv.ParseUint(f[2], 10, 64)
			b, err2 := strconv.ParseUint(f[3], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("debugfs.ocfs2 stat %s: cannot parse extent row %q", path, line)
			}
			clusters = append(clusters, c)
			blkno = append(blkno, b)
		}
	}
	return blkno, clusters, inline
}

// toolUUIDs returns the volume's UUID as blkid and tunefs.ocfs2 print it,
// normalized to o2cb's form.
func toolUUIDs(t *testing.T, img string) (blkid, tunefs string) {
	t.Helper()
	b := testenv.Run(t, "blkid", "-p", "-o", "value", "-s", "UUID", img)
	q := testenv.Run(t, "tunefs.ocfs2", "-Q", `%U\n`, img)
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(b), "-", "")), strings.TrimSpace(q)
}

func TestImagesAgainstOCFS2Tools(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2", "debugfs.ocfs2", "tunefs.ocfs2", "blkid")
	type variant struct {
		name     string
		local    bool
		features string
		inline   bool // system directory inline (mkfs.ocfs2 does it only with 4 KiB blocks)
	}
	variants := []variant{
		{name: "global-inline", inline: true},
		{name: "local-noinline", local: true, features: "noinline-data"},
		{name: "global-noinline-metaecc", features: "noinline-data,metaecc"},
		{name: "local-noinline-noindexed", local: true, features: "noinline-data,noindexed-dirs"},
		{name: "global-metaecc-inline", features: "metaecc", inline: true},
	}
	for _, bs := range []int{512, 1024, 2048, 4096} {
		for _, cs := range []int{4096, 65536, 1 << 20} {
			for i, v := range variants {
				// Every combination gets the first two variants; the
				// others rotate over the combinations to keep time down.
				if i >= 2 && (bs/512+cs/4096)%3 != i-2 {
					continue
				}
				t.Run(fmt.Sprintf("b%d/c%d/%s", bs, cs, v.name), func(t *testing.T) {
					t.Parallel()
					label := fmt.Sprintf("l%d_%d", bs, cs)
					img := testenv.MkfsOCFS2(t, testenv.Image{
						BlockSize: bs, ClusterSize: cs, SizeMiB: minSizeMiB(bs, cs),
						Label: label, Cluster: "c" + strconv.Itoa(bs), Local: v.local, Features: v.features,
					})
					checkImage(t, img, bs, cs, label, "c"+strconv.Itoa(bs), !v.local, v.inline && bs == 4096)
				})
			}
		}
	}
}

func checkImage(t *testing.T, img string, bs, cs int, label, cluster string, global, inline bool) {
	t.Helper()
	vol, err := Open(img)
	if err != nil {
		t.Fatalf("Open(%s) = %v, want a volume", img, err)
	}
	sb := vol.Superblock
	if sb.BlockSize != bs || sb.ClusterSize != cs {
		t.Errorf("Open(%s) block, cluster size = %d, %d, want %d, %d", img, sb.BlockSize, sb.ClusterSize, bs, cs)
	}
	if sb.Label != label || sb.ClusterName != cluster || sb.ClusterStack != "o2cb" {
		t.Errorf("Open(%s) label, cluster, stack = %q, %q, %q, want %q, %q, o2cb",
			img, sb.Label, sb.ClusterName, sb.ClusterStack, label, cluster)
	}
	if sb.GlobalHeartbeat != global || sb.HeartbeatDevice {
		t.Errorf("Open(%s) GlobalHeartbeat, HeartbeatDevice = %v, %v, want %v, false", img, sb.GlobalHeartbeat, sb.HeartbeatDevice, global)
	}
	blkidUUID, tunefsUUID := toolUUIDs(t, img)
	if sb.UUID != blkidUUID || sb.UUID != tunefsUUID {
		t.Errorf("Open(%s).UUID = %s, want blkid's %s and tunefs.ocfs2's %s", img, sb.UUID, blkidUUID, tunefsUUID)
	}

	blocks, clusters, _ := debugfsExtents(t, img, "//heartbeat")
	if len(blocks) != 1 {
		t.Fatalf("debugfs.ocfs2 shows %d heartbeat extents, want 1", len(blocks))
	}
	want := Geometry{
		Geometry: hbdisk.Geometry{BlockBytes: 512, StartBlock: blocks[0] * uint64(bs) / 512, Blocks: 255},
		Extent:   hbdisk.Extent{Offset: int64(blocks[0]) * int64(bs), Bytes: int64(clusters[0]) * int64(cs)},
	}
	if vol.Heartbeat != want {
		t.Errorf("Open(%s).Heartbeat = %+v, want %+v (debugfs.ocfs2: block %d, %d clusters)",
			img, vol.Heartbeat, want, blocks[0], clusters[0])
	}

	// The system directory is where the variant says, per debugfs and
	// per our own reading.
	_, _, dbgInline := debugfsExtents(t, img, "//")
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	v := &volume{r: f, size: fi.Size(), sb: &sb}
	dir, err := v.readInode(sb.SystemDirBlkno, "system directory")
	if err != nil {
		t.Fatal(err)
	}
	if dir.inlineData() != inline || dbgInline != inline {
		t.Errorf("system directory inline: ours %v, debugfs.ocfs2 %v, want %v", dir.inlineData(), dbgInline, inline)
	}
}

// TestLargeSystemDirectory looks up names in every block of a system
// directory that spans many blocks (32 slots, 512-byte blocks, not
// inline: 13 blocks) and checks the inode numbers against debugfs.ocfs2's ls.
func TestLargeSystemDirectory(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2", "debugfs.ocfs2")
	img := testenv.MkfsOCFS2(t, testenv.Image{BlockSize: 512, ClusterSize: 4096, SizeMiB: 512, Slots: 32,
		Features: "noinline-data"})
	out := testenv.Run(t, "debugfs.ocfs2", "-R", "ls -l //", img)
	want := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ino, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		want[f[len(f)-1]] = ino
	}
	if len(want) < 32*6 {
		t.Fatalf("debugfs.ocfs2 ls // lists %d entries, want over %d", len(want), 32*6)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	sb, err := ReadSuperblock(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	v := &volume{r: f, size: fi.Size(), sb: sb}
	dir, err := v.readInode(sb.SystemDirBlkno, "system directory")
	if err != nil {
		t.Fatal(err)
	}
	if dir.size() < 8*512 || dir.inlineData() {
		t.Fatalf("system directory: %d bytes, inline %v; want many blocks in extents", dir.size(), dir.inlineData())
	}
	for _, name := range []string{"heartbeat", "orphan_dir:0000", "journal:0016", "truncate_log:0031", "local_alloc:0031"} {
		got, err := v.lookup(sb.SystemDirBlkno, name, "system directory")
		if err != nil || got != want[name] {
			t.Errorf("lookup(%q) = %d, %v, want %d (debugfs.ocfs2)", name, got, err, want[name])
		}
	}
	if _, err := v.lookup(sb.SystemDirBlkno, "journal:0032", "system directory"); !errors.Is(err, ErrNoHeartbeatFile) {
		t.Errorf("lookup(journal:0032) = %v, want no entry", err)
	}
	if _, err := Open(img); err != nil {
		t.Errorf("Open(%s) = %v", img, err)
	}
}

func TestLoopDevices(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "mkfs.ocfs2", "debugfs.ocfs2", "losetup")
	for _, tc := range []struct {
		block, sector int
		wantErr       error
	}{
		{4096, 4096, nil},
		{4096, 512, nil},
		{1024, 512, nil},
		{2048, 4096, ErrSectorSize}, // o2hb slots are sectors and must fit a block
		{512, 4096, ErrSectorSize},
	} {
		t.Run(fmt.Sprintf("b%d/s%d", tc.block, tc.sector), func(t *testing.T) {
			img := testenv.MkfsOCFS2(t, testenv.Image{BlockSize: tc.block, SizeMiB: minSizeMiB(tc.block, 4096)})
			dev := testenv.LoopDevice(t, img, tc.sector)
			f, err := os.Open(dev)
			if err != nil {
				t.Fatal(err)
			}
			n, err := SectorSize(f)
			f.Close()
			if err != nil || n != tc.sector {
				t.Fatalf("SectorSize(%s) = %d, %v, want %d", dev, n, err, tc.sector)
			}
			vol, err := Open(dev)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), dev) {
					t.Fatalf("Open(%s) = %v, want %v naming the device", dev, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%s) = %v", dev, err)
			}
			blocks, clusters, _ := debugfsExtents(t, img, "//heartbeat")
			want := Geometry{
				Geometry: hbdisk.Geometry{BlockBytes: tc.sector, StartBlock: blocks[0] * uint64(tc.block) / uint64(tc.sector), Blocks: 255},
				Extent:   hbdisk.Extent{Offset: int64(blocks[0]) * int64(tc.block), Bytes: int64(clusters[0]) * 4096},
			}
			if vol.Heartbeat != want {
				t.Errorf("Open(%s).Heartbeat = %+v, want %+v", dev, vol.Heartbeat, want)
			}
			// The real device search finds the loop device by UUID
			// through /proc/partitions.
			got, err := FindByUUID(strings.ToLower(vol.UUID), ScanOptions{})
			if err != nil || got != dev {
				t.Errorf("FindByUUID(%s) = %q, %v, want %s", vol.UUID, got, err, dev)
			}
		})
	}
}
