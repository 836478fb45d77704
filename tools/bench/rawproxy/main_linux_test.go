package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary the proxy, with the flags it holds.
const childEnv = "RAWPROXY_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Args = append([]string{"rawproxy"}, strings.Fields(args)...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// startProxy runs the proxy in a process of its own in front of backend
// and returns its address.
func startProxy(t *testing.T, backend string, loops string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=-addr "+addr+" -backend "+backend+" -loops "+loops)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("proxy said %q, %v", line, err)
	}
	return addr
}

// echoBackend echoes on every connection and, once its peer shuts its
// write side, shuts its own.
func echoBackend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			})
		}
	})
	return l.Addr().String()
}

// Every byte comes back, in order, on connections that write faster than
// they read (the proxy's writes fall short and it keeps the rest), and
// the client's FIN reaches the backend and the backend's comes back.
func TestProxyEchoWhole(t *testing.T) {
	for _, loops := range []string{"1", "2"} {
		t.Run("loops="+loops, func(t *testing.T) {
			addr := startProxy(t, echoBackend(t), loops)
			const conns, size = 2, 8 << 20
			var wg sync.WaitGroup
			for range conns {
				wg.Go(func() {
					// A small receive window: the proxy's writes to the
					// client fall short while it reads late.
					d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
						return rc.Control(func(fd uintptr) {
							syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
						})
					}}
					c, err := d.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(60 * time.Second))
					sent, got := sha256.New(), sha256.New()
					go func() {
						io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
						c.(*net.TCPConn).CloseWrite()
					}()
					// Read late: the proxy's side of the client fills.
					time.Sleep(200 * time.Millisecond)
					n, err := io.Copy(got, c) // to the FIN
					if err != nil || n != size {
						t.Errorf("read %d of %d bytes: %v", n, size, err)
						return
					}
					if string(sent.Sum(nil)) != string(got.Sum(nil)) {
						t.Error("the bytes that came back differ")
					}
				})
			}
			wg.Wait()
		})
	}
}

// A backend that refuses ends the client's connection at once.
func TestProxyBackendRefuses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	addr := startProxy(t, dead, "1")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("anyone?"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 16))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read through a proxy whose backend refuses: %v; want the connection ended", err)
	}
}
