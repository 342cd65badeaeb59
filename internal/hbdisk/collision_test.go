package hbdisk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The collision error leads with both generations in short form, so that
// an exit reason (Pacemaker keeps 128 characters) names them, and ends
// with the full values for the log.
func TestCollisionErrorNamesBothGenerations(t *testing.T) {
	const uuid = "0123456789ABCDEF0123456789ABCDEF"
	r, err := NewRegion(Config{UUID: uuid, Device: "/dev/sdx", Geometry: tGeometry, Node: 7})
	if err != nil {
		t.Fatal(err)
	}
	const ours, foreign = 0x0badcafe12345678, 0xfeedface87654321
	r.gen, r.lastSeq = ours, 1000
	block := func(b Block, corrupt bool) Slot {
		s := Slot(make([]byte, 512))
		s.Encode(b)
		if corrupt {
			s[100] ^= 1
		}
		return s
	}
	tests := []struct {
		name string
		got  Slot
		head string // the message after "region <uuid>: "
	}{
		{"another generation", block(Block{Seq: 1001, Node: 7, Generation: foreign}, false),
			"gen feedface in our slot, ours 0badcafe: "},
		{"another node number", block(Block{Seq: 1001, Node: 9, Generation: foreign}, false),
			"node 9 gen feedface in our slot, ours 0badcafe: "},
		{"a bad checksum", block(Block{Seq: 1001, Node: 7, Generation: foreign}, true),
			"bad checksum in our slot (gen feedface), ours 0badcafe: "},
		{"our generation, another seq", block(Block{Seq: 1005, Node: 7, Generation: ours}, false),
			"seq 1005 in our slot, we wrote 1000 (gen 0badcafe): "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.collisionError(tc.got)
			if !errors.Is(err, ErrCollision) {
				t.Fatalf("collisionError() = %v, want ErrCollision", err)
			}
			msg := err.Error()
			if want := "region " + uuid + ": " + tc.head; !strings.HasPrefix(msg, want) {
				t.Errorf("collisionError() = %q, want it to begin %q", msg, want)
			}
			for _, g := range []uint64{ours, tc.got.Generation()} {
				if full := fmt.Sprintf("generation %#x", g); !strings.Contains(msg, full) {
					t.Errorf("collisionError() = %q, want %q in it", msg, full)
				}
			}
			if !strings.Contains(msg, "/dev/sdx") {
				t.Errorf("collisionError() = %q, want the device in it", msg)
			}
		})
	}
}
