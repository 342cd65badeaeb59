// Package retry is the schedule on which the heartbeat daemon retries a
// failed cluster region: the first retry comes First after the failure,
// each next one twice as long after the end of the one before, up to Max.
//
//	var b retry.Backoff              // zero: DefaultFirst, DefaultMax
//	b.Pause(0)                       // 1s: from the failure to retry 1
//	b.Pause(3)                       // 8s: from the end of retry 3 to retry 4
//	b.Pause(100)                     // 1m0s: capped
//
// The daemon's status reports where a region is in it (Retries, RetryAt);
// tests of the daemon compute their bounds from it.
package retry

import (
	"fmt"
	"time"
)

// The defaults of a zero Backoff.
const (
	DefaultFirst = time.Second
	DefaultMax   = time.Minute
)

// MaxPause bounds Backoff.Max, so that doubling never overflows.
const MaxPause = 24 * time.Hour

// Backoff spaces the retries of a failed region. Zero fields take
// DefaultFirst and DefaultMax (at least First).
type Backoff struct {
	First time.Duration // pause before the first retry
	Max   time.Duration // the pauses double up to this
}

// WithDefaults returns b with its zero fields set.
func (b Backoff) WithDefaults() Backoff {
	if b.First == 0 {
		b.First = DefaultFirst
	}
	if b.Max == 0 {
		b.Max = max(DefaultMax, b.First)
	}
	return b
}

// Validate checks b, defaults applied: 0 < First <= Max <= MaxPause.
func (b Backoff) Validate() error {
	if b.First < 0 || b.Max < b.First || b.Max > MaxPause {
		return fmt.Errorf("retry backoff %v doubling to %v: want 0 < first <= max <= %v", b.First, b.Max, MaxPause)
	}
	return nil
}

// Pause is how long the daemon waits before retry n+1 of a failed
// region, after its failure (n = 0) or after the end of retry n.
func (b Backoff) Pause(n int) time.Duration {
	b = b.WithDefaults()
	p := b.First
	for range n {
		if p >= b.Max {
			break
		}
		p *= 2
	}
	return min(p, b.Max)
}
