package core

import (
	"fmt"
	"strings"
	"testing"
)

// batchLines is a line protocol that logs when core holds and releases
// its connection's writes, with the bytes written by then.
type batchLines struct {
	sock *sinkSocket
	log  []string
}

func (p *batchLines) Input(_ Connection, buf []byte) (int, error) {
	if i := strings.IndexByte(string(buf), '\n'); i >= 0 {
		return i + 1, nil
	}
	return 0, nil
}
func (p *batchLines) Decode(_ Connection, pkg []byte) ([]byte, error) { return pkg, nil }
func (p *batchLines) Encode(_ Connection, dst, data []byte) ([]byte, error) {
	return append(dst, data...), nil
}

func (p *batchLines) HoldingWrites(Connection) WriteReleaser {
	p.log = append(p.log, fmt.Sprintf("hold at %d", p.sock.n))
	return releaseLog{p}
}

type releaseLog struct{ p *batchLines }

func (r releaseLog) WritesReleased() {
	r.p.log = append(r.p.log, fmt.Sprintf("release at %d", r.p.sock.n))
}

// A WriteBatcher is told when core starts holding the answers to the
// messages of one read, before the first is delivered, and right before
// they are written, even when a callback switched the protocol meanwhile;
// a read of one message holds nothing.
func TestWriteBatcher(t *testing.T) {
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	sock := &sinkSocket{}
	p := &batchLines{sock: sock}
	g.Protocol = p
	g.OnMessage = func(c Connection, d []byte) {
		p.log = append(p.log, "msg "+strings.TrimSpace(string(d)))
		c.Send(string(d), false)
		if string(d) == "switch\n" {
			c.(*TCPConnection).SetProtocol(nil)
		}
	}
	s := (*Stream)(newTCPConnection(g, sock))
	for _, tc := range []struct {
		read string
		want []string
	}{
		{"a\nb\nc\n", []string{"hold at 0", "msg a", "msg b", "msg c", "release at 0"}},
		{"d\n", []string{"msg d"}},
		{"e\nswitch\nraw", []string{"hold at 8", "msg e", "msg switch", "msg raw", "release at 8"}},
	} {
		p.log = nil
		before := sock.n
		s.Received([]byte(tc.read))
		if got := strings.Join(p.log, ", "); got != strings.Join(tc.want, ", ") {
			t.Errorf("read %q: %s, want %s", tc.read, got, strings.Join(tc.want, ", "))
		}
		if sock.n != before+len(tc.read) {
			t.Errorf("read %q: %d bytes written, want %d", tc.read, sock.n-before, len(tc.read))
		}
	}
}
