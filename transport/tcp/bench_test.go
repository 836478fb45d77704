package tcp_test

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/shunhui19/goes/core"
)

// BenchmarkEchoRoundTrip measures one request/response over loopback:
// read, frame, OnMessage, Send, write. Allocations per op are the server's
// (the client reuses its buffers).
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
			g.Logger = quietLogger()
			g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
			if err := g.Start(); err != nil {
				b.Fatal(err)
			}
			defer g.Stop()
			c, err := net.Dial("tcp", g.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, _ := frames{}.Encode(nil, nil, make([]byte, size))
			reply := make([]byte, len(msg))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
