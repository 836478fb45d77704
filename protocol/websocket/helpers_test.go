package websocket_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLogger logs nothing, except under go test -v. go test -json (what
// make test runs) counts as verbose too, but would only bury the log.
func quietLogger() *slog.Logger {
	if testing.Verbose() && flag.Lookup("test.v").Value.String() != "test2json" {
		return core.NewLogger(os.Stderr, slog.LevelDebug)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// serve starts a WebSocket Goer on a loopback port; setup may fill in
// callbacks first. It returns the address.
func serve(t *testing.T, p *websocket.Protocol, setup func(g *core.Goer)) string {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Logger = quietLogger()
	if setup != nil {
		setup(g)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

// echo answers every message with the same type.
func echo(c core.Connection, data []byte) {
	websocket.SendMessage(c, websocket.MessageTypeOf(c), data)
}

// rawClient speaks WebSocket by hand, to send what real clients never do.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr, path string, extra ...string) (*rawClient, *http.Response) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n" +
		strings.Join(extra, "") + "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, c: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("handshake response: %v", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if got, want := resp.Header.Get("Sec-WebSocket-Accept"), websocket.AcceptKey(base64.StdEncoding.EncodeToString(key)); got != want {
			t.Fatalf("Sec-WebSocket-Accept = %q, want %q", got, want)
		}
	}
	return rc, resp
}

// frame builds a client frame; masked unless told otherwise.
func frame(fin bool, op byte, payload []byte, masked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var b []byte
	var mb byte
	if masked {
		mb = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = []byte{b0, mb | byte(n)}
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16([]byte{b0, mb | 126}, uint16(n))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, mb | 127}, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i%4])
	}
	return b
}

func (rc *rawClient) write(b ...[]byte) {
	rc.t.Helper()
	for _, x := range b {
		if _, err := rc.c.Write(x); err != nil {
			rc.t.Fatalf("write: %v", err)
		}
	}
}

// read returns the next frame from the server.
func (rc *rawClient) read() (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(rc.br, h[:]); err != nil {
		return
	}
	if h[1]&0x80 != 0 {
		return false, 0, nil, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err = io.ReadFull(rc.br, l[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err = io.ReadFull(rc.br, l[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(rc.br, payload)
	return h[0]&0x80 != 0, h[0] & 0x0f, payload, err
}

// expectClose reads until a close frame and returns its code; the
// connection must end afterwards.
func (rc *rawClient) expectClose() (int, string) {
	rc.t.Helper()
	for {
		_, op, p, err := rc.read()
		if err != nil {
			rc.t.Fatalf("expected a close frame: %v", err)
		}
		if op != 0x8 {
			continue
		}
		code := 0
		if len(p) >= 2 {
			code = int(binary.BigEndian.Uint16(p))
		}
		rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, rc.br); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatal("connection not closed after the close frame")
			}
		}
		rc.c.Close()
		if len(p) >= 2 {
			return code, string(p[2:])
		}
		return code, ""
	}
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic(fmt.Sprint("unreachable"))
}

func dialPlain(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
