package tcp_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// 1. Callbacks of one connection never overlap: OnConnect, OnMessage in
// arrival order, OnClose once — even with OnBufferFull/OnBufferDrain and
// OnError fired by Sends from other goroutines meanwhile.
func TestCallbackOrder(t *testing.T) {
	const n = 2000
	var (
		mu      sync.Mutex
		events  []string
		inside  atomic.Int32
		overlap atomic.Int32
		closed  = make(chan struct{})
	)
	enter := func(name string) func() {
		if inside.Add(1) != 1 {
			overlap.Add(1)
		}
		mu.Lock()
		events = append(events, name)
		mu.Unlock()
		time.Sleep(time.Microsecond)
		return func() { inside.Add(-1) }
	}
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.MaxSendBufferSize = 4 << 10
	stopSpam := make(chan struct{})
	var spam sync.WaitGroup
	g.OnConnect = func(c core.Connection) {
		defer enter("connect")()
		spam.Add(1)
		go func() { // pushes from another goroutine: buffer full, drain, send failures
			defer spam.Done()
			for {
				select {
				case <-stopSpam:
					return
				default:
				}
				if errors.Is(c.Send(strings.Repeat("x", 1000), false), core.ErrClosed) {
					return
				}
				time.Sleep(50 * time.Microsecond)
			}
		}()
	}
	g.OnMessage = func(c core.Connection, data []byte) {
		defer enter("msg " + string(data))()
	}
	g.OnBufferFull = func(c core.Connection) { defer enter("full")() }
	g.OnBufferDrain = func(c core.Connection) { defer enter("drain")() }
	g.OnError = func(c core.Connection, code int, msg string) { defer enter("error")() }
	g.OnClose = func(c core.Connection) {
		defer enter("close")()
		close(closed)
	}
	addr := start(t, g)
	c := dial(t, addr)
	go io.Copy(io.Discard, c) // a reader that keeps up now and then
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	data := b.String()
	for len(data) > 0 { // odd-sized writes so packages straddle reads
		k := min(len(data), 777)
		if _, err := c.Write([]byte(data[:k])); err != nil {
			t.Fatal(err)
		}
		data = data[k:]
	}
	waitFor(t, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, e := range events {
			if strings.HasPrefix(e, "msg ") {
				k++
			}
		}
		return k == n
	})
	close(stopSpam)
	c.Close()
	<-closed
	spam.Wait()
	time.Sleep(50 * time.Millisecond) // anything fired after OnClose would show now

	mu.Lock()
	defer mu.Unlock()
	if overlap.Load() != 0 {
		t.Fatalf("%d callbacks overlapped", overlap.Load())
	}
	if events[0] != "connect" {
		t.Fatalf("first event %q", events[0])
	}
	if events[len(events)-1] != "close" {
		t.Fatalf("last event %q", events[len(events)-1])
	}
	next := 0
	closes := 0
	for _, e := range events {
		if s, ok := strings.CutPrefix(e, "msg "); ok {
			if s != strconv.Itoa(next) {
				t.Fatalf("message %q arrived when %d was expected", s, next)
			}
			next++
		}
		if e == "close" {
			closes++
		}
	}
	if closes != 1 {
		t.Fatalf("OnClose ran %d times", closes)
	}
}

// 2. A handler that blocks does not stall other connections.
func TestBlockingHandlerDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) {
		if string(data) == "block" {
			<-release
		}
		c.SendBytes(data, false)
	}
	addr := start(t, g)
	defer close(release)
	blocked := dial(t, addr)
	blocked.Write([]byte("block\n"))
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 20; i++ {
		c := dial(t, addr)
		fmt.Fprintf(c, "ping %d\n", i)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if got := readLine(t, bufio.NewReader(c)); got != fmt.Sprintf("ping %d", i) {
			t.Fatalf("got %q", got)
		}
		c.Close()
	}
}

// 3. Send is safe from many goroutines and messages never interleave.
func TestConcurrentSendsDoNotInterleave(t *testing.T) {
	const senders, each = 16, 200
	ready := make(chan core.Connection, 1)
	g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
	g.MaxSendBufferSize = 64 << 20
	g.OnConnect = func(c core.Connection) { ready <- c }
	addr := start(t, g)
	cl := dial(t, addr)
	c := <-ready
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				msg := bytes.Repeat([]byte{byte('a' + s)}, 100+s*37+i)
				if err := c.SendBytes(msg, false); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}(s)
	}
	r := bufio.NewReader(cl)
	count := map[byte]int{}
	for k := 0; k < senders*each; k++ {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		if len(body) == 0 || bytes.Count(body, body[:1]) != len(body) {
			t.Fatalf("message %d is mixed: %q...", k, body[:min(len(body), 40)])
		}
		count[body[0]]++
	}
	wg.Wait()
	for s := 0; s < senders; s++ {
		if count[byte('a'+s)] != each {
			t.Fatalf("sender %d: %d messages", s, count[byte('a'+s)])
		}
	}
}

