package tcp_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// lateStream is what a late-reading peer sends: count messages of size
// bytes, each distinct, framed for proto (nil: raw). It returns the bytes
// to write and the bytes the echo must give back.
func lateStream(proto core.Protocol, count, size int) (out, want []byte) {
	for i := range count {
		msg := bytes.Repeat([]byte{'a' + byte(i%26)}, size)
		copy(msg, fmt.Sprintf("%08d", i))
		switch proto.(type) {
		case lines:
			msg = append(msg, '\n')
		case frames:
			msg = append(binary.BigEndian.AppendUint32(nil, uint32(size+4)), msg...)
		}
		out = append(out, msg...)
	}
	return out, out
}

// echoServer echoes every message with the protocol and counts the sends
// it refused.
func echoServer(t *testing.T, proto core.Protocol, setup func(g *core.Goer)) (addr string, refused *atomic.Int64) {
	refused = new(atomic.Int64)
	g := core.NewGoer("127.0.0.1:0", proto, "tcp")
	g.MaxSendBufferSize = 64 << 10
	g.SendHighWater = 32 << 10
	g.OnMessage = func(c core.Connection, d []byte) {
		if err := c.SendBytes(d, false); err != nil {
			refused.Add(1)
		}
	}
	if setup != nil {
		setup(g)
	}
	return start(t, g), refused
}

// dialSmall dials addr with a small receive buffer, so that what the
// server sends stays in its queue rather than in the kernel's buffers
// (which grow to tens of MiB on loopback).
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := dial(t, addr)
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	return c
}

// writeThenRead writes out from a goroutine and starts reading after
// lateBy, and once until (if given) holds or 10 s passed; it returns what
// was read before the connection went quiet or len(want) bytes came.
func writeThenRead(t *testing.T, addr string, out []byte, want int, lateBy time.Duration, until ...func() bool) []byte {
	t.Helper()
	c := dialSmall(t, addr)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(out)
		wrote <- err
	}()
	time.Sleep(lateBy)
	for deadline := time.Now().Add(10 * time.Second); len(until) > 0 && !until[0]() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	got := make([]byte, 0, want)
	buf := make([]byte, 64<<10)
	for len(got) < want {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	c.Close()
	<-wrote
	return got
}

