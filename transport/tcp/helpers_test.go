package tcp_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestMain(m *testing.M) {
	if os.Getenv(echoServerEnv) != "" {
		os.Exit(serveEchoForTest())
	}
	goleak.VerifyTestMain(m)
}

// lines is a newline protocol for the tests (the real one lives in
// protocol/text, which this module does not import).
type lines struct{}

func (lines) Input(_ core.Connection, b []byte) (int, error) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1, nil
	}
	return 0, nil
}
func (lines) Decode(_ core.Connection, p []byte) ([]byte, error) { return p[:len(p)-1], nil }
func (lines) Encode(_ core.Connection, dst, d []byte) ([]byte, error) {
	return append(append(dst, d...), '\n'), nil
}

// frames is a 4-byte big-endian length-prefixed protocol (length includes
// the header).
type frames struct{}

var errBadLength = errors.New("bad frame length")

func (frames) Input(_ core.Connection, b []byte) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 4 {
		return 0, errBadLength
	}
	return n, nil
}
func (frames) Decode(_ core.Connection, p []byte) ([]byte, error) { return p[4:], nil }
func (frames) Encode(_ core.Connection, dst, d []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(d)+4))
	return append(dst, d...), nil
}

// quietLogger logs nothing, except under go test -v. go test -json (what
// make test runs) counts as verbose too, but would only bury the log.
func quietLogger() *slog.Logger {
	if testing.Verbose() && flag.Lookup("test.v").Value.String() != "test2json" {
		return core.NewLogger(os.Stderr, slog.LevelDebug)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs g on a loopback port and stops it when the test ends.
func start(t *testing.T, g *core.Goer) string {
	t.Helper()
	g.Logger = quietLogger()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	s, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read line: %v (got %q)", err, s)
	}
	return s[:len(s)-1]
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

// expectEOF reads until the peer closes, within 10 s, and takes a reset
// for a close too: for a peer that may close with bytes of ours unread
// (the kernel then resets). Where the close must be clean, and a cut
// stream must not pass for a short whole one, use expectCleanEOF.
func expectEOF(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection not closed by the server: %v", err)
		}
	}
	return b
}

// expectCleanEOF reads until the peer closes, within d, and fails if the
// stream ends any other way: a reset means the server dropped what it
// still had queued (a Close that outlasted CloseTimeout, a Destroy).
func expectCleanEOF(t *testing.T, c net.Conn, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes: %v", len(b), err)
	}
	return b
}
