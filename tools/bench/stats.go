package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// histogram records durations in log-linear buckets: exact below 64 ns,
// then 32 buckets per power of two (about 3 % wide). Its size is fixed, so
// a long run costs no more memory than a short one.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits // buckets per power of two
	histLinear  = 2 * histSub      // values below this are exact
	histMaxExp  = 40               // up to 2^46 ns (about 19 hours)
	histBuckets = histLinear + histMaxExp*histSub
)

func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - (histSubBits + 1) // >= 1
	if e > histMaxExp {
		return histBuckets - 1
	}
	m := v >> e // in [histSub, 2*histSub)
	return histLinear + (e-1)*histSub + int(m-histSub)
}

// histBounds returns the smallest value of bucket i and the bucket's width.
func histBounds(i int) (lo, width uint64) {
	if i < histLinear {
		return uint64(i), 1
	}
	e := (i-histLinear)/histSub + 1
	m := uint64((i-histLinear)%histSub + histSub)
	return m << e, 1 << e
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the duration below which a fraction q of the records
// lie (the middle of the bucket holding it); 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := histBounds(i)
			return time.Duration(lo + w/2)
		}
	}
	return 0
}

// median of xs (mean of the two middle values for an even count); NaN for
// none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// ratio is v relative to best: 1 is the best value, above 1 is more
// (faster for throughput, worse for costs). NaN when either is missing.
func ratio(v, best float64) float64 {
	if best == 0 || math.IsNaN(best) || math.IsNaN(v) || math.IsInf(best, 0) {
		return math.NaN()
	}
	return v / best
}

// bestOf returns the highest (higherBetter) or lowest positive value of
// xs, ignoring NaNs and zeros; NaN when there is none.
func bestOf(xs []float64, higherBetter bool) float64 {
	best := math.NaN()
	for _, x := range xs {
		if math.IsNaN(x) || x <= 0 {
			continue
		}
		if math.IsNaN(best) || (higherBetter && x > best) || (!higherBetter && x < best) {
			best = x
		}
	}
	return best
}
