package main

import (
	"os"
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
