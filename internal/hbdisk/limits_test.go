package hbdisk

import (
	"testing"
	"time"
)

func TestCheckInterval(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want bool
	}{
		{0, false},
		{-time.Second, false},
		{MinInterval - time.Nanosecond, false},
		{MinInterval, true},
		{DefaultInterval, true},
		{MaxInterval, true},
		{MaxInterval + time.Nanosecond, false},
	} {
		if err := CheckInterval(tc.d); (err == nil) != tc.want {
			t.Errorf("CheckInterval(%v) = %v, want ok %v", tc.d, err, tc.want)
		}
	}
}

func TestCheckIntervalMS(t *testing.T) {
	for _, tc := range []struct {
		ms   int
		want bool
	}{
		{-10, false},
		{0, false},
		{9, false},
		{10, true},
		{2000, true},
		{60000, true},
		{60001, false},
		{1 << 62, false}, // as a Duration of milliseconds it would wrap
	} {
		if err := CheckIntervalMS(tc.ms); (err == nil) != tc.want {
			t.Errorf("CheckIntervalMS(%d) = %v, want ok %v", tc.ms, err, tc.want)
		}
		if tc.ms >= 0 && tc.ms <= 60001 {
			if ms, d := CheckIntervalMS(tc.ms), CheckInterval(time.Duration(tc.ms)*time.Millisecond); (ms == nil) != (d == nil) {
				t.Errorf("CheckIntervalMS(%d) = %v but CheckInterval(%d ms) = %v", tc.ms, ms, tc.ms, d)
			}
		}
	}
}

func TestCheckDeadThreshold(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want bool
	}{
		{-1, false},
		{0, false},
		{2, false}, // the kernel ignores it
		{MinDeadThreshold, true},
		{DefaultDeadThreshold, true},
		{1000, true},
		{MaxDeadThreshold, true},
		{MaxDeadThreshold + 1, false},
	} {
		if err := CheckDeadThreshold(tc.n); (err == nil) != tc.want {
			t.Errorf("CheckDeadThreshold(%d) = %v, want ok %v", tc.n, err, tc.want)
		}
	}
	// The largest threshold still fits hb_dead_ms, the next does not.
	if ms := uint64(MaxDeadThreshold) * deadMSPerIteration; ms > 1<<32-1 || ms+deadMSPerIteration <= 1<<32-1 {
		t.Errorf("MaxDeadThreshold %d gives dead_ms %d, want the largest that fits 32 bits", MaxDeadThreshold, ms)
	}
}
