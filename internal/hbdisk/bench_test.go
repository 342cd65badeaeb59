package hbdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// benchRegion is a region of node 1 with 255 slots on the device open
// returns, ready for iterate: generation drawn, watchdog made, as Start
// leaves them.
func benchRegion(b *testing.B, uuid, device string, open func() (Device, error)) *Region {
	r, err := NewRegion(Config{
		UUID: uuid, Device: device, Open: open,
		Geometry: tGeometry, Node: 1, Interval: MaxInterval, DeadThreshold: 31,
	})
	if err != nil {
		b.Fatal(err)
	}
	r.gen = newGeneration()
	r.lastGood = time.Now()
	r.watchdog = time.AfterFunc(time.Hour, r.hang)
	r.watchdog.Stop()
	return r
}

// BenchmarkIteration255 is one whole iteration of a region with 255
// configured slots on an in-memory disk: read, own-slot check, write,
// 255 samples (the device's own cost excluded).
func BenchmarkIteration255(b *testing.B) {
	disk := testDisk()
	r := benchRegion(b, "BENCH", "memdisk", func() (Device, error) { return disk.Device(), nil })
	b.ResetTimer()
	for range b.N {
		if err := r.iterate(time.Now()); err != nil {
			b.Fatal(err)
		}
		r.lastGood = time.Now()
	}
}

// BenchmarkIterationFile255 is Iteration255 through the kernel: the
// region's device is a file opened with O_DIRECT, so that each iteration
// makes the daemon's two calls, one pread of the 255 slots and one pwrite
// of our own. The file is made in $O2CB_BENCH_DIR when set (the bench
// points it at the medium of its load runs), else in a temporary
// directory. Besides the time, it reports the process's CPU per iteration
// (cpu-ns/op, sys-ns/op for the kernel's part): the floor the bench holds
// a daemon's CPU per region-iteration against, on the same medium.
func BenchmarkIterationFile255(b *testing.B) { benchIterationFiles(b, 1) }

// BenchmarkIterationFile255x32 is IterationFile255 over 32 regions, each
// on its own file, one iteration of each in turn: the working set of a
// daemon with 32 regions (two 130,560-byte buffers a region, the device
// cache's pages of 32 files), which one region's loop keeps in the CPU's
// caches. ns/op and the CPU metrics are per region-iteration.
func BenchmarkIterationFile255x32(b *testing.B) { benchIterationFiles(b, 32) }

// benchIterationFiles runs n regions on files of their own, an iteration
// of each in turn, and reports per region-iteration.
func benchIterationFiles(b *testing.B, n int) {
	dir := b.TempDir()
	if d := os.Getenv("O2CB_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "floor"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	regions := make([]*Region, n)
	for i := range regions {
		path := filepath.Join(dir, fmt.Sprintf("slots%02d.img", i))
		if err := os.WriteFile(path, make([]byte, (tStart+MaxNodes+8)*512), 0o600); err != nil {
			b.Fatal(err)
		}
		r := benchRegion(b, fmt.Sprintf("BENCH%02d", i), path, func() (Device, error) { return OpenDirect(path) })
		defer r.reopenLater()
		regions[i] = r
	}
	var ru0, ru1 unix.Rusage
	b.ResetTimer()
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	for i := range b.N {
		r := regions[i%n]
		if err := r.iterate(time.Now()); err != nil {
			b.Fatal(err)
		}
		r.lastGood = time.Now()
	}
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	b.StopTimer()
	sys := time.Duration(ru1.Stime.Nano() - ru0.Stime.Nano())
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + sys
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(sys)/float64(b.N), "sys-ns/op")
}
