package hbdisk

import (
	"math"
	"testing"
)

func TestWriteInside(t *testing.T) {
	// 4 KiB filesystem blocks, heartbeat file at block 273, 1 MiB,
	// 512-byte sectors: the geometry of a small OCFS2 volume.
	g := Geometry{BlockBytes: 512, StartBlock: 2184, Blocks: 255}
	ext := Extent{Offset: 273 * 4096, Bytes: 1 << 20}
	if got, want := g.SlotOffset(1), int64(273*4096+512); got != want {
		t.Errorf("SlotOffset(1) = %d, want %d", got, want)
	}
	if got, want := g.Slots(), (Extent{Offset: 273 * 4096, Bytes: 255 * 512}); got != want {
		t.Errorf("Slots() = %+v, want %+v", got, want)
	}
	end := g.SlotOffset(255)
	for _, tc := range []struct {
		name   string
		ext    Extent
		off, n int64
		want   bool
	}{
		{"slot 0", ext, g.SlotOffset(0), 512, true},
		{"slot 254", ext, g.SlotOffset(254), 512, true},
		{"every slot at once", ext, g.SlotOffset(0), 255 * 512, true},
		{"a byte before the slots", ext, g.SlotOffset(0) - 1, 512, false},
		{"a byte past slot 254", ext, g.SlotOffset(254) + 1, 512, false},
		{"inside the extent, past the slots", ext, end, 512, false},
		{"nothing", ext, g.SlotOffset(3), 0, false},
		{"negative length", ext, g.SlotOffset(3), -1, false},
		{"negative offset", ext, -512, 512, false},
		{"end overflows", ext, g.SlotOffset(3), math.MaxInt64, false},
		{"slot beyond a short extent", Extent{Offset: 273 * 4096, Bytes: 100 * 512}, g.SlotOffset(200), 512, false},
		{"last slot of a short extent", Extent{Offset: 273 * 4096, Bytes: 100 * 512}, g.SlotOffset(99), 512, true},
		{"no extent: the slots only", Extent{}, g.SlotOffset(254), 512, true},
		{"no extent, past the slots", Extent{}, end, 512, false},
		{"extent past the largest offset", Extent{Offset: math.MaxInt64 - 1024, Bytes: 4096}, g.SlotOffset(0), 512, false},
		{"extent with a negative offset", Extent{Offset: -4096, Bytes: 1 << 30}, g.SlotOffset(0), 512, false},
	} {
		if got := g.WriteInside(tc.ext, tc.off, tc.n); got != tc.want {
			t.Errorf("%s: WriteInside(%+v, %d, %d) = %v, want %v", tc.name, tc.ext, tc.off, tc.n, got, tc.want)
		}
	}
	for _, z := range []Geometry{{}, {BlockBytes: 512}, {Blocks: 255}, {BlockBytes: 512, StartBlock: math.MaxUint64 / 512, Blocks: 255}} {
		if z.WriteInside(Extent{}, z.SlotOffset(0), 512) || z.WriteInside(Extent{}, 0, 1) {
			t.Errorf("%+v: WriteInside = true, want false for a geometry without slots on the device", z)
		}
	}
}
