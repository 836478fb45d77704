package websocket

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// A message or control frame that arrives in pieces is assembled in a
// buffer the connection drops once it is whole: an idle connection keeps
// no read buffer, and nothing of a handshake without subprotocol.
func TestIdleStateKeepsNoBuffers(t *testing.T) {
	p := New()
	c := &fakeConn{limit: 1 << 20}
	st := p.state(c)
	var fr framer
	if err := fr.feed(st, c, []byte(fuzzHandshake), 1<<20, func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	if st.ext != nil {
		t.Fatalf("open connection keeps %+v", st.ext)
	}
	big := bytes.Repeat([]byte("y"), 40<<10)
	ping := []byte("are you there")
	var in []byte
	in = append(in, maskedFrameOp(ws.OpBinary, false, big[:10<<10])...)
	in = append(in, maskedFrameOp(ws.OpPing, true, ping)...)
	in = append(in, maskedFrameOp(ws.OpContinuation, true, big[10<<10:])...)
	var got [][]byte
	for len(in) > 0 {
		n := min(1000, len(in))
		if err := fr.feed(st, c, in[:n], 1<<20, func(m []byte) { got = append(got, bytes.Clone(m)) }); err != nil {
			t.Fatal(err)
		}
		in = in[n:]
		if len(in) > 0 && len(in) < 40<<10 && st.part == nil {
			t.Fatal("no buffer while a message is assembled")
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0], big) {
		t.Fatalf("got %d messages", len(got))
	}
	if !bytes.Contains(c.out.Bytes(), append([]byte{0x8a, byte(len(ping))}, ping...)) {
		t.Fatal("no pong with the ping's payload")
	}
	if st.part != nil || st.ext != nil {
		t.Fatalf("idle connection keeps part %v, ext %v", st.part != nil, st.ext != nil)
	}
}

func maskedFrameOp(op ws.OpCode, fin bool, payload []byte) []byte {
	m := [4]byte{9, 8, 7, 6}
	b := appendHeader(nil, op, fin, false, len(payload), &m)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], m, 0)
	return b
}
