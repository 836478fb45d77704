package core

import (
	"bytes"
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

// scanCounter is a line protocol that resumes its scan (InputResumer) and
// counts the bytes it looks at.
type scanCounter struct{ scanned int }

func (p *scanCounter) Input(c Connection, buf []byte) (int, error) { return p.InputFrom(c, buf, 0) }
func (p *scanCounter) InputFrom(_ Connection, buf []byte, seen int) (int, error) {
	for i := seen; i < len(buf); i++ {
		p.scanned++
		if buf[i] == '\n' {
			return i + 1, nil
		}
	}
	return 0, nil
}
func (p *scanCounter) Decode(_ Connection, pkg []byte) ([]byte, error) { return pkg, nil }
func (p *scanCounter) Encode(_ Connection, dst, data []byte) ([]byte, error) {
	return append(dst, data...), nil
}

// A long line arriving in small reads is scanned once: core tells a
// resuming protocol how much of the line it has seen. (Scanning from the
// start at every read would look at about size²/(2·chunk) bytes here.)
func TestInputResumes(t *testing.T) {
	const size, chunk = 256 << 10, 512
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	p := &scanCounter{}
	g.Protocol = p
	var got []int
	g.OnMessage = func(_ Connection, d []byte) { got = append(got, len(d)) }
	s := (*Stream)(newTCPConnection(g, &sinkSocket{}))
	line := append(bytes.Repeat([]byte{'x'}, size-1), '\n')
	for off := 0; off < len(line); off += chunk {
		s.Received(line[off:min(off+chunk, len(line))])
	}
	s.Received([]byte("short\n"))
	if len(got) != 2 || got[0] != size || got[1] != len("short\n") {
		t.Fatalf("messages %v, want [%d %d]", got, size, len("short\n"))
	}
	if want := size + len("short\n"); p.scanned != want {
		t.Fatalf("the protocol scanned %d bytes for %d", p.scanned, want)
	}
}
