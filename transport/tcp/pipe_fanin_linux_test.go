package tcp_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// TestPipeFanIn: several sources piped into one destination whose peer
// reads late. Each source that finds the queue full pauses; once the queue
// drains below half its limit every paused source reads on, not only the
// last one to pause (which left the others paused for good).
func TestPipeFanIn(t *testing.T) {
	const (
		limit   = 64 << 10
		sources = 3
		each    = 16 << 20 // more than loopback's socket buffers hold
	)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			backend, accepted := jammedBackend(t)
			dst := core.NewAsyncConnection("tcp://"+backend, nil)
			dst.MaxSendBufferSize = limit
			closed := make(chan struct{})
			dst.OnClose = func(core.Connection) { close(closed) }

			g := core.NewGoer("127.0.0.1:0", nil, "tcp")
			g.Engine = engine
			dst.Server = g
			var once sync.Once
			g.OnConnect = func(c core.Connection) {
				once.Do(dst.Connect)
				c.(*core.TCPConnection).Pipe(dst)
			}
			addr := start(t, g)

			var wg sync.WaitGroup
			errs := make(chan error, sources)
			var conns []net.Conn
			for i := range sources {
				c := dial(t, addr)
				conns = append(conns, c)
				c.SetDeadline(time.Now().Add(time.Minute))
				chunk := make([]byte, 64<<10)
				for j := range chunk {
					chunk[j] = byte('a' + i)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; n < each; n += len(chunk) {
						if _, err := c.Write(chunk); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			b := acceptBackend(t, accepted)
			// Let every source fill the queue and pause before the peer
			// reads.
			time.Sleep(500 * time.Millisecond)

			var counts [sources]int
			buf := make([]byte, 256<<10)
			b.SetReadDeadline(time.Now().Add(30 * time.Second))
			total := 0
			for total < sources*each {
				n, err := b.Read(buf)
				for _, v := range buf[:n] {
					if i := int(v - 'a'); i >= 0 && i < sources {
						counts[i]++
					}
				}
				total += n
				if err != nil {
					t.Fatalf("the destination's peer read %d of %d bytes (by source %v): %v", total, sources*each, counts, err)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("a source's write: %v", err)
			}
			for i, n := range counts {
				if n != each {
					t.Errorf("source %d: %d bytes arrived, want %d", i, n, each)
				}
			}
			// A source's close closes the destination (Pipe).
			for _, c := range conns {
				c.Close()
			}
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the destination never closed")
			}
			waitFor(t, "the sources to close", func() bool { return g.Connections.Len() == 0 })
			io.Copy(io.Discard, b)
		})
	}
}
