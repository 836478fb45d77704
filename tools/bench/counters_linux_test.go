//go:build linux

package main

import (
	"math"
	"testing"
	"time"
)

// perf stat -x, -I 100 output: the window takes the intervals that end
// inside it, by event.
func TestWindowCounts(t *testing.T) {
	out := []byte(`# started on Mon
     0.100,10,,context-switches,100,100.00,,
     0.100,99,,raw_syscalls:sys_enter,100,100.00,,
     0.200,20,,context-switches,100,100.00,,
     0.200,40,,syscalls:sys_enter_read,100,100.00,,
     0.200,100,,raw_syscalls:sys_enter,100,100.00,,
     0.300,30,,context-switches,100,100.00,,
     0.300,<not counted>,,syscalls:sys_enter_futex,0,0.00,,
     0.400,1000,,context-switches,100,100.00,,
`)
	got, err := windowCounts(out, 100*time.Millisecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got[evCS] != 50 || got["read"] != 40 || got[evAll] != 100 || got["futex"] != 0 {
		t.Fatalf("counts %v", got)
	}
	if _, err := windowCounts([]byte("perf: no permission\n"), 0, time.Second); err == nil {
		t.Fatal("no counts accepted")
	}
}

func TestKindsCell(t *testing.T) {
	if got := kindsCell(map[string]float64{"read": 1, "write": 1, "futex": 0.0521, "tgkill": 0.001}); got != "read 1, write 1, futex 0.0521" {
		t.Fatalf("kindsCell = %q", got)
	}
	if got := kindsCell(nil); got != "–" {
		t.Fatalf("kindsCell(nil) = %q", got)
	}
	r := &row{ByKind: map[string]float64{"nanosleep": 0.25, "futex": 0.5}}
	if r.sleeps() != 0.75 || !math.IsNaN((&row{}).sleeps()) {
		t.Fatal("sleeps")
	}
}