// A peer that sends 4 MiB and reads its echoes only a second later loses
// nothing, whichever protocol frames the echoes: the server stops reading
// while the echoes cannot be queued.
func TestEchoReadLateLosesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto core.Protocol
	}{{"raw", nil}, {"text", lines{}}, {"frame", frames{}}} {
		t.Run(tc.name, func(t *testing.T) {
			addr, refused := echoServer(t, tc.proto, nil)
			out, want := lateStream(tc.proto, 256, 16<<10) // 64 times MaxSendBufferSize
			got := writeThenRead(t, addr, out, len(want), time.Second)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d of %d bytes echoed (first difference at %d); %d sends refused",
					len(got), len(want), firstDiff(got, want), refused.Load())
			}
			if n := refused.Load(); n != 0 {
				t.Fatalf("%d sends refused", n)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Without SendHighWater (the default) a text connection reads on, and
// sends past MaxSendBufferSize are refused as before (guarantee 4).
func TestSendHighWaterOff(t *testing.T) {
	addr, refused := echoServer(t, lines{}, func(g *core.Goer) { g.SendHighWater = 0 })
	out, want := lateStream(lines{}, 512, 16<<10) // more than the kernel's buffers take
	// Read once a send was refused: a server slowed by a loaded machine
	// may not have outgrown the kernel's buffers after a second.
	got := writeThenRead(t, addr, out, len(want), time.Second, func() bool { return refused.Load() > 0 })
	if refused.Load() == 0 || len(got) >= len(want) {
		t.Fatalf("%d of %d bytes echoed, %d refused: backpressure was not off", len(got), len(want), refused.Load())
	}
}

// The pause the user asks for and the pause for a full queue are lifted
// each on its own: a drained queue does not resume what PauseRecv paused,
// and ResumeRecv does not resume a connection whose queue is still past
// its high-water mark.
func TestUserPauseAndBackpressure(t *testing.T) {
	got := make(chan string, 16)
	conns := make(chan *core.TCPConnection, 1)
	big := string(bytes.Repeat([]byte("z"), 256<<10))
	huge := string(bytes.Repeat([]byte("y"), 8<<20)) // more than the kernel buffers hold
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.MaxSendBufferSize = 64 << 10
	g.SendHighWater = 32 << 10
	g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
	g.OnMessage = func(c core.Connection, d []byte) {
		got <- string(d)
		tc := c.(*core.TCPConnection)
		switch string(d) {
		case "user":
			tc.PauseRecv()
			tc.Send(big, false) // past the high-water mark
		case "queue":
			tc.Send(huge, false)
		}
	}
	addr := start(t, g)
	cl := dialSmall(t, addr)
	c := <-conns
	br := bufio.NewReaderSize(cl, 64<<10)
	expect := func(want string) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not delivered", want)
		}
	}
	quiet := func(what string) {
		t.Helper()
		select {
		case s := <-got:
			t.Fatalf("%s: %q delivered", what, s)
		case <-time.After(300 * time.Millisecond):
		}
		if !c.IsPaused() {
			t.Fatalf("%s: not paused", what)
		}
	}

	// The user's pause outlives the drain.
	io.WriteString(cl, "user\nafter-user\n")
	expect("user")
	if line := readLine(t, br); len(line) != len(big) {
		t.Fatalf("read %d bytes", len(line))
	}
	waitFor(t, "the queue to drain", func() bool { return c.SendQueueSize() == 0 })
	quiet("drained, still paused by the user")
	c.ResumeRecv()
	expect("after-user")

	// The queue's pause outlives the user's ResumeRecv.
	io.WriteString(cl, "queue\nafter-queue\n")
	expect("queue")
	waitFor(t, "a full queue", func() bool { return c.SendQueueSize() > 0 })
	c.PauseRecv()
	c.ResumeRecv()
	quiet("resumed by the user, queue still full")
	if line := readLine(t, br); len(line) != len(huge) {
		t.Fatalf("read %d bytes", len(line))
	}
	expect("after-queue")
}

// A peer that never reads: the server stops reading it, its memory stays
// bounded (the send queue within MaxSendBufferSize and the last echo, the
// bytes read ahead within a read or two), and IdleTimeout closes it, since
// nothing is received from a paused connection.
func TestNeverReadingPeer(t *testing.T) {
	const limit = 64 << 10
	closed := make(chan struct{})
	conns := make(chan *core.TCPConnection, 1)
	addr, refused := echoServer(t, frames{}, func(g *core.Goer) {
		g.MaxSendBufferSize = limit
		g.IdleTimeout = time.Second
		g.CloseTimeout = 500 * time.Millisecond
		g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
		g.OnClose = func(core.Connection) { close(closed) }
	})
	c := dialSmall(t, addr)
	tc := <-conns
	out, _ := lateStream(frames{}, 1024, 16<<10)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(out)
		wrote <- err
	}()
	var maxSend, maxRecv int
	var readOpen int64 // a closing connection reads on (and drops) until EOF
	stop := time.Now().Add(8 * time.Second)
	for done := false; !done && time.Now().Before(stop); {
		maxSend = max(maxSend, tc.SendQueueSize())
		maxRecv = max(maxRecv, tc.RecvQueueSize())
		if n := tc.BytesRead(); tc.State() == core.StateOpen {
			readOpen = n
		}
		select {
		case <-closed:
			done = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-closed:
	default:
		t.Fatal("the stalled connection was not closed by IdleTimeout")
	}
	if maxSend > limit+16<<10+4 {
		t.Fatalf("send queue reached %d bytes (limit %d, messages of %d)", maxSend, limit, 16<<10+4)
	}
	if maxRecv > 512<<10 {
		t.Fatalf("%d bytes waited to be decoded", maxRecv)
	}
	// What it read went into echoes the kernel's buffers hold (a few MiB)
	// and into the queue; then it stopped.
	t.Logf("read %d KiB of %d KiB while open", readOpen>>10, len(out)>>10)
	if readOpen > int64(len(out)/2) {
		t.Fatalf("the server read %d of %d bytes from a peer that reads nothing", readOpen, len(out))
	}
	c.Close()
	<-wrote
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d sends refused", n)
	}
}
