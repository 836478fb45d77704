package udp_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

func TestClientEchoRawAndSendsBeforeConnect(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		addr := echoServer(t, host, nil)
		a := core.NewAsyncUdpConnection("udp://"+addr, nil)
		ev := watchUDP(t, a)
		a.Connect()
		if err := a.Send("early", false); err != nil { // before the socket: queued
			t.Fatal(err)
		}
		ev.waitMsg(t, "early")
		if err := a.SendBytes([]byte("second"), false); err != nil {
			t.Fatal(err)
		}
		ev.waitMsg(t, "second")
		if err := a.Send("", true); err != nil { // an empty datagram is one too
			t.Fatal(err)
		}
		ev.waitMsg(t, "")
		if a.GetRemoteAddress() != addr || a.GetLocalPort() == 0 || a.GetRemoteIP() != strings.Trim(host, "[]") {
			t.Fatalf("addresses %s %s %d", a.GetRemoteAddress(), a.GetLocalAddress(), a.GetLocalPort())
		}
		if a.State() != core.StateOpen || a.GetID() == 0 {
			t.Fatalf("state %s id %d", a.State(), a.GetID())
		}
		a.Close("")
		ev.waitClose(t)
		if a.State() != core.StateClosed || a.RemoteAddr() != nil {
			t.Fatalf("after close: %s %v", a.State(), a.RemoteAddr())
		}
		if err := a.Send("late", false); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("send after close: %v", err)
		}
		if c, cl, after := ev.counts(); c != 1 || cl != 1 || after != 0 {
			t.Fatalf("connects %d closes %d callbacks after close %d", c, cl, after)
		}
		st := a.Stats()
		if st.Sent.Load() != 3 || st.Requests.Load() != 3 || st.BytesWritten.Load() != 11 {
			t.Fatalf("sent %d received %d bytes %d", st.Sent.Load(), st.Requests.Load(), st.BytesWritten.Load())
		}
	})
}

// A protocol frames every datagram as a goes server does: whole packages,
// one or more; a datagram that ends inside a package is dropped and
// reported, and the connection goes on.
func TestClientProtocolPerDatagram(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		pc := peer(t, "udp", host+":0")
		a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), lines{})
		ev := watchUDP(t, a)
		connect(t, a)
		if err := a.Send("hi", false); err != nil {
			t.Fatal(err)
		}
		got, from := readFrom(t, pc)
		if got != "hi\n" || from.String() != a.GetLocalAddress() {
			t.Fatalf("peer got %q from %s (client %s)", got, from, a.GetLocalAddress())
		}
		pc.WriteTo([]byte("one\ntwo\n"), from)
		ev.waitMsg(t, "one")
		ev.waitMsg(t, "two")
		pc.WriteTo([]byte("no newline"), from)
		ev.waitErr(t, core.ErrCodeProtocol)
		pc.WriteTo([]byte("bad\n"), from)
		ev.waitErr(t, core.ErrCodeProtocol)
		pc.WriteTo([]byte("three\n"), from)
		ev.waitMsg(t, "three")
		if a.Stats().Dropped.Load() != 2 || a.State() != core.StateOpen {
			t.Fatalf("dropped %d state %s", a.Stats().Dropped.Load(), a.State())
		}
	})
}

func TestClientEchoProtocolServer(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		addr := echoServer(t, host, lines{})
		a := core.NewAsyncUdpConnection("udp://"+addr, lines{})
		ev := watchUDP(t, a)
		connect(t, a)
		for i := range 20 {
			msg := fmt.Sprint("line ", i)
			a.Send(msg, false)
			ev.waitMsg(t, msg)
		}
	})
}

// Reconnect replaces the socket (a new local port), from outside and from
// OnClose; OnClose and the next OnConnect never overlap.
func TestClientReconnect(t *testing.T) {
	addr := echoServer(t, "127.0.0.1", nil)
	a := core.NewAsyncUdpConnection("udp://"+addr, nil)
	ev := watchUDP(t, a)
	connect(t, a)
	a.Send("first", false)
	ev.waitMsg(t, "first")
	port := a.GetLocalPort()
	a.Reconnect(0)
	ev.waitClose(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, _, _ := ev.counts(); c == 2 && a.State() == core.StateOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not reconnected within 5 s")
		}
	}
	if a.GetLocalPort() == port {
		t.Fatalf("same socket after Reconnect (port %d)", port)
	}
	a.Send("second", false)
	ev.waitMsg(t, "second")

	// From OnClose: the connection comes back by itself.
	var once atomic.Bool
	close := a.OnClose
	a.OnClose = func(c core.Connection) {
		close(c)
		if once.CompareAndSwap(false, true) {
			a.Reconnect(10 * time.Millisecond)
		}
	}
	a.Destroy()
	ev.waitClose(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, _, _ := ev.counts(); c == 3 && a.State() == core.StateOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not reconnected from OnClose within 5 s")
		}
	}
	a.Send("third", false)
	ev.waitMsg(t, "third")
	a.Close("")
	ev.waitClose(t)
}

