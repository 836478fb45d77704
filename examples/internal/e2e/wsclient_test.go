package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/examples/internal/testutil"
)

// waitOutput waits until out holds want count times.
func waitOutput(t *testing.T, out *testutil.SyncBuffer, want string, count int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); strings.Count(out.String(), want) < count; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never got %q (%d times):\n%s", want, count, out.String())
		}
	}
}

// The WebSocket client against the websocket example, both real processes:
// typed lines come back, the client survives a stop and a start of the
// server, and the end of its input closes it with 1000.
func TestWSClientExample(t *testing.T) {
	addr := freePort(t)
	serverBin, clientBin := build(t, "websocket"), build(t, "wsclient")
	srv := start(t, serverBin, addr, "tcp")

	var out testutil.SyncBuffer
	cl := exec.Command(clientBin)
	cl.Env = append(os.Environ(), "GOES_URL=ws://"+addr+"/e2e")
	cl.Stdout, cl.Stderr = &out, &out
	stdin, err := cl.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cl.ProcessState == nil {
			cl.Process.Kill()
			cl.Wait()
		}
	})
	stdin.Write([]byte("hello\n/bin hi\n"))
	waitOutput(t, &out, "< hello\n", 1)
	waitOutput(t, &out, "< [binary] 6869\n", 1)

	srv.command(t, "stop")
	srv.wait(t)
	waitOutput(t, &out, "disconnected (1001", 1)
	srv = start(t, serverBin, addr, "tcp")
	waitOutput(t, &out, "connected to", 2)
	stdin.Write([]byte("again\n"))
	waitOutput(t, &out, "< again\n", 1)

	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cl.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("client exited with %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("client did not exit\n%s", out.String())
	}
	if !strings.Contains(out.String(), "disconnected (1000 bye)") {
		t.Fatalf("no normal close:\n%s", out.String())
	}
	srv.command(t, "stop")
	srv.wait(t)
}
