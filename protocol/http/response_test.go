package http

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		h                  string
		start, end         int64
		valid, satisfiable bool
	}{
		{"bytes=0-9", 0, 9, true, true},
		{"bytes=5-", 5, 99, true, true},
		{"bytes=-10", 90, 99, true, true},
		{"bytes=-1000", 0, 99, true, true},
		{"bytes=90-1000", 90, 99, true, true},
		{"BYTES=1-1", 1, 1, true, true},
		{"bytes=100-", 0, 0, true, false},
		{"bytes=-0", 0, 0, true, false},
		{"bytes=5-4", 0, 0, false, false},
		{"bytes=0-1,3-4", 0, 0, false, false},
		{"items=0-1", 0, 0, false, false},
		{"bytes=a-b", 0, 0, false, false},
		{"bytes=-", 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.h, func(t *testing.T) {
			s, e, v, ok := parseRange([]byte(tt.h), 100)
			if s != tt.start || e != tt.end || v != tt.valid || ok != tt.satisfiable {
				t.Fatalf("got %d-%d valid %v satisfiable %v", s, e, v, ok)
			}
		})
	}
}

func TestBadResponseHeaders(t *testing.T) {
	tests := []struct {
		name string
		set  func(w *Response)
	}{
		{"CRLF in value", func(w *Response) { w.Header("X-A", "a\r\nSet-Cookie: evil=1") }},
		{"bad name", func(w *Response) { w.Header("X A", "a") }},
		{"bad status", func(w *Response) { w.Status(42) }},
		{"cookie name", func(w *Response) { w.SetCookie(Cookie{Name: "a b", Value: "1"}) }},
		{"cookie value", func(w *Response) { w.SetCookie(Cookie{Name: "a", Value: "x;y"}) }},
		{"cookie path", func(w *Response) { w.SetCookie(Cookie{Name: "a", Path: "/\r\n"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err, retry error
			f := newFake(New(), func(c core.Connection, _ []byte) {
				w := ResponseOf(c)
				tt.set(w)
				err = w.SendString("x")
				retry = w.Status(500).SendString("fallback") // the builder starts afresh
			})
			f.feed([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
			if !errors.Is(err, ErrBadHeader) || retry != nil {
				t.Fatalf("Send: %v, retry: %v", err, retry)
			}
			if out := string(f.output()); !strings.HasPrefix(out, "HTTP/1.1 500 ") || strings.Contains(out, "evil") || strings.Count(out, "HTTP/1.1") != 1 {
				t.Fatalf("sent %q", out)
			}
		})
	}
}

func TestCookieString(t *testing.T) {
	got := Cookie{Name: "id", Value: "1", SameSite: SameSiteNone, Partitioned: true}.String()
	if got != "id=1; Secure; SameSite=None; Partitioned" {
		t.Fatal(got)
	}
}

func TestBuilderHeadersWithSend(t *testing.T) {
	f := newFake(New(), func(c core.Connection, _ []byte) {
		ResponseOf(c).Status(404).Header("X-A", "1").AddHeader("X-A", "2").Header("Content-Length", "999")
		c.Send("nope", false)
	})
	f.feed([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	out := string(f.output())
	for _, want := range []string{"HTTP/1.1 404 Not Found\r\n", "X-A: 1\r\nX-A: 2\r\n", "Content-Length: 4\r\n", "\r\n\r\nnope"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "999") {
		t.Error("user Content-Length written")
	}
}

// TestDateHeader: the Date formatted once a second from the monotonic
// clock is the wall clock's second, and it moves on with it.
func TestDateHeader(t *testing.T) {
	p := New()
	check := func() {
		before := time.Now().UTC().Truncate(time.Second)
		s := p.stamp(monoNow())
		if !strings.HasPrefix(string(s.head), "Server: goes\r\nDate: ") || string(s.head[:s.dateAt]) != "Server: goes\r\n" {
			t.Fatalf("stamp %q, Date at %d", s.head, s.dateAt)
		}
		got, err := time.Parse(TimeFormat, strings.TrimSuffix(string(s.head[s.dateAt+len("Date: "):]), "\r\n"))
		after := time.Now().UTC()
		if err != nil || got.Before(before) || got.After(after) {
			t.Fatalf("Date %v (%v) not within [%v, %v]", got, err, before, after)
		}
	}
	check()
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	check()
	for i := 0; i < 100; i++ {
		check()
	}
}

// TestResponseHeaderKinds: headers the protocol writes itself are found
// in any case, replaced, deleted and managed as the user set them.
func TestResponseHeaderKinds(t *testing.T) {
	tests := []struct {
		name string
		set  func(w *Response)
		want []string // substrings of the head
		not  []string
	}{
		{"defaults", func(w *Response) {}, []string{"\r\nServer: goes\r\n", "\r\nDate: ", "\r\nContent-Type: text/html"}, nil},
		{"own server", func(w *Response) { w.Header("server", "x") }, []string{"\r\nserver: x\r\n"}, []string{"Server: goes"}},
		{"deleted server", func(w *Response) { w.Header("Server", "x").DelHeader("SERVER") }, []string{"\r\nServer: goes\r\n"}, []string{": x\r\n"}},
		{"own date", func(w *Response) { w.AddHeader("DATE", "d") }, []string{"\r\nDATE: d\r\n"}, []string{"\r\nDate: "}},
		{"content type", func(w *Response) { w.ContentType("a/b").ContentType("text/plain") }, []string{"\r\nContent-Type: text/plain\r\n"}, []string{"a/b", "text/html"}},
		{"managed", func(w *Response) { w.Header("content-length", "99").Header("Transfer-Encoding", "gzip") }, []string{"\r\nContent-Length: 2\r\n"}, []string{"99", "gzip"}},
		{"close", func(w *Response) { w.Header("connection", "Close") }, []string{"\r\nConnection: close\r\n"}, []string{"keep-alive", "connection: Close"}},
		{"other kept", func(w *Response) {
			w.AddHeader("X-A", "1").AddHeader("x-a", "2").Header("Server", "s").DelHeader("X-B")
		}, []string{"\r\nX-A: 1\r\nx-a: 2\r\n", "\r\nServer: s\r\n"}, nil},
		{"other deleted", func(w *Response) { w.AddHeader("X-A", "1").Header("Date", "d").DelHeader("x-a") }, []string{"\r\nDate: d\r\n"}, []string{"X-A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(New(), func(c core.Connection, _ []byte) {
				w := ResponseOf(c)
				tt.set(w)
				if err := w.SendString("ok"); err != nil {
					t.Fatal(err)
				}
			})
			f.feed([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
			out := string(f.output())
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("%q lacks %q", out, s)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(out, s) {
					t.Errorf("%q has %q", out, s)
				}
			}
		})
	}
}

func TestAppendContentLength(t *testing.T) {
	for _, n := range []int64{0, 7, 9, 10, 13, 99, 100, 65535, 999999999, 1e9, 1<<63 - 1, -1} {
		want := "Content-Length: " + strconv.FormatInt(n, 10) + "\r\n"
		if got := string(appendContentLength([]byte("x"), n)); got != "x"+want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

// TestStatusLines: every status line, known reason or not, is
// "HTTP/1.1 CODE REASON".
func TestStatusLines(t *testing.T) {
	for code := 100; code <= 999; code++ {
		want := "HTTP/1.1 " + strconv.Itoa(code) + " " + StatusText(code) + "\r\n"
		if got := string(appendStatusLine(nil, code)); got != want {
			t.Fatalf("%d: %q, want %q", code, got, want)
		}
	}
}
