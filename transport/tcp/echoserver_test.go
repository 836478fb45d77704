package tcp_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// echoServerEnv makes the test binary an echo server (see TestMain): what
// TestTenThousandClients connects to, in a process of its own, since one
// process may not hold both ends of 10,000 connections.
const echoServerEnv = "GOES_TCP_TEST_ECHO_SERVER"

// serveEchoForTest runs a line echo Goer on the epoll engine, prints its
// address, and stops when its standard input closes (the test ended).
func serveEchoForTest() int {
	g := echoLines()
	g.Engine = "epoll"
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(g.Addr())
	io.Copy(io.Discard, os.Stdin)
	g.Stop()
	return 0
}

// startEchoProcess runs serveEchoForTest in a child process and returns
// its address.
func startEchoProcess(t *testing.T) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the echo server process: %v", err)
	}
	return strings.TrimSpace(addr)
}
