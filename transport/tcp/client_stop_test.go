package tcp_test

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// TestStopFlushesServerClients: Stop ends the client connections whose
// Server the Goer is, after what they queued is written, and returns once
// they have: a proxy that stops while its backend reads late loses none of
// the bytes it read from its clients (its process may exit right after
// Stop). The backend starts reading only after Stop began, so a Stop that
// returned before the flush is caught.
func TestStopFlushesServerClients(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	readFrom := make(chan struct{})
	var received, wrong atomic.Int64
	wrong.Store(-1)
	got := make(chan struct{})
	go func() {
		defer close(got)
		c, err := backend.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		<-readFrom
		io.Copy(patternChecker{&received, &wrong}, c)
	}()

	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 256 << 10
	var clientClosed, clientOpen atomic.Int32
	var front atomic.Pointer[core.TCPConnection]
	g.OnConnect = func(c core.Connection) {
		f := c.(*core.TCPConnection)
		front.Store(f)
		a := core.NewAsyncConnection("tcp://"+backend.Addr().String(), nil)
		a.Server = g
		a.MaxSendBufferSize = 256 << 10
		a.OnConnect = func(core.Connection) { clientOpen.Add(1) }
		a.OnClose = func(core.Connection) { clientClosed.Add(1) }
		f.Pipe(a)
		a.Pipe(f)
		a.Connect()
	}
	addr := start(t, g)

	// The client writes until the proxy stops reading it: the backend
	// reads nothing, so the client connection's queue fills and the Pipe
	// pauses the accepted side.
	c := dial(t, addr)
	defer c.Close()
	var stopWriting atomic.Bool
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		p := &patternReader{}
		buf := make([]byte, 64<<10)
		for !stopWriting.Load() {
			p.Read(buf)
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	waitFor(t, "the client connection", func() bool { return clientOpen.Load() == 1 && front.Load() != nil })
	f := front.Load()
	var forwarded int64 = -1
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := f.BytesRead()
		if n == forwarded && n > 0 {
			break // the Pipe paused it: all it read went to the client connection
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy kept reading: %d bytes", n)
		}
		forwarded = n
	}
	// What the client writes from now on is not read before the Stop: the
	// closing accepted connection reads it and lets it go.
	stopWriting.Store(true)

	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Stop returned while the client connection still had bytes for the backend")
	default:
	}
	close(readFrom)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	if clientClosed.Load() != 1 {
		t.Fatalf("Stop returned with the client connection open (OnClose ran %d times)", clientClosed.Load())
	}
	<-got
	c.Close()
	<-wrote
	if received.Load() != forwarded {
		t.Fatalf("the backend got %d bytes; the proxy forwarded %d", received.Load(), forwarded)
	}
	if at := wrong.Load(); at >= 0 {
		t.Fatalf("the backend got a wrong byte at offset %d", at)
	}
}

// patternReader reads an endless stream in which every byte says its
// offset (see patternByte): a lost, repeated or reordered chunk shows.
type patternReader struct{ off int64 }

func patternByte(off int64) byte { return byte(off ^ off>>8 ^ off>>16) }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = patternByte(p.off)
		p.off++
	}
	return len(b), nil
}

// patternChecker counts the bytes written to it in n and records in wrong
// the offset of the first that does not follow the pattern.
type patternChecker struct{ n, wrong *atomic.Int64 }

func (p patternChecker) Write(b []byte) (int, error) {
	off := p.n.Load()
	for i, c := range b {
		if c != patternByte(off+int64(i)) && p.wrong.Load() < 0 {
			p.wrong.Store(off + int64(i))
		}
	}
	p.n.Add(int64(len(b)))
	return len(b), nil
}

// TestStopEndsServerClients: Stop closes an idle client connection whose
// Server the Goer is (OnClose runs before Stop returns; with AutoReconnect
// it does not connect again) and leaves one without a Server alone.
func TestStopEndsServerClients(t *testing.T) {
	peer := echoLines()
	paddr := start(t, peer)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	start(t, g)

	owned := core.NewAsyncConnection("tcp://"+paddr, lines{})
	owned.Server = g
	owned.AutoReconnect = &core.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
	ev := watch(owned)
	free := core.NewAsyncConnection("tcp://"+paddr, lines{})
	fev := watch(free)
	defer free.Close("")
	for _, a := range []*core.AsyncConnection{owned, free} {
		a.Connect()
		a.Send("ping", false)
	}
	for _, e := range []*clientEvents{ev, fev} {
		waitFor(t, "the echo", func() bool { return e.get(func(e *clientEvents) bool { return len(e.msgs) == 1 }) })
	}

	g.Stop()
	if !ev.get(func(e *clientEvents) bool { return e.closes == 1 }) {
		t.Fatal("Stop returned before the Server's client connection closed")
	}
	time.Sleep(100 * time.Millisecond) // AutoReconnect would have connected by now
	if !ev.get(func(e *clientEvents) bool { return e.connects == 1 }) {
		t.Fatal("the Server's client connection connected again after Stop")
	}
	if free.State() != core.StateOpen {
		t.Fatalf("a client connection without a Server is %s after Stop; want it open", free.State())
	}
	free.Send("still", false)
	waitFor(t, "the other client's echo", func() bool { return fev.get(func(e *clientEvents) bool { return len(e.msgs) == 2 }) })
}

// TestStopWithPeersThatStayOpen: when the peers on both sides of a proxied
// pair keep their ends open after the proxy's FIN, Stop still returns within
// about one CloseTimeout (the client connection gets what is left of the
// accepted one's window, a second at least), not one per side.
func TestStopWithPeersThatStayOpen(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := backend.Accept(); err == nil {
			held <- c // neither read nor closed until the test ends
		}
	}()
	const closeTimeout = time.Second
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.CloseTimeout = closeTimeout
	var clientClosed atomic.Int32
	var clientOpen atomic.Int32
	g.OnConnect = func(c core.Connection) {
		a := core.NewAsyncConnection("tcp://"+backend.Addr().String(), nil)
		a.Server = g
		a.CloseTimeout = closeTimeout
		a.OnConnect = func(core.Connection) { clientOpen.Add(1) }
		a.OnClose = func(core.Connection) { clientClosed.Add(1) }
		c.(*core.TCPConnection).Pipe(a)
		a.Pipe(c.(*core.TCPConnection))
		a.Connect()
	}
	addr := start(t, g)
	c := dial(t, addr) // held open too
	defer c.Close()
	waitFor(t, "the client connection", func() bool { return clientOpen.Load() == 1 })
	b := <-held
	defer b.Close()

	began := time.Now()
	g.Stop()
	took := time.Since(began)
	if clientClosed.Load() != 1 {
		t.Fatal("Stop returned with the client connection open")
	}
	// The accepted side lingers closeTimeout for its peer's EOF, the client
	// side what is left of closeTimeout+1s (a second at least); 2 s more
	// for a loaded machine.
	if limit := 2*closeTimeout + 3*time.Second; took > limit {
		t.Fatalf("Stop took %v with peers that stay open; want at most %v", took, limit)
	}
	t.Logf("Stop took %v", took)
}
