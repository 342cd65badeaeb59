package hbdisk

import (
	"encoding/hex"
	"errors"
	"hash/crc32"
	"testing"
)

// crc32LE is an independent bitwise crc32_le(0, p): reflected polynomial
// 0xEDB88320, seed 0, no final inversion, as lib/crc32.c computes it.
func crc32LE(p []byte) uint32 {
	var crc uint32
	for _, b := range p {
		crc ^= uint32(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xEDB88320
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

func TestCRC32LECheckValue(t *testing.T) {
	if got, want := crc32LE([]byte("123456789")), uint32(0x2dfd2d88); got != want {
		t.Fatalf("crc32LE(123456789) = %#x, want %#x", got, want)
	}
	if got, want := ^crc32.Update(0xffffffff, crc32.IEEETable, []byte("123456789")), uint32(0x2dfd2d88); got != want {
		t.Fatalf("library crc32_le(123456789) = %#x, want %#x", got, want)
	}
}

func TestEncodeGolden(t *testing.T) {
	b := Block{Seq: 1600000000, Node: 3, Generation: 0x0123456789abcdef, DeadMS: 62000}
	for _, tc := range []struct {
		size int
		want uint32
	}{
		{512, 0xe51cdeac},
		{4096, 0x860f3922},
	} {
		s := Slot(make([]byte, tc.size))
		for i := range s {
			s[i] = 0xa5 // Encode must clear what was there
		}
		s.Encode(b)
		if got := s.StoredChecksum(); got != tc.want {
			t.Errorf("Encode(%v) in %d bytes: checksum = %#08x, want %#08x", b, tc.size, got, tc.want)
		}
		cp := append([]byte(nil), s...)
		cp[offCksum], cp[offCksum+1], cp[offCksum+2], cp[offCksum+3] = 0, 0, 0, 0
		if got := crc32LE(cp); got != tc.want {
			t.Errorf("independent crc of %d-byte slot = %#08x, want %#08x", tc.size, got, tc.want)
		}
		for i := headerBytes; i < tc.size; i++ {
			if s[i] != 0 {
				t.Fatalf("Encode left byte %d = %#x, want 0", i, s[i])
			}
		}
		got := s.Block()
		b.Checksum = tc.want
		if got != b {
			t.Errorf("Block() = %v, want %v", got, b)
		}
		if err := s.Validate(3); err != nil {
			t.Errorf("Validate(3) = %v, want nil", err)
		}
	}
}

// The first 28 bytes of node 1's slot as a Debian 6.1 kernel wrote them
// (FACTS: seq 0x6b023ff5, generation 0, dead_ms 62000, checksum 0x222fcc3e).
const kernelSlotHex = "f53f026b00000000010000003ecc2f2200000000000000003" + "0f20000"

func TestKernelWrittenSlot(t *testing.T) {
	hdr, err := hex.DecodeString(kernelSlotHex)
	if err != nil {
		t.Fatal(err)
	}
	s := Slot(make([]byte, 512))
	copy(s, hdr)
	want := Block{Seq: 0x6b023ff5, Node: 1, Checksum: 0x222fcc3e, Generation: 0, DeadMS: 62000}
	if got := s.Block(); got != want {
		t.Fatalf("Block() = %v, want %v", got, want)
	}
	if err := s.Validate(1); err != nil {
		t.Fatalf("Validate(1) of the kernel's block = %v, want nil", err)
	}
	re := Slot(make([]byte, 512))
	re.Encode(want)
	if string(re) != string(s) {
		t.Fatalf("Encode(%v) = %x, want the kernel's bytes %x", want, re[:headerBytes], s[:headerBytes])
	}
}

func TestValidateErrors(t *testing.T) {
	good := Slot(make([]byte, 512))
	good.Encode(Block{Seq: 99, Node: 7, Generation: 5, DeadMS: 62000})
	if err := good.Validate(7); err != nil {
		t.Fatalf("Validate(7) = %v", err)
	}
	if err := good.Validate(8); !errors.Is(err, ErrSlotOwner) {
		t.Errorf("Validate(8) of node 7's block = %v, want ErrSlotOwner", err)
	}
	if err := Slot(make([]byte, 500)).Validate(0); !errors.Is(err, ErrSlotSize) {
		t.Errorf("Validate of 500-byte slot = %v, want ErrSlotSize", err)
	}
	if err := Slot(make([]byte, 512)).Validate(9); err != nil {
		t.Errorf("Validate(9) of a blank slot = %v, want nil", err)
	}
	// Every single-byte corruption of any byte is caught by the checksum
	// (or, for the node byte, possibly by the owner check).
	for i := range good {
		bad := append(Slot(nil), good...)
		bad[i] ^= 0x40
		if err := bad.Validate(7); err == nil {
			t.Fatalf("Validate after flipping byte %d = nil, want an error", i)
		}
	}
}

func FuzzSlotDecode(f *testing.F) {
	hdr, _ := hex.DecodeString(kernelSlotHex)
	f.Add(append(hdr, make([]byte, 512-len(hdr))...))
	f.Add(make([]byte, 4096))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Slot(data)
		node := 0
		if len(data) > offNode {
			node = int(data[offNode])
		}
		err := s.Validate(node)
		if !ValidSlotSize(len(data)) {
			if !errors.Is(err, ErrSlotSize) {
				t.Fatalf("Validate of %d bytes = %v, want ErrSlotSize", len(data), err)
			}
			return
		}
		// Round trip: what decodes re-encodes to a slot that validates
		// and decodes to the same fields.
		b := s.Block()
		re := Slot(make([]byte, len(data)))
		re.Encode(b)
		if err := re.Validate(int(b.Node)); err != nil {
			t.Fatalf("re-encoded %v does not validate: %v", b, err)
		}
		got := re.Block()
		b.Checksum = got.Checksum
		if got != b {
			t.Fatalf("re-encoded Block() = %v, want %v", got, b)
		}
		if err == nil && allZero(data[headerBytes:]) && string(re) != string(data) {
			t.Fatalf("valid slot does not re-encode to its own bytes")
		}
	})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
