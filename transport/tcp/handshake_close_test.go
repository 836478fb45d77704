package tcp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// handshakeListener accepts one connection for a greeter client and hands
// it over once its HELLO line was read.
func handshakeListener(t *testing.T) (addr string, conns <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		ch <- c
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		select {
		case c := <-ch:
			c.Close()
		default:
		}
	})
	return ln.Addr().String(), ch
}

// Sends wait for the answer to the handshake, QueueEncoded's in their place
// among Send's. A Close while the peer has not answered keeps the
// connection for the answer; then what was queued goes out and it closes.
// Sends after the Close are refused.
func TestClientCloseDuringHandshake(t *testing.T) {
	addr, conns := handshakeListener(t)
	a := core.NewAsyncConnection("greet://"+addr+"/", &greeter{})
	a.ConnectTimeout = 10 * time.Second
	ev := watch(a)
	a.Connect()
	defer a.Destroy()
	a.Send("one", false)
	handled, err := a.QueueEncoded(4, func(c core.Connection, dst []byte) ([]byte, error) {
		return append(dst, "TWO\n"...), nil
	})
	if !handled || err != nil {
		t.Fatalf("QueueEncoded before the answer: %v %v", handled, err)
	}
	var c net.Conn
	select {
	case c = <-conns:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if got := readLine(t, r); got != "HELLO /" {
		t.Fatalf("got %q, want the request", got)
	}
	waitFor(t, "the handshake", func() bool { return a.Conn() != nil })
	a.Close("bye")
	if err := a.Send("late", false); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if handled, err := a.QueueEncoded(1, nil); !handled || !errors.Is(err, core.ErrClosed) {
		t.Fatalf("QueueEncoded after Close: %v %v", handled, err)
	}
	// Nothing more comes, and no EOF, until the answer.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := r.ReadByte(); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("before the answer: read %q, %v", b, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("WELCOME\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "TWO", "bye"} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if b, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the close data: %q %v, want EOF", b, err)
	}
	c.Close()
	ev.waitClose(t, 5*time.Second)
	ev.get(func(ev *clientEvents) bool {
		if ev.connects != 1 || len(ev.errs) != 0 {
			t.Fatalf("connects %d, errors %q", ev.connects, ev.errs)
		}
		return true
	})
}

// A Close during the handshake waits for the answer CloseTimeout at most,
// even when ConnectTimeout is longer.
func TestClientCloseDuringHandshakeTimesOut(t *testing.T) {
	addr, conns := handshakeListener(t)
	a := core.NewAsyncConnection("greet://"+addr+"/", &greeter{})
	a.ConnectTimeout = 20 * time.Second
	a.CloseTimeout = 200 * time.Millisecond
	ev := watch(a)
	a.Connect()
	defer a.Destroy()
	select {
	case c := <-conns:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
	}
	waitFor(t, "the handshake", func() bool { return a.Conn() != nil })
	start := time.Now()
	a.Close("")
	ev.waitClose(t, 5*time.Second)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed after %v, before CloseTimeout", d)
	}
	ev.get(func(ev *clientEvents) bool {
		if ev.connects != 0 || len(ev.codes) != 1 || ev.codes[0] != core.ErrCodeConnectFail || !strings.Contains(ev.errs[0], "CloseTimeout") {
			t.Fatalf("connects %d, errors %v %q", ev.connects, ev.codes, ev.errs)
		}
		return true
	})
}
