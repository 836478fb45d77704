package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startProxy(t *testing.T, backend string) string {
	t.Helper()
	g := newGoer("127.0.0.1:0", backend)
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startRedis runs redis-server on port, without persistence, until stop.
func startRedis(t *testing.T, port string) (stop func()) {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
	}
}

func needRedis(t *testing.T) {
	for _, tool := range []string{"redis-server", "redis-cli", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: apt-get install redis-server)", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRedisThroughProxy drives a real redis-server through the proxy with
// redis-cli and redis-benchmark, and again after the server restarts.
func TestRedisThroughProxy(t *testing.T) {
	needRedis(t)
	port := freePort(t)
	stop := startRedis(t, port)
	proxy := startProxy(t, "127.0.0.1:"+port)
	_, pport, _ := net.SplitHostPort(proxy)

	if got := run(t, "redis-cli", "-h", "127.0.0.1", "-p", pport, "set", "goes", "proxied"); strings.TrimSpace(got) != "OK" {
		t.Fatalf("set: %q", got)
	}
	if got := run(t, "redis-cli", "-h", "127.0.0.1", "-p", pport, "get", "goes"); strings.TrimSpace(got) != "proxied" {
		t.Fatalf("get: %q", got)
	}
	out := run(t, "redis-benchmark", "-h", "127.0.0.1", "-p", pport, "-n", "2000", "-c", "10", "-P", "4", "-q", "-t", "set,get,lpush,lrange_100")
	if strings.Contains(strings.ToLower(out), "error") || strings.Count(out, "requests per second") < 4 {
		t.Fatalf("redis-benchmark through the proxy:\n%s", out)
	}
	t.Logf("through the proxy:\n%s", out)

	stop()
	// A connection while the backend is down is closed at once.
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("a connection to a dead backend: read %d, %v", n, err)
	}
	c.Close()

	startRedis(t, port)
	if got := run(t, "redis-cli", "-h", "127.0.0.1", "-p", pport, "ping"); strings.TrimSpace(got) != "PONG" {
		t.Fatalf("after the restart: %q", got)
	}
}

// TestChecksummedThroughProxy sends random bytes through the proxy to an
// echo backend and compares what comes back: 64 MiB, or 1 GiB with
// GOES_PROXY_GIB=1.
func TestChecksummedThroughProxy(t *testing.T) {
	size := int64(64 << 20)
	if os.Getenv("GOES_PROXY_GIB") == "1" {
		size = 1 << 30
	}
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { backend.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(c, c); c.Close() }()
		}
	}()
	proxy := startProxy(t, backend.Addr().String())
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	sent, got := sha256.New(), sha256.New()
	wrote := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
		wrote <- err
	}()
	begin := time.Now()
	n, err := io.CopyN(got, c, size)
	if werr := <-wrote; err != nil || werr != nil {
		t.Fatalf("read %d of %d: %v; write: %v", n, size, err, werr)
	}
	if string(sent.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("the bytes that came back differ")
	}
	t.Logf("%d MiB each way in %v", size>>20, time.Since(begin))
}
