package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// onceOnly skips a slow test in the GOWORK=off pass of make test: the
// release and consumer tests build their own repositories and set GOWORK
// for every command they run, so that pass would repeat the workspace
// pass's run exactly.
func onceOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("GOWORK") == "off" {
		t.Skip("runs in the workspace pass: the test sets GOWORK for every command itself, so a GOWORK=off run would repeat it")
	}
}
