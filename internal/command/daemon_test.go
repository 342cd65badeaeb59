package command

import (
	"runtime"
	"testing"
)

// TestRaiseProcs: the daemon's Ps follow what it asks for, only ever
// upwards, and a GOMAXPROCS from the environment is left alone.
func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Setenv("GOMAXPROCS", "")
	for _, step := range []struct{ want, got int }{{1, 1}, {2, 2}, {13, 13}, {2, 13}, {64, 64}} {
		raiseProcs(step.want)
		if got := runtime.GOMAXPROCS(0); got != step.got {
			t.Errorf("raiseProcs(%d): GOMAXPROCS %d, want %d", step.want, got, step.got)
		}
	}
	runtime.GOMAXPROCS(1)
	t.Setenv("GOMAXPROCS", "1")
	raiseProcs(8)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: GOMAXPROCS %d, want 1", got)
	}
}
