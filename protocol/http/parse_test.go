package http

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
)

// echo answers with "METHOD path|body".
func echo(c core.Connection, data []byte) {
	r := RequestOf(c)
	c.Send(r.Method()+" "+r.Path()+"|"+string(data), false)
}

func TestHelloResponse(t *testing.T) {
	f := newFake(New(), func(c core.Connection, _ []byte) { c.Send("hello, goer", false) })
	f.feed([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	out := string(f.output())
	for _, want := range []string{
		"HTTP/1.1 200 OK\r\n", "\r\nServer: goes\r\n", "\r\nDate: ", "\r\nContent-Type: text/html; charset=utf-8\r\n",
		"\r\nContent-Length: 11\r\n", "\r\nConnection: keep-alive\r\n", "\r\n\r\nhello, goer",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("response lacks %q:\n%s", want, out)
		}
	}
	if f.isClosing() {
		t.Error("keep-alive connection closed")
	}
}

func TestParseRequests(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // echo output
		closes   bool
		check    func(t *testing.T, r *Request)
	}{
		{name: "simple", in: "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n", want: "GET /a/b|", check: func(t *testing.T, r *Request) {
			if r.Query("x") != "1" || r.Query("y") != "2" || string(r.RawQuery()) != "x=1&y=2" {
				t.Errorf("query %v", r.QueryValues())
			}
			if r.Host() != "h" || r.Proto() != "HTTP/1.1" || !r.KeepAlive() || r.Target() != "/a/b?x=1&y=2" {
				t.Errorf("host %q proto %q keepalive %v target %q", r.Host(), r.Proto(), r.KeepAlive(), r.Target())
			}
		}},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: h\n\n", want: "GET /|"},
		{name: "leading blank lines", in: "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", want: "GET /|"},
		{name: "encoded path", in: "GET /a%20b HTTP/1.1\r\nHost: h\r\n\r\n", want: "GET /a b|"},
		{name: "headers case-insensitive and repeated", in: "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \r\n\r\n", want: "GET /|", check: func(t *testing.T, r *Request) {
			if r.Header("x-A") != "1" || fmt.Sprint(r.HeaderValues("X-a")) != "[1 2]" {
				t.Errorf("X-A %q %v", r.Header("x-A"), r.HeaderValues("X-a"))
			}
		}},
		{name: "cookies", in: "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=\"two\"\r\nCookie: c=3\r\n\r\n", want: "GET /|", check: func(t *testing.T, r *Request) {
			if r.Cookie("a") != "1" || r.Cookie("b") != "two" || r.Cookie("c") != "3" || len(r.Cookies()) != 3 {
				t.Errorf("cookies %v", r.Cookies())
			}
		}},
		{name: "content-length body", in: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", want: "POST /p|hello"},
		{name: "chunked with trailer", in: "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: yes\r\n\r\n", want: "POST /c|hello world", check: func(t *testing.T, r *Request) {
			if r.Trailer("x-t") != "yes" || !r.Chunked() || r.ContentLength() != 11 {
				t.Errorf("trailer %q chunked %v len %d", r.Trailer("x-t"), r.Chunked(), r.ContentLength())
			}
		}},
		{name: "form", in: "POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\na=1&b=x+y%21", want: "POST /f|a=1&b=x+y%21", check: func(t *testing.T, r *Request) {
			if r.FormValue("a") != "1" || r.FormValue("b") != "x y!" {
				t.Errorf("form a=%q b=%q", r.FormValue("a"), r.FormValue("b"))
			}
		}},
		{name: "HTTP/1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", want: "GET /|", closes: true},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", want: "GET /|"},
		{name: "connection close", in: "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", want: "GET /|", closes: true},
		{name: "absolute form", in: "GET http://h/x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", want: "GET /x|"},
		{name: "options asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", want: "OPTIONS *|"},
		{name: "HTTP/1.2 as 1.1", in: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", want: "GET /|"},
		{name: "host with port", in: "GET / HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", want: "GET /|"},
		{name: "host IPv6 literal", in: "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", want: "GET /|"},
		{name: "host IPv6 zone", in: "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", want: "GET /|"},
		{name: "host empty", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", want: "GET /|"},
		{name: "host empty port", in: "GET / HTTP/1.1\r\nHost: h:\r\n\r\n", want: "GET /|"},
		{name: "host sub-delims and pct", in: "GET / HTTP/1.1\r\nHost: a_b~c!$&'()*+,;=%41\r\n\r\n", want: "GET /|"},
		{name: "bad escape in query kept", in: "GET /a?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n", want: "GET /a|"},
		{name: "chunk size with leading zeros", in: "POST /z HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"00000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n", want: "POST /z|hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				var got *Request
				f := newFake(New(), func(c core.Connection, data []byte) {
					got = RequestOf(c)
					if tt.check != nil {
						tt.check(t, got)
					}
					echo(c, data)
				})
				if split { // one byte at a time
					for i := 0; i < len(tt.in); i++ {
						f.feed([]byte{tt.in[i]})
					}
				} else {
					f.feed([]byte(tt.in))
				}
				if f.failErr != nil {
					t.Fatalf("split %v: %v", split, f.failErr)
				}
				out := f.output()
				if codes := statusCodes(out); len(codes) != 1 || codes[0] != 200 {
					t.Fatalf("split %v: responses %v:\n%s", split, codes, out)
				}
				if !bytes.HasSuffix(out, []byte("\r\n\r\n"+tt.want)) {
					t.Errorf("split %v: body not %q:\n%s", split, tt.want, out)
				}
				if f.isClosing() != tt.closes {
					t.Errorf("split %v: closing %v, want %v", split, f.isClosing(), tt.closes)
				}
				if tt.closes && !bytes.Contains(out, []byte("Connection: close\r\n")) {
					t.Errorf("closing response lacks Connection: close")
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxRequestLine+10)
	manyHeaders := strings.Repeat("X-A: b\r\n", DefaultMaxHeaders+1)
	bigHeader := "X-Big: " + strings.Repeat("b", DefaultMaxHeaderBytes) + "\r\n"
	tests := []struct {
		name, in string
		status   int
	}{
		{"no version", "GET /\r\nHost: h\r\n\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad version", "GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
		{"http2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"control in target", "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"relative target", "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400},
		{"long request line", "GET /" + long + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"long request line unfinished", "GET /" + long, 414},
		{"too many headers", "GET / HTTP/1.1\r\nHost: h\r\n" + manyHeaders + "\r\n", 431},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\n" + bigHeader + "\r\n", 431},
		{"head too large unfinished", "GET / HTTP/1.1\r\nHost: h\r\n" + bigHeader, 431},
		{"body too large", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 413},
		{"chunked too large", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n", 413},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"two CL differ", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
		{"CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400},
		{"CL negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE unknown", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"TE gzip chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE chunked not last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 501},
		{"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", 400},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400},
		{"chunk size LF only", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
		{"chunk data too long", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!!\r\n0\r\n\r\n", 400},
		{"chunk size line too long", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("x", maxChunkLine), 400},
		{"bad trailer", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 400},
		{"expectation", "GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", 417},
		{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400},
		{"host bad port", "GET / HTTP/1.1\r\nHost: h:8x\r\n\r\n", 400},
		{"host two colons", "GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", 400},
		{"host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
		{"host after IPv6", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400},
		{"host bad escape", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400},
		{"host in 1.0 repeated", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"missing host absolute form", "GET http://h/ HTTP/1.1\r\n\r\n", 400},
		{"no version unfinished", "GET /\r\n", 400},
		{"no version bare LF unfinished", "GET /\n", 400},
		{"bad version unfinished", "GET / HTTP/1.1x\r\nHost: h\r\n", 400},
		{"http2 unfinished", "GET / HTTP/2.0\r\n", 505},
		{"bare CR line ends", "GET / HTTP/1.1\rHost: h\r\r", 400},
		{"bare CR line ends unfinished", "GET / HTTP/1.1\rHo", 400},
		{"bare CR after a field", "GET / HTTP/1.1\r\nHost: h\rX-A: b\r", 400},
		{"bare CR in a field of an unfinished head", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n", 400},
		{"bare CR in an unfinished trailer", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\rb", 400},
		{"TE leading empty element", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE trailing empty element", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked ,\r\n\r\n0\r\n\r\n", 400},
		{"bad escape in path", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"short escape in path", "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"escape cut by query", "GET /a%4?b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad escape in absolute path", "GET http://h/%g0 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"chunk size over int63 after zeros", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n00008000000000000000\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			f := newFake(New(), func(c core.Connection, data []byte) { called = true; echo(c, data) })
			f.feed([]byte(tt.in))
			var pe *core.ProtocolError
			if !errors.As(f.failErr, &pe) || pe.Status != tt.status {
				t.Fatalf("error %v, want status %d", f.failErr, tt.status)
			}
			if called {
				t.Error("OnMessage ran for a refused request")
			}
			out := f.output()
			if codes := statusCodes(out); len(codes) != 1 || codes[0] != tt.status {
				t.Errorf("responses %v, want [%d]:\n%q", codes, tt.status, out)
			}
			if !bytes.Contains(out, []byte("Connection: close\r\n")) || !f.isClosing() {
				t.Error("connection not closed")
			}
		})
	}
}

func TestPipelinedInOneRead(t *testing.T) {
	f := newFake(New(), echo)
	f.feed([]byte("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: h\r\n\r\n"))
	out := string(f.output())
	i1, i2, i3 := strings.Index(out, "GET /1|"), strings.Index(out, "POST /2|hi"), strings.Index(out, "GET /3|")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Fatalf("responses out of order:\n%s", out)
	}
}

func TestSecondResponseRefused(t *testing.T) {
	var second error
	f := newFake(New(), func(c core.Connection, _ []byte) {
		c.Send("one", false)
		second = c.Send("two", false)
	})
	f.feed([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	if !errors.Is(second, ErrNoRequest) {
		t.Fatalf("second Send: %v", second)
	}
	if strings.Contains(string(f.output()), "two") {
		t.Fatal("second response sent")
	}
}

func TestExpectContinue(t *testing.T) {
	f := newFake(New(), echo)
	f.feed([]byte("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"))
	if got := string(f.output()); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("before the body: %q", got)
	}
	f.feed([]byte("abc"))
	if !strings.HasSuffix(string(f.output()), "POST /u|abc") {
		t.Fatalf("after the body: %q", f.output())
	}
}

func TestHead(t *testing.T) {
	f := newFake(New(), func(c core.Connection, _ []byte) { c.Send("hello, goer", false) })
	f.feed([]byte("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"))
	out := string(f.output())
	if !strings.Contains(out, "Content-Length: 11\r\n") || !strings.HasSuffix(out, "\r\n\r\n") {
		t.Fatalf("HEAD response:\n%q", out)
	}
}

func TestRequestOfOutsideRequest(t *testing.T) {
	f := newFake(New(), nil)
	if RequestOf(f) != nil || ResponseOf(f) != nil {
		t.Fatal("request without bytes")
	}
	if err := f.Send("x", false); !errors.Is(err, ErrNoRequest) {
		t.Fatalf("Send with no request: %v", err)
	}
}

// TestValidFieldValue: the eight-bytes-at-a-time check agrees with the
// byte loop for every byte value at every place of short and long values.
func TestValidFieldValue(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for at := 0; at < n; at++ {
			for c := 0; c < 256; c++ {
				v := bytes.Repeat([]byte{'a'}, n)
				v[at] = byte(c)
				if got, want := validFieldValue(v), validFieldBytes(v); got != want {
					t.Fatalf("%q: %v, want %v", v, got, want)
				}
				v[n-1] = '\t' // an HT elsewhere does not hide a bad byte
				if got, want := validFieldValue(v), validFieldBytes(v); got != want {
					t.Fatalf("%q: %v, want %v", v, got, want)
				}
			}
		}
	}
}
