package core

import (
	"net"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sinkSocket takes every write at once.
type sinkSocket struct{ n int }

func (s *sinkSocket) Write(b []byte) (int, error)    { s.n += len(b); return len(b), nil }
func (s *sinkSocket) TryWrite(b []byte) (int, error) { return s.Write(b) }
func (s *sinkSocket) Close() error                   { return nil }
func (s *sinkSocket) LocalAddr() net.Addr            { return &net.TCPAddr{} }
func (s *sinkSocket) RemoteAddr() net.Addr           { return &net.TCPAddr{} }

// A connection whose queue is empty holds no send buffer: idle connections
// would each pin one.
func TestIdleConnectionHoldsNoSendBuffer(t *testing.T) {
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	sock := &sinkSocket{}
	c := newTCPConnection(g, sock)
	for i := 0; i < 3; i++ {
		if err := c.Send("hello, goer", false); err != nil {
			t.Fatal(err)
		}
	}
	if sock.n != 3*len("hello, goer") {
		t.Fatalf("wrote %d bytes", sock.n)
	}
	c.mu.Lock()
	out, spare := cap(c.out), cap(c.spare)
	c.mu.Unlock()
	if out != 0 || spare != 0 {
		t.Fatalf("idle connection keeps send buffers of %d and %d bytes", out, spare)
	}
}
