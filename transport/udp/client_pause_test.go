package udp_test

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// noMessage fails the test if a message arrives within d.
func (ev *events) noMessage(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case m := <-ev.msg:
		t.Fatalf("%s: %q delivered", what, m)
	case <-time.After(d):
	}
}

// pausedClient returns a client connected to a plain socket, which knows
// the client's address.
func pausedClient(t *testing.T, setup ...func(a *core.AsyncUdpConnection)) (*core.AsyncUdpConnection, *events, net.PacketConn, net.Addr) {
	srv := peer(t, "udp", "127.0.0.1:0")
	a := core.NewAsyncUdpConnection("udp://"+srv.LocalAddr().String(), nil)
	ev := watchUDP(t, a)
	for _, f := range setup {
		f(a)
	}
	connect(t, a)
	a.Send("hello", false)
	_, from := readFrom(t, srv)
	return a, ev, srv, from
}

// TestClientPauseRecv: datagrams that arrive while the client is paused
// wait in the kernel and are delivered, in order, after ResumeRecv; a
// pause from OnMessage holds the next datagram.
func TestClientPauseRecv(t *testing.T) {
	a, ev, srv, to := pausedClient(t, func(a *core.AsyncUdpConnection) {
		onMessage := a.OnMessage
		a.OnMessage = func(c core.Connection, d []byte) {
			onMessage(c, d)
			if string(d) == "stop" {
				c.(*core.AsyncUdpConnection).PauseRecv()
			}
		}
	})
	if a.IsPaused() {
		t.Fatal("paused before PauseRecv")
	}
	a.PauseRecv()
	a.PauseRecv() // twice is once
	if !a.IsPaused() {
		t.Fatal("not paused")
	}
	for i := range 5 {
		srv.WriteTo([]byte(fmt.Sprint(i)), to)
	}
	ev.noMessage(t, 300*time.Millisecond, "paused")
	a.ResumeRecv()
	for i := range 5 {
		ev.waitMsg(t, fmt.Sprint(i))
	}

	for _, m := range []string{"stop", "a", "b"} {
		srv.WriteTo([]byte(m), to)
	}
	ev.waitMsg(t, "stop")
	ev.noMessage(t, 300*time.Millisecond, "paused from OnMessage")
	a.ResumeRecv()
	ev.waitMsg(t, "a")
	ev.waitMsg(t, "b")
}

// TestClientPauseKernelDrops: a paused client's kernel buffer holds what
// it can, and the kernel drops the rest; after ResumeRecv what was kept
// is delivered, in order, and the client reads on.
func TestClientPauseKernelDrops(t *testing.T) {
	const n, size = 5000, 1000
	a, ev, srv, to := pausedClient(t)
	a.PauseRecv()
	payload := bytes.Repeat([]byte("x"), size)
	for i := range n {
		copy(payload, fmt.Sprintf("%06d", i))
		srv.WriteTo(payload, to)
	}
	ev.noMessage(t, 200*time.Millisecond, "paused")
	a.ResumeRecv()
	got, last := 0, -1
	for done := false; !done; {
		select {
		case m := <-ev.msg:
			var i int
			fmt.Sscanf(m[:6], "%06d", &i)
			if i <= last {
				t.Fatalf("datagram %d after %d", i, last)
			}
			got, last = got+1, i
		case <-time.After(500 * time.Millisecond):
			done = true
		}
	}
	t.Logf("%d of %d datagrams kept while paused", got, n)
	if got == 0 || got >= n {
		t.Fatalf("%d of %d datagrams delivered: the kernel's buffer holds some, not %d KB", got, n, n*size>>10)
	}
	srv.WriteTo([]byte("after"), to)
	ev.waitMsg(t, "after")
}

// TestClientPausedCloses: Close and Destroy end a paused client at once.
func TestClientPausedCloses(t *testing.T) {
	for _, destroy := range []bool{false, true} {
		a, ev, srv, to := pausedClient(t)
		a.PauseRecv()
		srv.WriteTo([]byte("waiting"), to)
		time.Sleep(50 * time.Millisecond)
		if destroy {
			a.Destroy()
		} else {
			a.Close("bye")
			if got, _ := readFrom(t, srv); got != "bye" {
				t.Fatalf("got %q", got)
			}
		}
		ev.waitClose(t)
		if a.IsPaused() || a.State() != core.StateClosed {
			t.Fatalf("after the close: paused %v, %s", a.IsPaused(), a.State())
		}
		a.PauseRecv() // no socket: nothing to pause
		if a.IsPaused() {
			t.Fatal("paused without a socket")
		}
	}
}
