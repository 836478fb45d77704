package core

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := &Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: 0.5}
	want := []time.Duration{10, 20, 40, 80, 100, 100, 100}
	for i, w := range want {
		w *= time.Millisecond
		for range 50 {
			d := b.delay(i + 1)
			if d > w || d < w/2 {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", i+1, d, w/2, w)
			}
		}
	}
	var zero Backoff
	if d := zero.delay(1); d > DefaultBackoffInitial || d < DefaultBackoffInitial*8/10 {
		t.Errorf("zero Backoff's first delay %v", d)
	}
	if d := zero.delay(1000); d > DefaultBackoffMax || d < DefaultBackoffMax*8/10 {
		t.Errorf("zero Backoff's capped delay %v", d)
	}
}

func TestSplitScheme(t *testing.T) {
	for _, tc := range []struct{ in, scheme, addr string }{
		{"tcp://127.0.0.1:80", "tcp", "127.0.0.1:80"},
		{"127.0.0.1:80", "tcp", "127.0.0.1:80"},
		{"unix:///tmp/a.sock", "unix", "/tmp/a.sock"},
		{"SSL://[::1]:443", "ssl", "[::1]:443"},
	} {
		if s, a := splitScheme(tc.in); s != tc.scheme || a != tc.addr {
			t.Errorf("splitScheme(%q) = %q, %q", tc.in, s, a)
		}
	}
}
