package hbd

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
)

// Regions are spread evenly over the phases of the interval, each new one
// on the least used phase, so that they do not all tick at once.
func TestRegionsSpreadOverPhases(t *testing.T) {
	iv := 200 * time.Millisecond
	d := &Daemon{cfg: Config{Interval: iv}, regions: map[string]*region{}, epoch: time.Unix(1000, 0)}
	eng, err := hbdisk.NewRegion(hbdisk.Config{Device: "none", Geometry: hbdisk.Geometry{BlockBytes: 512, Blocks: 4}, Node: 1})
	if err != nil {
		t.Fatal(err)
	}
	count := func() (use [Phases]int) {
		for _, r := range d.regions {
			use[r.phase]++
		}
		return use
	}
	for i := range 3*Phases + 2 {
		r := &region{uuid: fmt.Sprint(i)}
		d.regions[r.uuid] = r
		r.phase, r.eng = d.freePhase(r), eng
		use := count()
		lo, hi := use[0], use[0]
		for _, u := range use {
			lo, hi = min(lo, u), max(hi, u)
		}
		if hi-lo > 1 {
			t.Fatalf("after %d regions, phases used %v", i+1, use)
		}
	}
	// A region gone frees its phase for the next one.
	gone := d.regions["5"]
	delete(d.regions, "5")
	r := &region{uuid: "new"}
	d.regions[r.uuid] = r
	if got := d.freePhase(r); got != gone.phase {
		t.Errorf("new region on phase %d, want the freed phase %d", got, gone.phase)
	}
	for p := range Phases {
		if got, want := d.anchor(p).Sub(d.epoch), time.Duration(p)*iv/Phases; got != want {
			t.Errorf("anchor(%d) = epoch + %v, want + %v", p, got, want)
		}
	}
	if got := d.regionConfig(&region{phase: 3, vol: &ocfs2.Volume{}}).Anchor; !got.Equal(d.anchor(3)) {
		t.Errorf("region config anchor = %v, want phase 3's %v", got, d.anchor(3))
	}
}

// The daemon has a P for every region of its largest phase, so that a
// region's iteration does not wait for Ps held by blocked device calls;
// a GOMAXPROCS from the environment is left alone.
func TestProcsFollowTheLargestPhase(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Setenv("GOMAXPROCS", "")
	d := &Daemon{cfg: Config{Interval: time.Second}, regions: map[string]*region{}, epoch: time.Now()}
	eng, err := hbdisk.NewRegion(hbdisk.Config{Device: "none", Geometry: hbdisk.Geometry{BlockBytes: 512, Blocks: 4}, Node: 1})
	if err != nil {
		t.Fatal(err)
	}
	add := func(n int) {
		for range n {
			r := &region{uuid: fmt.Sprint(len(d.regions))}
			d.regions[r.uuid] = r
			r.phase = d.freePhase(r)
			d.ensureProcs(r)
			r.eng = eng
		}
	}
	add(Phases)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("one region a phase: GOMAXPROCS %d, want 1 (as it was)", got)
	}
	add(2*Phases + 1)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("up to 4 regions a phase: GOMAXPROCS %d, want 4", got)
	}
	add(MaxProcs * Phases)
	if got := runtime.GOMAXPROCS(0); got != MaxProcs {
		t.Errorf("many regions: GOMAXPROCS %d, want at most %d", got, MaxProcs)
	}
	runtime.GOMAXPROCS(1)
	t.Setenv("GOMAXPROCS", "1")
	add(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d, want 1", got)
	}
}