// 4. Against a peer that stops reading: the queue stops at
// MaxSendBufferSize, OnBufferFull fires once, further sends fail with
// ErrSendBufferFull and OnError, and OnBufferDrain fires once the peer reads.
func TestSendBufferFullAndDrain(t *testing.T) {
	const limit = 256 << 10
	chunk := strings.Repeat("z", 16<<10)
	var full, drain, sendFails atomic.Int32
	ready := make(chan *core.TCPConnection, 1)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = limit
	g.OnConnect = func(c core.Connection) { ready <- c.(*core.TCPConnection) }
	g.OnBufferFull = func(core.Connection) { full.Add(1) }
	g.OnBufferDrain = func(core.Connection) { drain.Add(1) }
	g.OnError = func(_ core.Connection, code int, _ string) {
		if code == core.ErrCodeSendFail {
			sendFails.Add(1)
		}
	}
	addr := start(t, g)
	cl := dial(t, addr)
	c := <-ready

	accepted, refused := 0, 0
	maxQueue := 0
	deadline := time.Now().Add(10 * time.Second)
	for refused < 10 && time.Now().Before(deadline) {
		err := c.Send(chunk, false)
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, core.ErrSendBufferFull):
			refused++
		default:
			t.Fatalf("send: %v", err)
		}
		maxQueue = max(maxQueue, c.SendQueueSize())
		if refused == 0 {
			time.Sleep(100 * time.Microsecond) // let the kernel buffers fill
		}
	}
	if refused < 10 {
		t.Fatalf("queue never filled (%d accepted)", accepted)
	}
	if maxQueue > limit+len(chunk) {
		t.Fatalf("queue grew to %d, limit %d", maxQueue, limit)
	}
	waitFor(t, "OnBufferFull and OnError", func() bool { return full.Load() == 1 && sendFails.Load() >= 10 })
	if drain.Load() != 0 {
		t.Fatal("OnBufferDrain before the peer read")
	}
	// The peer reads everything that was accepted.
	want := accepted * len(chunk)
	got := 0
	buf := make([]byte, 64<<10)
	for got < want {
		n, err := cl.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, want, err)
		}
		got += n
	}
	waitFor(t, "OnBufferDrain", func() bool { return drain.Load() == 1 })
	if full.Load() != 1 {
		t.Fatalf("OnBufferFull fired %d times", full.Load())
	}
	if err := c.Send("again", false); err != nil {
		t.Fatalf("send after drain: %v", err)
	}
}

// 5. A package over MaxPackageSize closes the connection with OnError,
// whether announced by a header or growing without an end.
func TestMaxPackageSize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto core.Protocol
		send  func(io.Writer)
	}{
		{"declared length", frames{}, func(w io.Writer) {
			binary.Write(w, binary.BigEndian, uint32(1<<30))
		}},
		{"line without end", lines{}, func(w io.Writer) {
			chunk := bytes.Repeat([]byte("y"), 8<<10)
			for i := 0; i < 64; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := make(chan int, 4)
			closed := make(chan struct{})
			g := core.NewGoer("127.0.0.1:0", tc.proto, "tcp")
			g.MaxPackageSize = 64 << 10
			g.CloseTimeout = time.Second // the test peer never closes
			g.OnError = func(_ core.Connection, code int, _ string) { codes <- code }
			g.OnClose = func(core.Connection) { close(closed) }
			g.OnMessage = func(core.Connection, []byte) { t.Error("no message expected") }
			addr := start(t, g)
			c := dial(t, addr)
			tc.send(c)
			select {
			case code := <-codes:
				if code != core.ErrCodePackageTooLarge {
					t.Fatalf("code %d", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnError")
			}
			expectCleanEOF(t, c, 10*time.Second)
			<-closed
		})
	}
}

// 6. A panic in a callback is logged, that connection is closed, and the
// server keeps serving.
func TestPanicRecovered(t *testing.T) {
	codes := make(chan int, 4)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) {
		if string(data) == "boom" {
			panic("boom")
		}
		c.SendBytes(data, false)
	}
	g.OnError = func(_ core.Connection, code int, _ string) { codes <- code }
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("boom\n"))
	expectCleanEOF(t, c, 10*time.Second)
	if code := <-codes; code != core.ErrCodePanic {
		t.Fatalf("code %d", code)
	}
	c2 := dial(t, addr)
	c2.Write([]byte("still here\n"))
	if got := readLine(t, bufio.NewReader(c2)); got != "still here" {
		t.Fatalf("got %q", got)
	}
}

// 7. Close flushes what is queued before closing; so does Stop.
func TestCloseFlushesQueue(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 256<<10) // 4 MiB
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 8 << 20
	g.OnMessage = func(c core.Connection, data []byte) {
		if err := c.Send(big, true); err != nil {
			t.Errorf("send: %v", err)
		}
		c.Close("bye")
	}
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("go"))
	time.Sleep(100 * time.Millisecond) // the peer is slow to start reading
	got := expectCleanEOF(t, c, 10*time.Second)
	if string(got) != big+"bye" {
		t.Fatalf("got %d bytes, want %d", len(got), len(big)+3)
	}
}

func TestStopFlushesQueue(t *testing.T) {
	big := strings.Repeat("q", 2<<20)
	ready := make(chan core.Connection, 1)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 8 << 20
	g.OnConnect = func(c core.Connection) { ready <- c }
	g.Logger = quietLogger()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.Addr().String())
	conn := <-ready
	if err := conn.Send(big, false); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	got := expectCleanEOF(t, c, 10*time.Second)
	// Closed at its EOF, as a peer does: Stop would otherwise wait
	// CloseTimeout (5 s) for the peer's end.
	c.Close()
	<-stopped
	if len(got) != len(big) {
		t.Fatalf("got %d bytes, want %d", len(got), len(big))
	}
}
