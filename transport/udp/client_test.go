package udp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// events records an AsyncUdpConnection's callbacks and fails the test
// when two of them overlap.
type events struct {
	t        *testing.T
	in       atomic.Int32
	mu       sync.Mutex
	connects int
	closes   int
	msgs     []string
	codes    []int
	errs     []string
	afterEnd int // callbacks after OnClose, before another OnConnect
	msg      chan string
	closed   chan struct{}
	errc     chan int
}

func watchUDP(t *testing.T, a *core.AsyncUdpConnection) *events {
	ev := &events{t: t, msg: make(chan string, 4096), closed: make(chan struct{}, 1024), errc: make(chan int, 4096)}
	a.Logger = quiet()
	a.OnConnect = func(core.Connection) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.connects++
		ev.mu.Unlock()
	}
	a.OnMessage = func(_ core.Connection, d []byte) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.msgs = append(ev.msgs, string(d))
		ev.checkOpenLocked()
		ev.mu.Unlock()
		select {
		case ev.msg <- string(d):
		default: // a test that does not read them: never block the lane
		}
	}
	a.OnError = func(_ core.Connection, code int, msg string) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.codes = append(ev.codes, code)
		ev.errs = append(ev.errs, msg)
		ev.mu.Unlock()
		select {
		case ev.errc <- code:
		default:
		}
	}
	a.OnClose = func(core.Connection) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.closes++
		ev.mu.Unlock()
		select {
		case ev.closed <- struct{}{}:
		default:
		}
	}
	return ev
}

// enter marks a callback as running; two at once fail the test.
func (ev *events) enter() func() {
	if ev.in.Add(1) != 1 {
		ev.t.Error("two callbacks of one connection ran at once")
	}
	time.Sleep(50 * time.Microsecond) // widen the window an overlap would need
	return func() { ev.in.Add(-1) }
}

func (ev *events) checkOpenLocked() {
	if ev.closes >= ev.connects {
		ev.afterEnd++
	}
}

func (ev *events) waitMsg(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-ev.msg:
		if got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message %q within 5 s", want)
	}
}

func (ev *events) waitErr(t *testing.T, code int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-ev.errc:
			if got == code {
				return
			}
		case <-deadline:
			t.Fatalf("no OnError with code %d within 5 s (%v)", code, ev.errList())
		}
	}
}

func (ev *events) waitClose(t *testing.T) {
	t.Helper()
	select {
	case <-ev.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run within 5 s")
	}
}

func (ev *events) errList() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]string(nil), ev.errs...)
}

func (ev *events) counts() (connects, closes, afterEnd int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.connects, ev.closes, ev.afterEnd
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// loopbacks are the loopback addresses to test on: 127.0.0.1, and [::1]
// when this host has it.
func loopbacks(t *testing.T) []string {
	hosts := []string{"127.0.0.1"}
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		pc.Close()
		hosts = append(hosts, "[::1]")
	} else {
		t.Logf("no [::1]: %v", err)
	}
	return hosts
}

// each runs f on every loopback address.
func each(t *testing.T, f func(t *testing.T, host string)) {
	for _, h := range loopbacks(t) {
		t.Run(h, func(t *testing.T) { f(t, h) })
	}
}

func echoServer(t *testing.T, host string, p core.Protocol) string {
	g := core.NewGoer(host+":0", p, "udp")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	return start(t, g)
}

// connect starts a and waits for OnConnect; the test closes it at the end.
func connect(t *testing.T, a *core.AsyncUdpConnection) {
	t.Helper()
	a.Connect()
	t.Cleanup(a.Destroy)
	for deadline := time.Now().Add(5 * time.Second); a.State() != core.StateOpen; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not open within 5 s: %s", a.State())
		}
	}
}

// peer is a plain UDP socket on loopback.
func peer(t *testing.T, network, addr string) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func readFrom(t *testing.T, pc net.PacketConn) (string, net.Addr) {
	t.Helper()
	buf := make([]byte, 1<<16)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), from
}

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

