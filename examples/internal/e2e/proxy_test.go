package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rssKiB reads a process's resident memory.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int
			fmt.Sscan(strings.TrimPrefix(l, "VmRSS:"), &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestProxySlowConsumerMemory: a client pushes 256 MiB through
// examples/proxy to a backend that reads nothing for a while, then slowly;
// the proxy's memory stays bounded by the send limits (a few MiB above its
// idle size), and every byte arrives.
func TestProxySlowConsumerMemory(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	t.Setenv("GOES_BACKEND", backend.Addr().String())
	addr := freePort(t)
	p := start(t, build(t, "proxy"), addr, "tcp")
	// start's probe connection was piped to the backend too.
	backend.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	if probe, err := backend.Accept(); err == nil {
		probe.Close()
	}
	idle := rssKiB(t, p.cmd.Process.Pid)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := backend.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const size = 256 << 20
	sent := sha256.New()
	wrote := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		_, err := io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
		wrote <- err
	}()
	peak := 0
	for range 20 { // the backend reads nothing for a second
		time.Sleep(50 * time.Millisecond)
		peak = max(peak, rssKiB(t, p.cmd.Process.Pid))
	}
	got := sha256.New()
	b.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReaderSize(b, 64<<10)
	var n int64
	for n < size {
		m, err := io.CopyN(got, r, min(size-n, 8<<20))
		n += m
		if err != nil {
			t.Fatalf("backend read %d of %d: %v\n%s", n, size, err, p.out.String())
		}
		peak = max(peak, rssKiB(t, p.cmd.Process.Pid))
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if string(sent.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("the backend got other bytes")
	}
	t.Logf("proxy RSS: idle %d KiB, peak %d KiB while 256 MiB went through", idle, peak)
	if peak-idle > 32<<10 {
		t.Errorf("the proxy grew by %d KiB for a slow consumer", peak-idle)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait(t)
}
