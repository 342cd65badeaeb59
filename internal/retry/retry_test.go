package retry

import (
	"testing"
	"time"
)

func TestBackoffPause(t *testing.T) {
	for _, c := range []struct {
		b    Backoff
		want []time.Duration // Pause(0), Pause(1), ...
	}{
		{Backoff{}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
			16 * time.Second, 32 * time.Second, time.Minute, time.Minute}},
		{Backoff{First: 300 * time.Millisecond, Max: time.Second}, []time.Duration{300 * time.Millisecond,
			600 * time.Millisecond, time.Second, time.Second}},
		{Backoff{First: 2 * time.Minute}, []time.Duration{2 * time.Minute, 2 * time.Minute}},
	} {
		for n, want := range c.want {
			if got := c.b.Pause(n); got != want {
				t.Errorf("%+v.Pause(%d) = %v, want %v", c.b, n, got, want)
			}
		}
	}
	if got := (Backoff{}).Pause(1 << 30); got != DefaultMax {
		t.Errorf("Pause after 2^30 retries = %v, want the cap %v", got, DefaultMax)
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, c := range []struct {
		b  Backoff
		ok bool
	}{
		{Backoff{}, true},
		{Backoff{First: 2 * time.Minute}, true}, // Max defaults to First
		{Backoff{First: time.Millisecond, Max: MaxPause}, true},
		{Backoff{First: -time.Second}, false},
		{Backoff{First: 2 * time.Second, Max: time.Second}, false},
		{Backoff{Max: 48 * time.Hour}, false},
	} {
		if err := c.b.WithDefaults().Validate(); (err == nil) != c.ok {
			t.Errorf("%+v.WithDefaults().Validate() = %v, want ok %v", c.b, err, c.ok)
		}
	}
}
