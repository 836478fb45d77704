package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The measurements run and count what they should; the numbers themselves
// are for the report.
func TestSmoke(t *testing.T) {
	_, _, lost, err := latency(200, 500*time.Millisecond)
	if err != nil || lost != 0 {
		t.Fatalf("latency: lost %d, %v", lost, err)
	}
	counts, err := groupTraffic(50)
	if err != nil {
		t.Fatal(err)
	}
	if counts[0] != 50 || counts[1] != 50 || counts[2] != 0 {
		t.Errorf("group messages received per node = %v; want [50 50 0]", counts)
	}
}
