package tcp_test

import (
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A resume that runs on the lane while the lane still holds messages that
// arrived with the pausing one (OnBufferDrain resuming what OnMessage
// paused, the usual proxy pattern) must deliver those messages without
// waiting for more bytes from the peer.
func TestResumeOnLaneDeliversBuffered(t *testing.T) {
	got := make(chan string, 8)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnConnect = func(c core.Connection) { c.(*core.TCPConnection).MaxSendBufferSize = 1 }
	g.OnMessage = func(c core.Connection, d []byte) {
		got <- string(d)
		if string(d) == "1" {
			tc := c.(*core.TCPConnection)
			tc.PauseRecv()
			tc.Send("x", false) // fills the 1-byte queue: OnBufferDrain follows once written
		}
	}
	g.OnBufferDrain = func(c core.Connection) { c.(*core.TCPConnection).ResumeRecv() }
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("1\n2\n3\n"))
	for _, want := range []string{"1", "2", "3"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("message %q not delivered after the resume", want)
		}
	}
}

// A pause asked for after Close (a callback that pauses when its output
// is full, say) must not hold the closing connection: once the peer has
// read the goodbye and closed, OnClose follows at once, not after
// CloseTimeout.
func TestPauseAfterCloseDoesNotHold(t *testing.T) {
	closed := make(chan time.Time, 1)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.CloseTimeout = 5 * time.Second
	g.OnMessage = func(c core.Connection, d []byte) {
		c.Close("bye")
		c.(*core.TCPConnection).PauseRecv()
	}
	g.OnClose = func(core.Connection) { closed <- time.Now() }
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("hi\n"))
	if got := expectCleanEOF(t, c, 10*time.Second); string(got) != "bye\n" {
		t.Fatalf("got %q", got)
	}
	c.Close()
	peerClosed := time.Now()
	select {
	case at := <-closed:
		if el := at.Sub(peerClosed); el > time.Second {
			t.Fatalf("OnClose %v after the peer closed", el)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("no OnClose")
	}
}
