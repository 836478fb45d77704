package core

import (
	"math/rand/v2"
	"time"
)

// Backoff is an automatic reconnection policy: the n-th attempt in a row
// waits Initial·2ⁿ⁻¹, capped at Max, less a random part of up to Jitter
// of it (so that many clients of one server do not come back together).
// A successful connect starts over. The zero value uses the defaults.
type Backoff struct {
	Initial time.Duration // DefaultBackoffInitial when zero
	Max     time.Duration // DefaultBackoffMax when zero
	Jitter  float64       // 0..1; DefaultBackoffJitter when zero
}

// Defaults of Backoff.
const (
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultBackoffJitter  = 0.2
)

// delay is the wait before attempt n (1, 2, ...).
func (b *Backoff) delay(n int) time.Duration {
	initial, maxD, jitter := b.Initial, b.Max, b.Jitter
	if initial <= 0 {
		initial = DefaultBackoffInitial
	}
	if maxD <= 0 {
		maxD = DefaultBackoffMax
	}
	if jitter <= 0 || jitter > 1 {
		jitter = DefaultBackoffJitter
	}
	d := initial
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d - time.Duration(rand.Float64()*jitter*float64(d))
}