// Nothing listens at the port: the kernel's ICMP port unreachable is
// reported with ErrCodeConnectFail; the socket stays open, and once a
// peer listens there the datagrams reach it.
func TestClientRefusedPortReported(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		pc := peer(t, "udp", host+":0")
		addr := pc.LocalAddr().String()
		pc.Close()
		a := core.NewAsyncUdpConnection("udp://"+addr, nil)
		ev := watchUDP(t, a)
		connect(t, a)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if err := a.Send("anyone?", false); err != nil {
				t.Fatalf("send: %v", err) // the news is reported, the datagram sent anyway
			}
			select {
			case code := <-ev.errc:
				if code != core.ErrCodeConnectFail {
					t.Fatalf("code %d", code)
				}
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("no refusal reported within 5 s")
				}
				continue
			}
			break
		}
		msg := ev.errList()[0]
		if !strings.Contains(msg, core.ErrPeerUnreachable.Error()) || !strings.Contains(msg, "refused") {
			t.Fatalf("OnError message %q", msg)
		}
		if a.State() != core.StateOpen {
			t.Fatalf("state %s after a refusal", a.State())
		}
		if _, cl, _ := ev.counts(); cl != 0 {
			t.Fatal("closed by a refusal")
		}
		// Someone listens now (unless another program took the port).
		again, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Skipf("port taken meanwhile: %v", err)
		}
		defer again.Close()
		for len(ev.errc) > 0 {
			<-ev.errc
		}
		for i := 0; ; i++ {
			a.Send("now?", false)
			again.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			buf := make([]byte, 16)
			n, _, err := again.ReadFrom(buf)
			if err == nil && string(buf[:n]) == "now?" {
				break
			}
			if i == 50 {
				t.Fatalf("nothing arrived after the peer came up: %v", err)
			}
		}
	})
}

func TestClientDatagramLimits(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		pc := peer(t, "udp", host+":0")
		a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), nil)
		ev := watchUDP(t, a)
		connect(t, a)
		// The default limit: the largest UDP payload over IPv4.
		err := a.SendBytes(make([]byte, core.DefaultMaxDatagramSize+1), true)
		if !errors.Is(err, core.ErrPackageTooLarge) {
			t.Fatalf("oversized send: %v", err)
		}
		ev.waitErr(t, core.ErrCodeSendFail)
		big := bytes.Repeat([]byte("x"), core.DefaultMaxDatagramSize)
		if err := a.SendBytes(big, true); err != nil {
			t.Fatalf("largest datagram: %v", err)
		}
		if got, _ := readFrom(t, pc); len(got) != len(big) {
			t.Fatalf("peer got %d bytes", len(got))
		}
		if a.State() != core.StateOpen {
			t.Fatalf("state %s", a.State())
		}
	})
	t.Run("MaxPackageSize", func(t *testing.T) {
		pc := peer(t, "udp", "127.0.0.1:0")
		a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), lines{})
		a.MaxPackageSize = 100
		ev := watchUDP(t, a)
		connect(t, a)
		// 100 bytes encoded (with the newline) pass, 101 do not.
		if err := a.Send(strings.Repeat("a", 99), false); err != nil {
			t.Fatal(err)
		}
		if err := a.Send(strings.Repeat("a", 100), false); !errors.Is(err, core.ErrPackageTooLarge) {
			t.Fatalf("101 bytes: %v", err)
		}
		got, from := readFrom(t, pc)
		if len(got) != 100 {
			t.Fatalf("peer got %d bytes", len(got))
		}
		// Received: a longer datagram is dropped and reported, the
		// connection reads on.
		pc.WriteTo(bytes.Repeat([]byte("b\n"), 500), from)
		ev.waitErr(t, core.ErrCodePackageTooLarge)
		pc.WriteTo([]byte("small\n"), from)
		ev.waitMsg(t, "small")
		if a.Stats().Dropped.Load() != 1 {
			t.Fatalf("dropped %d", a.Stats().Dropped.Load())
		}
	})
}

