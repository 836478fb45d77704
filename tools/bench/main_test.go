package main

import (
	"os"
	"reflect"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The harness re-runs its own binary as a server; under go test that
	// binary is the test binary.
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:], os.Stdout))
	}
	// The peers' packages start worker pools when they are initialised.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func TestRunOrderRotates(t *testing.T) {
	for r, want := range map[int][]int{1: {0, 1, 2}, 2: {1, 2, 0}, 3: {2, 0, 1}, 4: {0, 1, 2}} {
		if got := runOrder(3, r); !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: order %v, want %v", r, got, want)
		}
	}
}
