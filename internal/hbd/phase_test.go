package hbd

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// phaseDaemon is a daemon with only what placing regions needs; asked
// returns the Ps it last asked for (0: none yet).
func phaseDaemon(t *testing.T, interval time.Duration) (d *Daemon, add func(n int) []int, asked func() int) {
	t.Helper()
	want := 0
	d = &Daemon{cfg: Config{Interval: interval, Procs: func(n int) { want = n }}, regions: map[string]*region{}, epoch: time.Unix(1000, 0)}
	eng, err := hbdisk.NewRegion(hbdisk.Config{Device: "none", Geometry: hbdisk.Geometry{BlockBytes: 512, Blocks: 4}, Node: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d, func(n int) (phases []int) {
		for range n {
			r := &region{uuid: fmt.Sprint(len(d.regions))}
			d.regions[r.uuid] = r
			r.phase = d.freePhase(r)
			d.ensureProcs(r)
			r.eng = eng
			phases = append(phases, r.phase)
		}
		return phases
	}, func() int { return want }
}

// Regions fill a phase up to interval/PhaseShare, then take the next one;
// the phases in use are spread evenly over the interval.
func TestRegionsSharePhasesUpToTheirRoom(t *testing.T) {
	iv := 200 * time.Millisecond
	room := int(iv / PhaseShare)
	d, add, _ := phaseDaemon(t, iv)
	got := add(2*room + 1)
	want := slices.Concat(slices.Repeat([]int{0}, room), slices.Repeat([]int{1}, room), []int{2})
	if !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	// A region gone frees its place for the next one.
	delete(d.regions, "3")
	if got := add(1); got[0] != 0 {
		t.Errorf("new region on phase %d, want the freed place on phase 0", got[0])
	}
	for p, frac := range map[int]float64{0: 0, 1: 0.5, 2: 0.25, 3: 0.75, 4: 0.125, 63: 63.0 / 64} {
		if got, want := d.anchor(p).Sub(d.epoch), time.Duration(frac*float64(iv)); got != want {
			t.Errorf("anchor(%d) = epoch + %v, want + %v", p, got, want)
		}
	}
	if got := d.params(&region{phase: 3}).Anchor; !got.Equal(d.anchor(3)) {
		t.Errorf("region params anchor = %v, want phase 3's %v", got, d.anchor(3))
	}

	// At the shortest interval each region has a phase of its own, and
	// once every phase is full the least used takes the next.
	_, add, _ = phaseDaemon(t, 10*time.Millisecond)
	got = add(Phases + 2)
	for p := range Phases {
		if got[p] != p {
			t.Errorf("region %d at 10ms on phase %d, want %d", p, got[p], p)
		}
	}
	if got[Phases] != 0 || got[Phases+1] != 1 {
		t.Errorf("phases at 10ms: %v", got)
	}
}

// The daemon asks for enough Ps for the regions of its largest phase to
// begin within 1% of the interval, each call holding a P for procHold,
// so that a region's iteration does not wait for Ps held by blocked
// device calls. (The daemon command's hook only ever raises GOMAXPROCS
// and leaves one from the environment alone: TestRaiseProcs.)
func TestProcsFollowTheLargestPhase(t *testing.T) {
	iv := 400 * procHold // 4 ms of it for a phase to begin: 4 Ps for 16
	_, add, asked := phaseDaemon(t, iv)
	room := int(iv / PhaseShare)
	add(4)
	if got := asked(); got != 1 {
		t.Errorf("4 regions: asked for %d Ps, want 1", got)
	}
	add(1)
	if got := asked(); got != 2 {
		t.Errorf("5 regions: asked for %d Ps, want 2", got)
	}
	add(3*room - 5)
	if got, want := asked(), (room+3)/4; got != want {
		t.Errorf("%d regions, %d a phase: asked for %d Ps, want %d", 3*room, room, got, want)
	}
	_, add, asked = phaseDaemon(t, 2*time.Second)
	add(32)
	if got := asked(); got != 2 {
		t.Errorf("32 regions at 2 s, all on one phase: asked for %d Ps, want 2", got)
	}
	_, add, asked = phaseDaemon(t, 10*time.Millisecond)
	add(MaxProcs * Phases)
	if got := asked(); got != MaxProcs {
		t.Errorf("%d regions at 10 ms: asked for %d Ps, want at most %d", MaxProcs*Phases, got, MaxProcs)
	}
	// Without a hook the daemon asks for nothing, and touches nothing.
	before := runtime.GOMAXPROCS(0)
	d := &Daemon{cfg: Config{Interval: 10 * time.Millisecond}, regions: map[string]*region{}}
	for i := range 2 * MaxProcs * Phases {
		r := &region{uuid: fmt.Sprint(i)}
		d.regions[r.uuid] = r
		r.phase = d.freePhase(r)
		d.ensureProcs(r)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("with no Procs hook, GOMAXPROCS went from %d to %d", before, got)
	}
}
