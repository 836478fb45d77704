package tcp

import (
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// The kernel reports a reset once, to whichever call asks first. When a
// write (or a splice into the socket) takes it, the read that follows
// returns 0 as for the peer's EOF: the connection must still end with the
// reset. Here the connection is paused, so that the loop does not read
// while the peer sends a few bytes and resets; then the engine writes
// (TryWrite, or splice from a kernel pipe) and takes the reset; once
// resumed, the bytes are delivered and the connection ends with an I/O
// error, not as a clean close.
func TestEpollResetTakenByWrite(t *testing.T) {
	for _, how := range []string{"write", "splice"} {
		t.Run(how, func(t *testing.T) {
			var mu sync.Mutex
			var errs []string
			got := 0
			conns, closed := make(chan *core.TCPConnection, 1), make(chan struct{})
			g := epollGoer("127.0.0.1:0")
			g.OnConnect = func(c core.Connection) {
				tc := c.(*core.TCPConnection)
				tc.PauseRecv()
				conns <- tc
			}
			g.OnMessage = func(_ core.Connection, d []byte) {
				mu.Lock()
				got += len(d)
				mu.Unlock()
			}
			g.OnError = func(_ core.Connection, code int, msg string) {
				mu.Lock()
				errs = append(errs, msg)
				mu.Unlock()
			}
			g.OnClose = func(core.Connection) { close(closed) }
			startEpoll(t, g)
			c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc := <-conns
			if _, err := c.Write([]byte("unread")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			time.Sleep(50 * time.Millisecond) // the reset reaches the paused server

			ec := tc.Socket().(*econn)
			switch how {
			case "write":
				_, err = ec.TryWrite([]byte("x"))
			case "splice":
				p, perr := newKpipe()
				if perr != nil {
					t.Fatal(perr)
				}
				defer p.close()
				if _, perr := syscall.Write(p.w, []byte("x")); perr != nil {
					t.Fatal(perr)
				}
				_, err = ec.spliceFrom(p.r, 1)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the %s took %v, want the reset", how, err)
			}
			tc.ResumeRecv()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnClose after the resume")
			}
			mu.Lock()
			defer mu.Unlock()
			if got != len("unread") {
				t.Fatalf("%d bytes delivered, want %d", got, len("unread"))
			}
			if len(errs) != 1 || !strings.Contains(errs[0], syscall.ECONNRESET.Error()) {
				t.Fatalf("OnError got %q; want the reset, once", errs)
			}
		})
	}
}
