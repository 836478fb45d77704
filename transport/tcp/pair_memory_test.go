package tcp_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// heapAndStacks is the live heap and the goroutine stacks, after a GC.
func heapAndStacks() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// An idle proxied pair (an accepted connection piped both ways to a client
// connection, as examples/proxy does) holds no goroutine on the epoll
// engine, and at most 1.5 KB: the pair's cost is what N connections through
// the proxy hold beyond N connections straight to the backend (the
// accepted connection, the AsyncConnection and its connection; what the
// first pair starts, the client engine's loops, is there before the
// count). On the goroutine engine the bound catches a buffer per idle
// connection beyond its two goroutines.
func TestIdleProxiedPairMemory(t *testing.T) {
	for _, tc := range []struct {
		engine string
		bound  int64 // bytes per pair
	}{{"epoll", 1536}, {"goroutine", 160 << 10}} {
		t.Run(tc.engine, func(t *testing.T) {
			const n = 3000 // the engine's buffers and workers, a fixed cost, weigh less per pair
			back := core.NewGoer("127.0.0.1:0", nil, "tcp")
			back.Engine = "epoll"
			back.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, true) }
			baddr := start(t, back)
			proxy := core.NewGoer("127.0.0.1:0", nil, "tcp")
			proxy.Engine = tc.engine
			proxy.OnConnect = func(c core.Connection) {
				front := c.(*core.TCPConnection)
				b := core.NewAsyncConnection("tcp://"+baddr, nil)
				b.Server = proxy
				front.Pipe(b)
				b.Pipe(front)
				b.Connect()
			}
			paddr := start(t, proxy)
			// open makes k connections to addr, each with one exchange.
			open := func(addr string, k int) []net.Conn {
				cs := make([]net.Conn, k)
				buf := make([]byte, 2)
				for i := range cs {
					c := dial(t, addr)
					c.Write([]byte("hi"))
					if _, err := c.Read(buf); err != nil {
						t.Fatal(err)
					}
					cs[i] = c
				}
				return cs
			}
			// closeAll closes cs and waits until the servers hold no more
			// than left connections each.
			closeAll := func(cs []net.Conn, left int) {
				for _, c := range cs {
					c.Close()
				}
				waitFor(t, "the connections to end", func() bool {
					return back.Connections.Len() <= left && proxy.Connections.Len() <= left
				})
			}
			settle := func() { time.Sleep(100 * time.Millisecond) }

			// A pair and a direct connection, open throughout: what the
			// first ones start (the client engine and its loops' buffers)
			// is there before the count.
			warm := append(open(baddr, 1), open(paddr, 1)...)
			m0 := heapAndStacks()
			direct := open(baddr, n)
			settle()
			m1 := heapAndStacks()
			closeAll(direct, 2)
			settle()
			m2 := heapAndStacks()
			proxied := open(paddr, n)
			settle()
			m3 := heapAndStacks()
			pair := ((m3 - m2) - (m1 - m0)) / n
			t.Logf("%s: %d B per idle proxied pair (heap and stacks; %d B per direct connection)", tc.engine, pair, (m1-m0)/n)
			if pair > tc.bound {
				t.Errorf("an idle proxied pair holds %d B, bound %d", pair, tc.bound)
			}
			closeAll(append(proxied, warm...), 0)
		})
	}
}
