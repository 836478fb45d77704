package websocket_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// A core Pipe from an accepted raw connection into a client connection
// whose server answers the handshake late: what the source receives
// meanwhile waits in the client's queue (MaxSendBufferSize), as a
// SendText would; a flood beyond it pauses the source, which reads on
// once the queue drains after the answer; every byte follows the 101, in
// order, as frames. When the source's peer ends before the answer, what
// it sent still goes out behind the 101 before the client's write side
// shuts.
func TestPipeIntoAsyncClientDuringHandshake(t *testing.T) {
	for _, tc := range []struct {
		name  string
		total int  // bytes the source's peer sends
		ends  bool // and then closes, before the answer
	}{
		{"flood", 1 << 20, false},
		{"source ends first", 12 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 16 << 10
			asked, answer := make(chan struct{}), make(chan struct{})
			type result struct {
				data   []byte
				frames int
				most   int // the longest frame's payload
				early  int // bytes before the answer
			}
			got := make(chan result, 1)
			wsAddr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
				close(asked)
				select {
				case <-answer:
				case <-time.After(15 * time.Second):
					return
				}
				var r result
				r.early = br.Buffered()
				c.Write([]byte(accept101(req, "")))
				for len(r.data) < tc.total {
					op, p := readClientFrame(t, br)
					if op != 1 {
						t.Errorf("frame %d: opcode %d, want text", r.frames, op)
						break
					}
					r.data = append(r.data, p...)
					r.frames++
					r.most = max(r.most, len(p))
				}
				got <- r
				io.Copy(io.Discard, br) // until the client ends
			})

			type pair struct {
				src *core.TCPConnection
				dst *core.AsyncConnection
			}
			piped := make(chan pair, 1)
			dstClosed := make(chan struct{})
			g := core.NewGoer("127.0.0.1:0", nil, "tcp") // raw
			g.Logger = quietLogger()
			g.OnConnect = func(c core.Connection) {
				dst := core.NewAsyncConnection("ws://"+wsAddr+"/", websocket.New())
				dst.Logger = quietLogger()
				dst.MaxSendBufferSize = limit
				dst.OnClose = func(core.Connection) { close(dstClosed) }
				src := c.(*core.TCPConnection)
				src.Pipe(dst)
				dst.Connect()
				piped <- pair{src, dst}
			}
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			defer g.Stop()
			peer := dialPlain(t, g.Addr().String())
			defer peer.Close() // before the stop, which would wait for it
			p := recv(t, piped, "the pipe")
			defer func() {
				p.dst.Destroy()
				recv(t, dstClosed, "the client's OnClose")
			}()
			recv(t, asked, "the upgrade request")
			if s := p.dst.State(); s != core.StateConnecting || p.dst.Conn() == nil {
				t.Fatalf("state %s, connection %v: not waiting for the answer", s, p.dst.Conn())
			}

			var sent bytes.Buffer
			for i := 0; sent.Len() < tc.total; i++ {
				fmt.Fprintf(&sent, "line %07d\n", i)
			}
			sent.Truncate(tc.total)
			wrote := make(chan error, 1)
			go func() {
				_, err := peer.Write(sent.Bytes())
				if err == nil && tc.ends {
					err = peer.(*net.TCPConn).CloseWrite()
				}
				wrote <- err
			}()
			queued := 0
			if tc.total > limit {
				waitFor(t, "the source to pause", p.src.IsPaused)
				queued = p.dst.SendQueueSize()
				time.Sleep(100 * time.Millisecond)
				if q := p.dst.SendQueueSize(); q != queued || !p.src.IsPaused() {
					t.Fatalf("paused source: queue %d then %d, paused %v", queued, q, p.src.IsPaused())
				}
			} else {
				if err := recv(t, wrote, "the peer's writes"); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the source's bytes in the queue", func() bool { return p.dst.SendQueueSize() >= tc.total })
				time.Sleep(50 * time.Millisecond) // the source's EOF, its close
				queued = p.dst.SendQueueSize()
			}
			if s := p.dst.State(); s != core.StateConnecting {
				t.Fatalf("state %s before the answer", s)
			}
			close(answer)
			r := recv(t, got, "the server's frames")
			if r.early != 0 {
				t.Errorf("%d bytes came before the answer", r.early)
			}
			if !bytes.Equal(r.data, sent.Bytes()) {
				t.Fatalf("the server got %d bytes, not the %d sent in order", len(r.data), sent.Len())
			}
			if tc.total > limit && queued > limit+r.most {
				t.Errorf("%d bytes queued while the source was paused, limit %d plus one message (at most %d)", queued, limit, r.most)
			}
			if tc.total > limit {
				if err := recv(t, wrote, "the peer's writes"); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%d frames, the longest %d bytes; %d bytes queued before the answer", r.frames, r.most, queued)
		})
	}
}
