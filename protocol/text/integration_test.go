package text_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

// server records what a Goer's callbacks saw.
type server struct {
	g      *core.Goer
	addr   string
	errs   chan int
	closed chan struct{}

	mu   sync.Mutex
	msgs []string
}

// startEcho starts a loopback echo server for p; adjust may change the Goer
// before it starts. The server is stopped when the test ends.
func startEcho(t *testing.T, p core.Protocol, adjust func(*core.Goer)) *server {
	t.Helper()
	s := &server{errs: make(chan int, 16), closed: make(chan struct{}, 16)}
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, data []byte) {
		s.mu.Lock()
		s.msgs = append(s.msgs, string(data))
		s.mu.Unlock()
		if err := c.SendBytes(data, false); err != nil {
			t.Errorf("SendBytes: %v", err)
		}
	}
	g.OnError = func(_ core.Connection, code int, _ string) { s.errs <- code }
	g.OnClose = func(core.Connection) { s.closed <- struct{}{} }
	if adjust != nil {
		adjust(g)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	s.g, s.addr = g, g.Addr().String()
	return s
}

func (s *server) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// wantError waits for OnError with code.
func (s *server) wantError(t *testing.T, code int) {
	t.Helper()
	select {
	case got := <-s.errs:
		if got != code {
			t.Fatalf("OnError code %d, want %d", got, code)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no OnError (want code %d)", code)
	}
}

// wantClosed waits for OnClose and for the connection to leave the store.
func (s *server) wantClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose did not run")
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.g.Connections.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still stored", s.g.Connections.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dialServer(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantEOF reads until the server closes its side, then closes ours, as a
// client does (the server holds the socket until then, or its CloseTimeout).
func wantEOF(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the connection")
	}
	c.Close()
}

func TestTextEchoOverTCP(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"nc lines", []string{"hello\n", "world\n"}, "hello\nworld\n"},
		{"telnet CRLF", []string{"hello\r\n"}, "hello\n"},
		{"several lines in one write", []string{"a\nbb\r\n\nccc\n"}, "a\nbb\n\nccc\n"},
		{"line split over writes", []string{"he", "ll", "o\r", "\n"}, "hello\n"},
		{"empty lines", []string{"\n", "\r\n"}, "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEcho(t, text.New(), nil)
			c := dialServer(t, s.addr)
			for _, w := range tt.writes {
				if _, err := io.WriteString(c, w); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond) // let the writes arrive as separate reads
			}
			got := make([]byte, len(tt.want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read %q: %v", got, err)
			}
			if string(got) != tt.want {
				t.Fatalf("echo %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextLineTooLongOverTCP(t *testing.T) {
	tests := []struct {
		name   string
		proto  *text.Text
		maxPkg int
	}{
		{"over MaxPackageSize", text.New(), 1 << 10},
		{"over MaxLineSize", &text.Text{MaxLineSize: 64}, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEcho(t, tt.proto, func(g *core.Goer) { g.MaxPackageSize = tt.maxPkg })
			c := dialServer(t, s.addr)
			if _, err := io.WriteString(c, "fine\r\n"); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || line != "fine\n" {
				t.Fatalf("echo %q, %v", line, err)
			}
			// The long line never ends: the server must not wait for its newline.
			long := strings.Repeat("x", 4<<10)
			if _, err := io.WriteString(c, long); err != nil {
				t.Fatal(err)
			}
			s.wantError(t, core.ErrCodePackageTooLarge)
			wantEOF(t, c)
			s.wantClosed(t)
			if got := s.messages(); len(got) != 1 || got[0] != "fine" {
				t.Fatalf("messages %q, want [fine]", got)
			}
		})
	}
}

func TestFrameEchoOverTCP(t *testing.T) {
	s := startEcho(t, text.NewFrame(), func(g *core.Goer) { g.MaxPackageSize = 1 << 16 })
	c := dialServer(t, s.addr)
	payloads := []string{"hello", "", strings.Repeat("z", 60000), "bin\x00\n\xff"}
	for _, p := range payloads {
		if err := text.WriteFrame(c, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range payloads {
		got, err := text.ReadFrame(c, 1<<16)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFrame = %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
}

func TestFrameRefusedOverTCP(t *testing.T) {
	tests := []struct {
		name  string
		proto *text.Frame
		send  []byte
		code  int
	}{
		{"length 0", text.NewFrame(), frame(0, "xxxx"), core.ErrCodeProtocol},
		{"length 3", text.NewFrame(), frame(3, "x"), core.ErrCodeProtocol},
		{"declared over MaxPackageSize", text.NewFrame(), frame(1<<30, "x"), core.ErrCodePackageTooLarge},
		{"declared over MaxFrameSize", &text.Frame{MaxFrameSize: 100}, frame(101, "x"), core.ErrCodePackageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEcho(t, tt.proto, func(g *core.Goer) { g.MaxPackageSize = 1 << 16 })
			c := dialServer(t, s.addr)
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			s.wantError(t, tt.code)
			wantEOF(t, c)
			s.wantClosed(t)
			if got := s.messages(); len(got) != 0 {
				t.Fatalf("messages %q, want none", got)
			}
		})
	}
}

// A peer that sends half a frame and goes away leaves nothing behind: the
// connection closes, OnClose runs once, and TestMain checks that no
// goroutine outlives the test.
func TestFrameHalfFrameThenVanish(t *testing.T) {
	s := startEcho(t, text.NewFrame(), nil)
	for i, half := range [][]byte{{0, 0}, frame(100, "only ten b")} {
		c := dialServer(t, s.addr)
		if _, err := c.Write(half); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		s.wantClosed(t)
		if got := s.messages(); len(got) != 0 {
			t.Fatalf("peer %d: messages %q, want none", i, got)
		}
	}
	select {
	case <-s.closed:
		t.Fatal("OnClose ran more than once per connection")
	case code := <-s.errs:
		t.Fatalf("unexpected OnError %d", code)
	case <-time.After(50 * time.Millisecond):
	}
}

// The user-defined protocol of Example_customProtocol serves a real
// connection like a built-in one.
func TestCustomProtocolOverTCP(t *testing.T) {
	s := startEcho(t, ShortFrame{}, nil)
	c := dialServer(t, s.addr)
	var out []byte
	for _, m := range []string{"hello", "", "goes"} {
		out, _ = ShortFrame{}.Encode(nil, out, []byte(m))
	}
	// Byte by byte, so the server meets every partial header and payload.
	for i := range out {
		if _, err := c.Write(out[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(out))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, out) {
		t.Fatalf("echo % x, want % x", got, out)
	}
	if n := binary.BigEndian.Uint16(got); n != 5 {
		t.Fatalf("first header %d, want 5", n)
	}
}
