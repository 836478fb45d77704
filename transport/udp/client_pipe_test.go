package udp_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

// tcpEngines are the engines a stream client connection runs on.
var tcpEngines = []string{"epoll", "goroutine"}

// engineServer is an unstarted Goer whose Engine a client connection
// borrows (AsyncConnection.Server).
func engineServer(engine string) *core.Goer {
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = engine
	g.Logger = quiet()
	return g
}

// TestPipeUDPToTCP: every datagram a UDP client receives goes whole, in
// order, to a TCP connection it is piped into; a TCP peer that does not
// read pauses the UDP client (PauseRecv) until it has read the queue down.
func TestPipeUDPToTCP(t *testing.T) {
	const size = 32 << 10
	for _, engine := range tcpEngines {
		t.Run(engine, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.(*net.TCPConn).SetReadBuffer(64 << 10)
					accepted <- c
				}
			}()
			dst := core.NewAsyncConnection("tcp://"+ln.Addr().String(), nil)
			dst.Server = engineServer(engine)
			dst.Logger = quiet()
			dst.MaxSendBufferSize = 64 << 10
			dstClosed := make(chan struct{})
			dst.OnClose = func(core.Connection) { close(dstClosed) }
			src, ev, peer, to := pausedClient(t, func(a *core.AsyncUdpConnection) {
				a.Pipe(dst)
				dst.Connect()
			})
			var tcpPeer net.Conn
			select {
			case tcpPeer = <-accepted:
				defer tcpPeer.Close()
			case <-time.After(5 * time.Second):
				t.Fatal("no TCP connection")
			}
			record := func(i int) []byte {
				b := bytes.Repeat([]byte{byte('a' + i%26)}, size)
				binary.BigEndian.PutUint32(b, uint32(i))
				return b
			}
			// The TCP peer reads nothing: the datagrams fill the kernel's
			// buffers, then the client connection's queue, then the UDP
			// client pauses.
			sent := 0
			for ; sent < 1000 && !src.IsPaused(); sent++ {
				peer.WriteTo(record(sent), to)
				time.Sleep(time.Millisecond)
			}
			if !src.IsPaused() {
				t.Fatalf("%d datagrams of %d KiB to a peer that reads nothing, and the UDP client is not paused", sent, size>>10)
			}
			queued := dst.SendQueueSize()
			if queued > 64<<10+size {
				t.Fatalf("%d bytes queued for the TCP peer, limit %d", queued, 64<<10)
			}
			time.Sleep(100 * time.Millisecond)
			if !src.IsPaused() {
				t.Fatal("resumed while the TCP peer reads nothing")
			}
			// It reads: the UDP client reads on, and what it is sent next
			// comes through.
			got := make(chan []byte, 1)
			go func() {
				tcpPeer.SetReadDeadline(time.Now().Add(20 * time.Second))
				var all []byte
				buf := make([]byte, 256<<10)
				for {
					n, err := tcpPeer.Read(buf)
					all = append(all, buf[:n]...)
					if err != nil {
						break
					}
				}
				tcpPeer.Close()
				got <- all
			}()
			waitFor(t, "the resume", func() bool { return !src.IsPaused() })
			for i := range 3 {
				peer.WriteTo(record(sent+i), to)
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			src.Close("")
			ev.waitClose(t)
			select {
			case <-dstClosed: // the source's close closes the destination
			case <-time.After(5 * time.Second):
				t.Fatal("the TCP connection outlived its piped source")
			}
			all := <-got
			if len(all)%size != 0 {
				t.Fatalf("%d bytes: not whole datagrams", len(all))
			}
			last := -1
			for off := 0; off < len(all); off += size {
				i := int(binary.BigEndian.Uint32(all[off:]))
				if i <= last || !bytes.Equal(all[off:off+size], record(i)) {
					t.Fatalf("record %d at %d after %d, or damaged", i, off/size, last)
				}
				last = i
			}
			if last != sent+2 {
				t.Fatalf("the last record is %d, want %d: what was sent after the resume is missing", last, sent+2)
			}
			t.Logf("%d of %d datagrams came through (the rest the kernel dropped while paused)", len(all)/size, sent+3)
		})
	}
}

// TestPipeTCPToUDP: every message of a TCP connection piped into a UDP
// client goes out as one datagram, encoded by the client's protocol (one
// past MaxPackageSize is dropped and reported); without protocols a
// stream's bytes go out in datagrams of at most MaxPackageSize. The
// stream's end closes the UDP client once its datagrams are sent.
func TestPipeTCPToUDP(t *testing.T) {
	for _, engine := range tcpEngines {
		for _, framed := range []bool{true, false} {
			t.Run(fmt.Sprint(engine, " framed ", framed), func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				var stream []byte
				for i := range 100 {
					stream = fmt.Appendf(stream, "message %d %s\n", i, strings.Repeat("m", i*40))
				}
				go func() {
					if c, err := ln.Accept(); err == nil {
						c.Write(stream)
						c.Close()
					}
				}()
				peer := peer(t, "udp", "127.0.0.1:0")
				peer.(*net.UDPConn).SetReadBuffer(4 << 20)
				var proto core.Protocol
				if framed {
					proto = lines{}
				}
				dst := core.NewAsyncUdpConnection("udp://"+peer.LocalAddr().String(), proto)
				dst.MaxPackageSize = 1000
				udpEv := watchUDP(t, dst)
				src := core.NewAsyncConnection("tcp://"+ln.Addr().String(), proto)
				src.Server = engineServer(engine)
				src.Logger = quiet()
				srcClosed := make(chan struct{})
				src.OnClose = func(core.Connection) { close(srcClosed) }
				src.Pipe(dst)
				dst.Connect()
				src.Connect()

				// Read until 2 s pass without a datagram, or 500 ms once the
				// UDP client has closed (it sends nothing more then; what it
				// sent is on loopback already).
				var datagrams []string
				buf := make([]byte, 1<<16)
				last := time.Now()
				for {
					peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					n, _, err := peer.ReadFrom(buf)
					if err == nil {
						datagrams = append(datagrams, string(buf[:n]))
						last = time.Now()
						continue
					}
					if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						t.Fatalf("the peer's read: %v", err)
					}
					quiet := time.Since(last)
					if quiet >= 2*time.Second || len(udpEv.closed) > 0 && quiet >= 500*time.Millisecond {
						break
					}
				}
				udpEv.waitClose(t)
				select {
				case <-srcClosed:
				case <-time.After(5 * time.Second):
					t.Fatal("the TCP connection did not close")
				}
				if framed {
					// Each line one datagram, encoded by the UDP client's
					// protocol; those over 1000 bytes dropped and reported.
					want := 0
					for i := range 100 {
						m := fmt.Sprintf("message %d %s\n", i, strings.Repeat("m", i*40))
						if len(m) > 1000 {
							continue
						}
						if want >= len(datagrams) || datagrams[want] != m {
							t.Fatalf("datagram %d: %.40q, want %.40q", want, datagrams[min(want, len(datagrams)-1)], m)
						}
						want++
					}
					if len(datagrams) != want || len(udpEv.errList()) != 100-want {
						t.Fatalf("%d datagrams, want %d; %d errors", len(datagrams), want, len(udpEv.errList()))
					}
					return
				}
				for i, d := range datagrams {
					if len(d) > 1000 {
						t.Fatalf("datagram %d has %d bytes", i, len(d))
					}
				}
				if joined := strings.Join(datagrams, ""); joined != string(stream) {
					t.Fatalf("%d bytes in %d datagrams, want the %d bytes sent", len(joined), len(datagrams), len(stream))
				}
			})
		}
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
