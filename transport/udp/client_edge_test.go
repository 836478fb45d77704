package udp_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

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

// The socket is connected: datagrams from anyone but the peer never
// reach OnMessage.
func TestClientIgnoresStrangers(t *testing.T) {
	each(t, func(t *testing.T, host string) {
		pc := peer(t, "udp", host+":0")
		a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), nil)
		ev := watchUDP(t, a)
		connect(t, a)
		a.Send("hello", false)
		_, from := readFrom(t, pc)
		stranger := peer(t, "udp", host+":0")
		for range 10 {
			stranger.WriteTo([]byte("not for you"), from)
		}
		pc.WriteTo([]byte("from the peer"), from)
		ev.waitMsg(t, "from the peer")
		select {
		case m := <-ev.msg:
			t.Fatalf("a stranger's datagram delivered: %q", m)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// A peer floods a client whose handler is slow: the client queues nothing
// on the way in (the kernel drops what its buffer does not hold), and
// Close ends the connection as soon as the handler returns, not after the
// backlog.
func TestClientFloodedSlowHandlerCloses(t *testing.T) {
	pc := peer(t, "udp", "127.0.0.1:0")
	a := core.NewAsyncUdpConnection("udp://"+pc.LocalAddr().String(), nil)
	ev := watchUDP(t, a)
	record := a.OnMessage
	a.OnMessage = func(c core.Connection, d []byte) {
		record(c, d)
		time.Sleep(5 * time.Millisecond)
	}
	connect(t, a)
	a.Send("go", false)
	_, from := readFrom(t, pc)
	const flood = 5000
	for i := range flood {
		pc.WriteTo([]byte(fmt.Sprint(i)), from)
	}
	<-ev.msg
	begin := time.Now()
	a.Close("")
	ev.waitClose(t)
	if d := time.Since(begin); d > time.Second { // the backlog is 25 s of handling
		t.Fatalf("Close took %v behind a flood", d)
	}
	n := a.Stats().Requests.Load()
	time.Sleep(50 * time.Millisecond)
	if a.Stats().Requests.Load() != n {
		t.Fatal("messages delivered after OnClose")
	}
	if _, _, after := ev.counts(); after != 0 {
		t.Fatalf("%d messages after OnClose", after)
	}
	t.Logf("%d of %d datagrams delivered before Close", n, flood)
}

// An idle client holds no read buffer (on Unix its socket waits for a
// datagram without one): 200 of them take far less heap than 200 buffers
// of 64 KiB, and they still answer.
func TestClientIdleHoldsNoBuffer(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("the wait without a buffer is Unix's")
	}
	const clients = 200
	addr := echoServer(t, "127.0.0.1", nil)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	got := make(chan string, clients)
	before := heap()
	cs := make([]*core.AsyncUdpConnection, clients)
	for i := range cs {
		cs[i] = core.NewAsyncUdpConnection("udp://"+addr, nil)
		cs[i].Logger = quiet()
		cs[i].OnMessage = func(_ core.Connection, d []byte) { got <- string(d) }
		connect(t, cs[i])
	}
	time.Sleep(20 * time.Millisecond) // every reader is waiting
	per := (int64(heap()) - int64(before)) / clients
	t.Logf("%d bytes of heap per idle client", per)
	if per > 16<<10 {
		t.Fatalf("%d bytes of heap per idle client: a read buffer each?", per)
	}
	cs[clients-1].Send("still there", false)
	select {
	case m := <-got:
		if m != "still there" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
}
