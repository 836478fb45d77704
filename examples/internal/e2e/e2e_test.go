// Package e2e runs the examples as real processes, the way the README tells
// a user to: build, start, talk to them over loopback, stop.
package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/examples/internal/testutil"
)

// build compiles ./examples/NAME into a temporary directory.
func build(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	goBuild(t, "../../"+name, "", bin)
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type proc struct {
	cmd *exec.Cmd
	out *testutil.SyncBuffer
	dir string
	bin string
	env []string
}

// start runs "bin start" in the foreground in its own directory (so that
// its pid file is its own) and waits until addr accepts connections and the
// server has said it started: only from then on does a signal reach its
// handlers rather than end the process (the port accepts a little earlier).
func start(t *testing.T, bin, addr string, network string) *proc {
	t.Helper()
	p := &proc{out: &testutil.SyncBuffer{}, dir: t.TempDir(), bin: bin,
		env: append(os.Environ(), "GOES_ADDR="+addr)}
	p.cmd = exec.Command(bin, "start")
	p.cmd.Dir, p.cmd.Env = p.dir, p.env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := errors.New("not started yet")
		if strings.Contains(p.out.String(), "started in the foreground") {
			var c net.Conn
			if c, err = net.DialTimeout(network, addr, time.Second); err == nil {
				c.Close()
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v\n%s", bin, err, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// command runs another command ("status", "stop") against the server.
func (p *proc) command(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", p.bin, args, err, out)
	}
	return string(out)
}

// wait waits for the server to exit and checks it exited cleanly.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v\n%s", err, p.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not exit\n%s", p.out.String())
	}
}

func dialLine(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// The manual's first example; Ctrl+C (SIGINT) stops it cleanly.
func TestTCPExample(t *testing.T) {
	addr := freePort(t)
	p := start(t, build(t, "tcp"), addr, "tcp")
	c, r := dialLine(t, addr)
	c.Write([]byte("hello"))
	if got := readLine(t, r); got != "hello, goer" {
		t.Fatalf("got %q", got)
	}
	ended := endsAtStop(c, r)
	p.cmd.Process.Signal(syscall.SIGINT)
	ended(t)
	p.wait(t)
}

// endsAtStop reads c from now on until the server ends the connection,
// then closes it, as a peer does; the returned function fails the test if
// no EOF came within 10 s. (A peer that never closes its end would hold
// the server's stop for its CloseTimeout.)
func endsAtStop(c net.Conn, r *bufio.Reader) func(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, r)
		c.Close()
		done <- err
	}()
	return func(t *testing.T) {
		t.Helper()
		if err := <-done; err != nil {
			t.Errorf("the connection did not end with the server: %v", err)
		}
	}
}

// Two Goers (UDP and TCP on one port number) in one process: both serve,
// status lists both, stop ends both.
func TestUDPAndTCPTogether(t *testing.T) {
	addr := freePort(t)
	p := start(t, build(t, "udp"), addr, "tcp")
	c, r := dialLine(t, addr)
	c.Write([]byte("over tcp\n"))
	if got := readLine(t, r); got != "over tcp" {
		t.Fatalf("tcp: %q", got)
	}
	u, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	buf := make([]byte, 100)
	var got string
	for try := 0; try < 5 && got == ""; try++ {
		u.Write([]byte("over udp"))
		u.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := u.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "over udp" {
		t.Fatalf("udp: %q", got)
	}
	status := p.command(t, "status")
	for _, want := range []string{"udp-echo", "tcp-echo", "udp://" + addr, "tcp://" + addr} {
		if !strings.Contains(status, want) {
			t.Fatalf("status lacks %q:\n%s", want, status)
		}
	}
	ended := endsAtStop(c, r)
	p.command(t, "stop")
	ended(t)
	p.wait(t)
}

// The broadcast chat over plain TCP lines.
func TestBroadcastExample(t *testing.T) {
	addr := freePort(t)
	p := start(t, build(t, "broadcast"), addr, "tcp")
	a, ra := dialLine(t, addr)
	expectPrefix(t, ra, "welcome, you are client")
	b, rb := dialLine(t, addr)
	expectPrefix(t, rb, "welcome, you are client")
	// The readiness probe of start may be announced too, coming and
	// leaving at any point: expectLine skips such lines.
	expectLine(t, ra, fmt.Sprintf("a new client[%v] is online", b.LocalAddr()))
	b.Write([]byte("hello all\n"))
	expectLine(t, ra, fmt.Sprintf("[%v] hello all", b.LocalAddr()))
	b.Close()
	expectLine(t, ra, fmt.Sprintf("client[%v] left", b.LocalAddr()))
	a.Write([]byte("anyone?\n"))
	ended := endsAtStop(a, ra)
	p.cmd.Process.Signal(syscall.SIGTERM)
	ended(t)
	p.wait(t)
}

// expectPrefix reads lines until one starts with prefix, allowing a few
// others (about the readiness probe, which may be announced first).
func expectPrefix(t *testing.T, r *bufio.Reader, prefix string) {
	t.Helper()
	var seen []string
	for i := 0; i < 4; i++ {
		got := readLine(t, r)
		if strings.HasPrefix(got, prefix) {
			return
		}
		seen = append(seen, got)
	}
	t.Fatalf("never got %q...; got %q", prefix, seen)
}

// expectLine reads lines until want, allowing a few others (about the
// readiness probe) before it.
func expectLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	var seen []string
	for i := 0; i < 4; i++ {
		got := readLine(t, r)
		if got == want {
			return
		}
		seen = append(seen, got)
	}
	t.Fatalf("never got %q; got %q", want, seen)
}
