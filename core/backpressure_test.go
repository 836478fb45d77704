package core

import (
	"bytes"
	"testing"
)

// BenchmarkReceivedPipelined is core's part of a read holding 16 packages,
// each answered with a short Send: framing, delivery, the send queue and
// the backpressure check, on a socket that takes every write. ns/op is per
// package.
func BenchmarkReceivedPipelined(b *testing.B) {
	const depth = 16
	g := NewGoer("127.0.0.1:0", &scanCounter{}, "tcp")
	g.setDefaults()
	g.OnMessage = func(c Connection, _ []byte) { c.Send("pong\n", false) }
	s := (*Stream)(newTCPConnection(g, &sinkSocket{}))
	batch := bytes.Repeat([]byte("ping\n"), depth)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		s.Received(batch)
	}
}
