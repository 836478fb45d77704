package udp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/udp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines: one or more newline-terminated packages per datagram.
type lines struct{}

func (lines) Input(_ core.Connection, b []byte) (int, error) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1, nil
	}
	return 0, nil
}
func (lines) Decode(_ core.Connection, p []byte) ([]byte, error) {
	if bytes.Equal(p, []byte("bad\n")) {
		return nil, errors.New("bad package")
	}
	return p[:len(p)-1], nil
}
func (lines) Encode(_ core.Connection, dst, d []byte) ([]byte, error) {
	return append(append(dst, d...), '\n'), nil
}

func start(t *testing.T, g *core.Goer) string {
	t.Helper()
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

func client(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	buf := make([]byte, 65536)
	for try := 0; try < 5; try++ { // loopback rarely drops, but UDP may
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no answer to %q", msg)
	return ""
}

func TestEcho(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", nil, "udp")
	g.OnMessage = func(c core.Connection, d []byte) {
		c.Send(fmt.Sprintf("%s from %s", d, c.GetRemoteIP()), false)
	}
	addr := start(t, g)
	c := client(t, addr)
	if got := roundTrip(t, c, "hello"); got != "hello from 127.0.0.1" {
		t.Fatalf("got %q", got)
	}
}

func TestProtocolPerDatagram(t *testing.T) {
	var errs atomic.Int32
	g := core.NewGoer("127.0.0.1:0", lines{}, "udp")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(bytes.ToUpper(d), false) }
	g.OnError = func(_ core.Connection, code int, _ string) {
		if code == core.ErrCodeProtocol {
			errs.Add(1)
		}
	}
	addr := start(t, g)
	c := client(t, addr)
	if got := roundTrip(t, c, "abc\n"); got != "ABC\n" {
		t.Fatalf("got %q", got)
	}
	// Bad datagrams are dropped and reported; the listener keeps serving.
	c.Write([]byte("no newline"))
	c.Write([]byte("bad\n"))
	deadline := time.Now().Add(5 * time.Second)
	for errs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if errs.Load() != 2 || g.Stats().Dropped.Load() != 2 {
		t.Fatalf("errors %d dropped %d", errs.Load(), g.Stats().Dropped.Load())
	}
	if got := roundTrip(t, c, "still\n"); got != "STILL\n" {
		t.Fatalf("got %q", got)
	}
}

func TestOversizedDatagramDropped(t *testing.T) {
	var got atomic.Int32
	g := core.NewGoer("127.0.0.1:0", nil, "udp")
	g.MaxPackageSize = 100
	g.OnMessage = func(c core.Connection, d []byte) {
		got.Add(1)
		c.SendBytes(d, true)
	}
	addr := start(t, g)
	c := client(t, addr)
	c.Write(make([]byte, 1000))
	if r := roundTrip(t, c, "small"); r != "small" {
		t.Fatalf("got %q", r)
	}
	if got.Load() != 1 || g.Stats().Dropped.Load() != 1 {
		t.Fatalf("delivered %d dropped %d", got.Load(), g.Stats().Dropped.Load())
	}
}

// A handler blocked for one peer does not hold up another; a peer's
// datagrams are handled in order.
func TestPeersIndependentAndOrdered(t *testing.T) {
	release := make(chan struct{})
	var order []string
	orderDone := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", nil, "udp")
	g.OnMessage = func(c core.Connection, d []byte) {
		switch s := string(d); {
		case s == "block":
			<-release
		case s[0] == '#':
			order = append(order, s) // one peer: never concurrent
			if len(order) == 100 {
				close(orderDone)
			}
		default:
			c.SendBytes(d, true)
		}
	}
	addr := start(t, g)
	defer close(release)
	a := client(t, addr)
	a.Write([]byte("block"))
	for i := 0; i < 100; i++ {
		a.Write([]byte(fmt.Sprintf("#%03d", i)))
	}
	b := client(t, addr)
	if got := roundTrip(t, b, "ping"); got != "ping" {
		t.Fatalf("got %q", got)
	}
	release <- struct{}{}
	select {
	case <-orderDone:
	case <-time.After(5 * time.Second):
		t.Skipf("loopback dropped datagrams (%d of 100 arrived)", len(order))
	}
	for i, s := range order {
		if s != fmt.Sprintf("#%03d", i) {
			t.Fatalf("datagram %d is %q", i, s)
		}
	}
}

func TestUnixgram(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "srv.sock")
	g := core.NewGoer(path, nil, "unixgram")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(append([]byte("re:"), d...), true) }
	start(t, g)
	cl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "cl.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.WriteTo([]byte("hi"), &net.UnixAddr{Name: path, Net: "unixgram"})
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, _, err := cl.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "re:hi" {
		t.Fatalf("got %q %v", buf[:n], err)
	}
}

func TestPanicInHandler(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", nil, "udp")
	g.OnMessage = func(c core.Connection, d []byte) {
		if string(d) == "boom" {
			panic("boom")
		}
		c.SendBytes(d, true)
	}
	addr := start(t, g)
	c := client(t, addr)
	c.Write([]byte("boom"))
	if got := roundTrip(t, c, "ok"); got != "ok" {
		t.Fatalf("got %q", got)
	}
}