// With a Server: the client closes when it stops, and a stopped Server's
// client does not connect.
func TestClientStopsWithServer(t *testing.T) {
	addr := echoServer(t, "127.0.0.1", nil)
	srv := core.NewGoer("127.0.0.1:0", nil, "udp")
	start(t, srv)
	a := core.NewAsyncUdpConnection("udp://"+addr, nil)
	a.Server = srv
	a.AutoReconnect = &core.Backoff{Initial: 10 * time.Millisecond}
	ev := watchUDP(t, a)
	connect(t, a)
	if a.Goer() != srv {
		t.Fatal("Goer is not the Server")
	}
	a.Send("up", false)
	ev.waitMsg(t, "up")
	srv.Stop()
	ev.waitClose(t)
	time.Sleep(50 * time.Millisecond) // no automatic reconnect
	if c, _, _ := ev.counts(); c != 1 || a.State() != core.StateClosed {
		t.Fatalf("connects %d state %s", c, a.State())
	}
	a.Connect()
	ev.waitErr(t, core.ErrCodeConnectFail)
	ev.waitClose(t)
	if msg := ev.errList()[0]; !strings.Contains(msg, core.ErrServerStopped.Error()) {
		t.Fatalf("OnError %q", msg)
	}
}

// Connects that cannot work are reported (OnError, then OnClose).
func TestClientConnectFails(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"udp://127.0.0.1:99999", "invalid port"},
		{"tcp://127.0.0.1:1", "NewAsyncConnection"},
		{"sctp://127.0.0.1:1", core.ErrUnknownTransport.Error()},
		{"unixgram:///nonexistent/goes.sock", "no such file"},
	} {
		a := core.NewAsyncUdpConnection(tc.addr, nil)
		ev := watchUDP(t, a)
		a.Connect()
		ev.waitErr(t, core.ErrCodeConnectFail)
		ev.waitClose(t)
		if msg := ev.errList()[0]; !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: %q", tc.addr, msg)
		}
	}
	// And the other way round.
	c := core.NewAsyncConnection("udp://127.0.0.1:1", nil)
	errc := make(chan string, 1)
	c.OnError = func(_ core.Connection, _ int, msg string) { errc <- msg }
	c.Connect()
	select {
	case msg := <-errc:
		if !strings.Contains(msg, "NewAsyncUdpConnection") {
			t.Fatalf("stream client of udp://: %q", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error")
	}
}

// Close before the socket is made: what was sent goes out, then Close's
// data, then the socket closes.
func TestClientCloseWhileConnecting(t *testing.T) {
	pc := peer(t, "udp", "127.0.0.1:0")
	a := core.NewAsyncUdpConnection(pc.LocalAddr().String(), nil) // no scheme: udp
	ev := watchUDP(t, a)
	a.Connect()
	a.Send("one", false)
	a.Close("bye")
	for _, want := range []string{"one", "bye"} {
		if got, _ := readFrom(t, pc); got != want {
			t.Fatalf("peer got %q, want %q", got, want)
		}
	}
	ev.waitClose(t)
}

// unixgram: on Linux the client is bound to an abstract address, so the
// server can answer it.
func TestClientUnixgram(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("unixgram clients are answerable on Linux only (autobind)")
	}
	path := filepath.Join(t.TempDir(), "echo.sock")
	g := core.NewGoer(path, lines{}, "unixgram")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	start(t, g)
	a := core.NewAsyncUdpConnection("unixgram://"+path, lines{})
	ev := watchUDP(t, a)
	connect(t, a)
	if !strings.HasPrefix(a.GetLocalAddress(), "@") || a.GetRemoteAddress() != path {
		t.Fatalf("local %q remote %q", a.GetLocalAddress(), a.GetRemoteAddress())
	}
	a.Send("over unixgram", false)
	ev.waitMsg(t, "over unixgram")
}

// AutoReconnect retries a socket that cannot be made (nothing at the
// path yet) until it can.
func TestClientAutoReconnect(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("unixgram clients are answerable on Linux only (autobind)")
	}
	path := filepath.Join(t.TempDir(), "late.sock")
	a := core.NewAsyncUdpConnection("unixgram://"+path, nil)
	a.AutoReconnect = &core.Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	ev := watchUDP(t, a)
	a.Connect()
	t.Cleanup(a.Destroy)
	ev.waitErr(t, core.ErrCodeConnectFail)
	ev.waitClose(t)
	ev.waitErr(t, core.ErrCodeConnectFail) // and again, by itself
	g := core.NewGoer(path, nil, "unixgram")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	start(t, g)
	for deadline := time.Now().Add(5 * time.Second); a.State() != core.StateOpen; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not connected within 5 s of the server starting")
		}
	}
	a.Send("at last", false)
	ev.waitMsg(t, "at last")
	a.Close("")
	for len(ev.closed) > 0 {
		<-ev.closed
	}
	ev.waitClose(t)
	time.Sleep(50 * time.Millisecond)
	if a.State() != core.StateClosed {
		t.Fatalf("reconnected after Close: %s", a.State())
	}
}
