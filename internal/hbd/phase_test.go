package hbd

import (
	"fmt"
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
