package hbdisk

import (
	"testing"
	"time"
)

func BenchmarkSlotEncode512(b *testing.B) {
	s := Slot(AlignedBuffer(512))
	for i := range b.N {
		s.Encode(Block{Seq: uint64(i), Node: 3, Generation: 0x0123456789abcdef, DeadMS: 62000})
	}
}

func BenchmarkSlotValidate512(b *testing.B) {
	s := Slot(AlignedBuffer(512))
	s.Encode(Block{Seq: 1, Node: 3, Generation: 7, DeadMS: 62000})
	for range b.N {
		if s.Validate(3) != nil {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkTrackerObserve255 is the liveness work of one iteration over a
// full region: 255 slots, every node live and writing.
func BenchmarkTrackerObserve255(b *testing.B) {
	nodes := make([]int, MaxNodes)
	for i := range nodes {
		nodes[i] = i
	}
	tr, _ := NewTracker(31, 62000, nodes)
	buf := AlignedBuffer(MaxNodes * 512)
	slots := make([]Slot, MaxNodes)
	for n := range slots {
		slots[n] = Slot(buf[n*512 : (n+1)*512])
	}
	var evs []Event
	b.ResetTimer()
	for i := range b.N {
		for n, s := range slots {
			s.Encode(Block{Seq: uint64(i + 1), Node: uint8(n), Generation: 1, DeadMS: 62000})
		}
		b.StartTimer()
		for n, s := range slots {
			evs = tr.Observe(evs[:0], n, s, s.Validate(n))
		}
		b.StopTimer()
	}
}

// BenchmarkIteration255 is one whole iteration of a region with 255
// configured slots on an in-memory disk: read, own-slot check, write,
// 255 samples (the device's own cost excluded).
func BenchmarkIteration255(b *testing.B) {
	disk := testDisk()
	r, err := NewRegion(Config{
		UUID: "BENCH", Device: "memdisk", Open: func() (Device, error) { return disk.Device(), nil },
		Geometry: tGeometry, Node: 1, Interval: MaxInterval, DeadThreshold: 31,
	})
	if err != nil {
		b.Fatal(err)
	}
	r.gen = newGeneration()
	r.lastGood = time.Now()
	r.watchdog = time.AfterFunc(time.Hour, r.hang)
	r.watchdog.Stop()
	b.ResetTimer()
	for range b.N {
		if err := r.iterate(time.Now()); err != nil {
			b.Fatal(err)
		}
		r.lastGood = time.Now()
	}
}
