package hbdisk_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

// recorder remembers the last block that reached the device, and can
// freeze the device so that the slots stay as they are for an oracle.
type recorder struct {
	hbdisk.Device
	mu     sync.Mutex
	frozen bool
	last   []byte
}

func (d *recorder) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.frozen {
		return len(p), nil
	}
	n, err := d.Device.WriteAt(p, off)
	if err == nil {
		d.last = append(d.last[:0], p...)
	}
	return n, err
}

func (d *recorder) freeze() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frozen = true
	return slices.Clone(d.last)
}

// debugfsSlot is one row of `debugfs.ocfs2 -R hb`.
type debugfsSlot struct {
	node          int
	seq, gen      uint64
	cksum, deadMS uint64
}

// debugfsHB runs debugfs.ocfs2 -R hb on path and parses its rows.
func debugfsHB(t *testing.T, path string) map[int]debugfsSlot {
	t.Helper()
	out := testenv.Run(t, "debugfs.ocfs2", "-R", "hb", path)
	rows := map[int]debugfsSlot{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 || !strings.HasSuffix(f[0], ":") || f[0] == "node:" {
			continue
		}
		var r debugfsSlot
		var err error
		if r.node, err = strconv.Atoi(f[1]); err != nil {
			t.Fatalf("debugfs row %q: %v", sc.Text(), err)
		}
		for i, dst := range []*uint64{&r.seq, &r.gen, &r.cksum} {
			if *dst, err = strconv.ParseUint(f[2+i], 16, 64); err != nil {
				t.Fatalf("debugfs row %q: %v", sc.Text(), err)
			}
		}
		if r.deadMS, err = strconv.ParseUint(f[5], 10, 32); err != nil {
			t.Fatalf("debugfs row %q: %v", sc.Text(), err)
		}
		rows[r.node] = r
	}
	return rows
}

// hashOutside hashes the image without the slots of nodes.
func hashOutside(t *testing.T, img string, g hbdisk.Geometry, nodes []int) [32]byte {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		off := g.SlotOffset(n)
		clear(b[off : off+int64(g.BlockBytes)])
	}
	return sha256.Sum256(b)
}

// TestRealImage heartbeats as nodes 0, 7 and 254 on an image made by
// mkfs.ocfs2, as a file and through loop devices with 512- and 4096-byte
// sectors, and checks the slots with debugfs.ocfs2 and an independent
// CRC, the geometry against the sector size, and that nothing outside the
// three slots changed.
func TestRealImage(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2", "debugfs.ocfs2")
	for _, tc := range []struct {
		name   string
		sector int // 0: the image file itself
	}{
		{"file", 0},
		{"loop512", 512},
		{"loop4096", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testenv.MkfsOCFS2(t, testenv.Image{BlockSize: 4096, ClusterSize: 4096, SizeMiB: 64})
			path := img
			if tc.sector != 0 {
				path = testenv.LoopDevice(t, img, tc.sector)
			}
			v, err := ocfs2.Open(path)
			if err != nil {
				t.Fatalf("ocfs2.Open(%s) = %v", path, err)
			}
			want := max(tc.sector, 512)
			g := v.Heartbeat.Geometry
			if g.BlockBytes != want || g.Blocks != hbdisk.MaxNodes {
				t.Fatalf("geometry of %s = %+v, want %d-byte slots, 255 blocks", path, g, want)
			}
			if got := g.SlotOffset(0); got != v.Heartbeat.Extent.Offset {
				t.Fatalf("slot 0 at byte %d, heartbeat extent at %d", got, v.Heartbeat.Extent.Offset)
			}
			nodes := []int{0, 7, 254}
			before := hashOutside(t, img, g, nodes)

			recs := map[int]*recorder{}
			var regions []*hbdisk.Region
			for _, n := range nodes {
				dev, err := hbdisk.OpenDirect(path)
				if err != nil {
					t.Fatal(err)
				}
				rec := &recorder{Device: dev}
				recs[n] = rec
				r, err := hbdisk.NewRegion(hbdisk.Config{
					UUID: v.UUID, Device: path,
					Open:     func() (hbdisk.Device, error) { return rec, nil },
					Verify:   func(d hbdisk.Device) error { return v.Recheck(hbdisk.ReaderAt(d)) },
					Geometry: g,
					Extent:   v.Heartbeat.Extent,
					Node:     n, Nodes: nodes,
					Interval: 100 * time.Millisecond, DeadThreshold: 5,
				})
				if err != nil {
					t.Fatal(err)
				}
				regions = append(regions, r)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(regions))
			for i, r := range regions {
				wg.Go(func() { errs[i] = r.Start(t.Context()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Start(node %d) on %s = %v", nodes[i], path, err)
				}
			}
			time.Sleep(400 * time.Millisecond)
			for _, r := range regions {
				if st := r.Status(); !slices.Equal(st.LiveNodes, nodes) || st.State != hbdisk.Steady {
					t.Errorf("node %d: state %s live %v, want steady %v", st.Node, st.State, st.LiveNodes, nodes)
				}
			}
			// Freeze every writer and let in-flight writes land.
			last := map[int]hbdisk.Slot{}
			for _, n := range nodes {
				last[n] = hbdisk.Slot(recs[n].freeze())
			}
			time.Sleep(50 * time.Millisecond)
			for _, n := range nodes {
				if err := last[n].Validate(n); err != nil {
					t.Fatalf("last block of node %d: %v", n, err)
				}
				b := last[n]
				cp := slices.Clone([]byte(b))
				cp[hbdisk.OffCksum], cp[hbdisk.OffCksum+1], cp[hbdisk.OffCksum+2], cp[hbdisk.OffCksum+3] = 0, 0, 0, 0
				if got := hbdisk.CRC32LE(cp); got != b.StoredChecksum() {
					t.Errorf("node %d: independent crc %#08x, stored %#08x", n, got, b.StoredChecksum())
				}
			}
			// debugfs.ocfs2 reads 512-byte slots only.
			if g.BlockBytes == 512 {
				rows := debugfsHB(t, path)
				var seen []int
				for n := range rows {
					seen = append(seen, n)
				}
				slices.Sort(seen)
				if !slices.Equal(seen, nodes) {
					t.Errorf("debugfs.ocfs2 -R hb lists nodes %v, want %v", seen, nodes)
				}
				for _, n := range nodes {
					b := last[n].Block()
					want := debugfsSlot{node: n, seq: b.Seq, gen: b.Generation, cksum: uint64(b.Checksum), deadMS: uint64(b.DeadMS)}
					if rows[n] != want {
						t.Errorf("debugfs row of node %d = %+v, want %+v", n, rows[n], want)
					}
				}
			} else {
				// 4096-byte stride: read the image file directly.
				raw, err := os.ReadFile(img)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range nodes {
					got := hbdisk.Slot(raw[g.SlotOffset(n):][:g.BlockBytes])
					if string(got) != string(last[n]) {
						t.Errorf("node %d's slot at byte %d is not its last block", n, g.SlotOffset(n))
					}
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			for _, r := range regions {
				r.Stop(ctx)
			}
			if after := hashOutside(t, img, g, nodes); after != before {
				t.Fatal("bytes outside the three slots changed")
			}
		})
	}
}
