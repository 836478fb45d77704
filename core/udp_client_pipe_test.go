package core

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A Pipe into a datagram client whose kernel buffer is full: piped
// messages queue past MaxSendBufferSize (never refused), forward reports
// the queue full so that the source pauses, Send is refused meanwhile, and
// once the kernel takes the queue below half the limit the source is told
// to read on, once; every piped message went out as one datagram, in
// order.
func TestUdpClientPipeBackpressure(t *testing.T) {
	a, sock, _ := fakeClient(t, 100)
	sock.setFull(true)
	resumed := make(chan struct{}, 4)
	src := resumeSpy{resumed: resumed}
	var want []string
	for i := range 8 {
		d := fmt.Sprintf("%02d%s", i, strings.Repeat("p", 18))
		full, err := a.forward(src, []byte(d))
		if err != nil {
			t.Fatalf("piped message %d refused: %v", i, err)
		}
		if full != (i >= 4) {
			t.Fatalf("piped message %d: full %v with %d bytes queued", i, full, a.SendQueueSize())
		}
		want = append(want, d)
	}
	if a.SendQueueSize() != 160 || a.waitLowWater(nil) {
		t.Fatalf("queued %d", a.SendQueueSize())
	}
	if err := a.Send("x", false); !errors.Is(err, ErrSendBufferFull) {
		t.Fatalf("a send past the limit: %v", err)
	}
	select {
	case <-resumed:
		t.Fatal("told to read on while the queue is full")
	case <-time.After(50 * time.Millisecond):
	}
	sock.setFull(false)
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatal("the source was not told to read on")
	}
	waitUntil(t, "the queue to empty", func() bool { return a.SendQueueSize() == 0 })
	if got := sock.datagrams(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sent %q, want %q", got, want)
	}
	select {
	case <-resumed:
		t.Fatal("told to read on twice")
	case <-time.After(50 * time.Millisecond):
	}
	a.Close("")
	if _, err := a.forward(src, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("piped into a closed client: %v", err)
	}
}

// resumeSpy is a Pipe's source that reports being told to read on.
type resumeSpy struct {
	*TCPConnection
	resumed chan struct{}
}

func (s resumeSpy) ResumeRecv() { s.resumed <- struct{}{} }
