package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	values := []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 1e6, 123456789, 1 << 45}
	for _, v := range values {
		i := histIndex(v)
		lo, w := histBounds(i)
		if v < lo || v >= lo+w {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		if v >= histLinear && float64(w)/float64(lo) > 1.0/histSub+1e-9 {
			t.Errorf("bucket of %d is %d wide at %d: over %.1f%%", v, w, lo, 100.0/histSub)
		}
	}
	// Buckets are contiguous and increasing.
	for i := 1; i < histBuckets; i++ {
		plo, pw := histBounds(i - 1)
		lo, _ := histBounds(i)
		if plo+pw != lo {
			t.Fatalf("gap between bucket %d and %d: %d+%d != %d", i-1, i, plo, pw, lo)
		}
	}
	if got := histIndex(math.MaxUint64); got != histBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last", got)
	}
}

func TestHistogramQuantile(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{10 * time.Microsecond}, 0.99, 10 * time.Microsecond},
		{"median of 1..100 µs", spread(100, time.Microsecond), 0.5, 50 * time.Microsecond},
		{"p99 of 1..100 µs", spread(100, time.Microsecond), 0.99, 99 * time.Microsecond},
		{"p99 with a tail", append(spread(99, time.Microsecond), time.Second), 0.995, time.Second},
		{"small exact", []time.Duration{3, 3, 3, 40}, 0.5, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			for _, v := range tt.values {
				h.record(v)
			}
			got := h.quantile(tt.q)
			if d := math.Abs(float64(got-tt.want)) / math.Max(1, float64(tt.want)); d > 0.03 {
				t.Errorf("quantile(%v) = %v, want %v ±3%%", tt.q, got, tt.want)
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b histogram
	for _, v := range spread(50, time.Microsecond) {
		a.record(v)
	}
	for _, v := range spread(50, time.Millisecond) {
		b.record(v)
	}
	a.merge(&b)
	if a.n != 100 {
		t.Fatalf("n = %d, want 100", a.n)
	}
	if q := a.quantile(0.75); q < 20*time.Millisecond || q > 30*time.Millisecond {
		t.Errorf("p75 = %v, want about 25ms", q)
	}
	a.record(-time.Second) // clamped, not a panic
}

// spread returns unit, 2*unit, ..., n*unit.
func spread(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, math.NaN()},
		{"one", []float64{4}, 4},
		{"odd", []float64{9, 1, 5}, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"repeats", []float64{7, 7, 1}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			got := median(tt.in)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("median reordered its input: %v", tt.in)
				}
			}
		})
	}
}

func TestRatioAndBest(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		xs     []float64
		higher bool
		best   float64
		v      float64
		ratio  float64
	}{
		{"throughput", []float64{70, 76.7, 44}, true, 76.7, 84.37, 1.1},
		{"cost", []float64{0.57, 0.56, 19.5}, false, 0.56, 0.28, 0.5},
		{"skips NaN and zero", []float64{nan, 0, 3}, false, 3, 6, 2},
		{"no peer", nil, true, nan, 5, nan},
		{"only failures", []float64{nan}, true, nan, 5, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best := bestOf(tt.xs, tt.higher)
			if !(best == tt.best || math.IsNaN(best) && math.IsNaN(tt.best)) {
				t.Fatalf("bestOf = %v, want %v", best, tt.best)
			}
			r := ratio(tt.v, best)
			if math.IsNaN(tt.ratio) != math.IsNaN(r) || !math.IsNaN(r) && math.Abs(r-tt.ratio) > 1e-9 {
				t.Errorf("ratio(%v, %v) = %v, want %v", tt.v, best, r, tt.ratio)
			}
		})
	}
}
