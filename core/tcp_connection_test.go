package core

import (
	"net"
	"testing"
	"unsafe"

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
	out, spare := cap(c.out), 0
	if x := c.extra.Load(); x != nil {
		spare = cap(x.spare)
	}
	c.mu.Unlock()
	if out != 0 || spare != 0 {
		t.Fatalf("idle connection keeps send buffers of %d and %d bytes", out, spare)
	}
}

// Every idle connection costs its TCPConnection: what few connections need
// lives in connExtra, made on first use. The bound is a size class of Go's
// allocator; a field added here moves every connection to the next one.
func TestConnectionSize(t *testing.T) {
	if s := unsafe.Sizeof(TCPConnection{}); s > 288 {
		t.Fatalf("TCPConnection is %d bytes; keep it within 288 (move rarely used state to connExtra)", s)
	}
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	c := newTCPConnection(g, &sinkSocket{})
	if err := c.Send("hello, goer", false); err != nil {
		t.Fatal(err)
	}
	if c.extra.Load() != nil {
		t.Fatal("a connection whose send went out at once made its extra part")
	}
}