// Many datagrams, a window of them in flight: every one comes back, in
// order, within a bounded time.
func TestClientManyDatagrams(t *testing.T) {
	const total, window = 3000, 32
	each(t, func(t *testing.T, host string) {
		addr := echoServer(t, host, lines{})
		a := core.NewAsyncUdpConnection("udp://"+addr, lines{})
		ev := watchUDP(t, a)
		connect(t, a)
		deadline := time.After(20 * time.Second)
		sent := 0
		for ; sent < window; sent++ {
			a.Send(fmt.Sprint(sent), false)
		}
		for got := 0; got < total; got++ {
			select {
			case m := <-ev.msg:
				if m != fmt.Sprint(got) {
					t.Fatalf("datagram %d is %q", got, m)
				}
			case <-deadline:
				t.Fatalf("%d of %d answers within 20 s", got, total)
			}
			if sent < total {
				if err := a.Send(fmt.Sprint(sent), false); err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
		if n := a.Stats().Requests.Load(); n != total {
			t.Fatalf("%d messages", n)
		}
	})
}

// Sends from many goroutines at once: each is one whole datagram, and the
// datagrams of one goroutine leave in its order.
func TestClientConcurrentSends(t *testing.T) {
	const senders, each = 8, 200
	pc := peer(t, "udp", "127.0.0.1:0")
	a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), nil)
	watchUDP(t, a)
	connect(t, a)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := a.Send(fmt.Sprintf("%d-%d", g, i), false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// The peer reads meanwhile; the kernel may drop what its buffer does
	// not hold, never cut or merge datagrams.
	last := make([]int, senders)
	for i := range last {
		last[i] = -1
	}
	buf := make([]byte, 100)
	got := 0
	for got < senders*each {
		pc.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			break // the rest was dropped by the kernel
		}
		var g, i int
		if _, err := fmt.Sscanf(string(buf[:n]), "%d-%d", &g, &i); err != nil || g < 0 || g >= senders || i <= last[g] {
			t.Fatalf("datagram %q after %d from its sender", buf[:n], last[g])
		}
		last[g] = i
		got++
	}
	wg.Wait()
	if got == 0 {
		t.Fatal("nothing arrived")
	}
	t.Logf("%d of %d datagrams arrived", got, senders*each)
	if n := a.Stats().Sent.Load(); n != senders*each {
		t.Fatalf("sent %d", n)
	}
}

// Close while datagrams flow both ways: OnClose once, nothing after it,
// sends refused, no goroutine left (TestMain).
func TestClientCloseDuringTraffic(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		addr := echoServer(t, host, nil)
		for round := range 5 {
			a := core.NewAsyncUdpConnection("udp://"+addr, nil)
			ev := watchUDP(t, a)
			connect(t, a)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						if err := a.Send(fmt.Sprint(i), false); err != nil && !errors.Is(err, core.ErrClosed) {
							t.Error(err)
							return
						}
						time.Sleep(100 * time.Microsecond)
					}
				}()
			}
			for range 20 {
				<-ev.msg
			}
			a.Close(fmt.Sprint("bye ", round))
			ev.waitClose(t)
			time.Sleep(20 * time.Millisecond) // late answers meet a closed socket
			close(stop)
			wg.Wait()
			if c, cl, after := ev.counts(); c != 1 || cl != 1 || after != 0 {
				t.Fatalf("connects %d closes %d callbacks after close %d", c, cl, after)
			}
			if err := a.Send("x", false); !errors.Is(err, core.ErrClosed) {
				t.Fatalf("send after close: %v", err)
			}
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

// A panicking callback is contained: reported, logged, the connection
// closed; the program and the server go on.
func TestClientPanicContained(t *testing.T) {
	addr := echoServer(t, "127.0.0.1", nil)
	a := core.NewAsyncUdpConnection("udp://"+addr, nil)
	ev := watchUDP(t, a)
	record := a.OnMessage
	a.OnMessage = func(c core.Connection, d []byte) {
		record(c, d)
		if string(d) == "boom" {
			panic("boom")
		}
	}
	connect(t, a)
	a.Send("boom", false)
	ev.waitMsg(t, "boom")
	ev.waitErr(t, core.ErrCodePanic)
	ev.waitClose(t)
	if a.Stats().Panics.Load() != 1 {
		t.Fatalf("panics %d", a.Stats().Panics.Load())
	}
	b := core.NewAsyncUdpConnection("udp://"+addr, nil)
	evb := watchUDP(t, b)
	connect(t, b)
	b.Send("still there", false)
	evb.waitMsg(t, "still there")
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

// Callbacks never overlap while messages arrive and sends from other
// goroutines are refused (their OnError is posted to the lane).
func TestClientCallbacksNeverOverlap(t *testing.T) {
	addr := echoServer(t, "127.0.0.1", nil)
	a := core.NewAsyncUdpConnection("udp://"+addr, nil)
	a.MaxPackageSize = 8
	ev := watchUDP(t, a)
	connect(t, a)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				a.Send("ok", false)
				a.Send("too long for the limit", false)
				if i%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	ev.waitMsg(t, "ok")
	a.Close("")
	ev.waitClose(t)
	if a.Stats().SendFailures.Load() != 800 {
		t.Fatalf("refused %d", a.Stats().SendFailures.Load())
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
