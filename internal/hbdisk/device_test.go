package hbdisk

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{512, 4096, 255 * 512, 255 * 4096} {
		b := AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if p := uintptr(unsafe.Pointer(&b[0])); p%Alignment != 0 {
			t.Fatalf("AlignedBuffer(%d) at %#x, not %d-aligned", n, p, Alignment)
		}
	}
}

// TestDirectIOOnFile runs O_DIRECT reads and writes on a regular file in
// the test's temporary directory, which is what file-backed regions use.
func TestDirectIOOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(path, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenDirect(path)
	if err != nil {
		testenv.Unavailable(t, "O_DIRECT in the temporary directory's file system: "+err.Error())
	}
	defer f.Close()
	g := Geometry{BlockBytes: 512, StartBlock: 4, Blocks: 100}
	s := Slot(AlignedBuffer(512))
	s.Encode(Block{Seq: 77, Node: 9, Generation: 3, DeadMS: 62000})
	if _, err := f.WriteAt(s, g.SlotOffset(9)); err != nil {
		t.Fatalf("O_DIRECT write: %v", err)
	}
	slots, err := ReadSlots(f, g, 8, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := slots[1].Block(); got.Seq != 77 || slots[1].Validate(9) != nil {
		t.Fatalf("ReadSlots()[1] = %v, want seq 77 of node 9", got)
	}
	// ReaderAt serves unaligned reads through the O_DIRECT descriptor.
	want, _ := os.ReadFile(path)
	got := make([]byte, 1000)
	if _, err := ReaderAt(f).ReadAt(got, g.SlotOffset(9)-3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want[g.SlotOffset(9)-3:][:1000]) {
		t.Fatal("ReaderAt returned other bytes than the file holds")
	}
	if _, err := ReaderAt(f).ReadAt(make([]byte, 10), 64<<10-5); err != io.EOF {
		t.Fatalf("ReaderAt past the end = %v, want io.EOF", err)
	}
	if _, err := ReadSlots(f, g, 5, 100); err == nil {
		t.Fatal("ReadSlots beyond the region's blocks = nil error")
	}
}
