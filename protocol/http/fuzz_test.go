package http

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shunhui19/goes/core"
)

// FuzzRequest feeds arbitrary bytes, in two reads split anywhere, to the
// parser with a handler that uses every accessor. It must never panic,
// every byte written must be a response, and a refused request must be
// answered with its status.
func FuzzRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a%20b?x=1&y=%zz HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=\"2\"\r\n\r\n",
		"POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2",
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"POST /m HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 97\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XX--\r\n",
		"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
		"\r\n\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:80\r\nHost: a/b\r\n\r\n",
		"GET /\r\n",
		"GET / HTTP/1.1\rHost: h\r\r",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000003\r\nabc\r\n000000000000000000000\r\n\r\n",
		"GET /%zz?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		p := &Protocol{MaxBodySize: 64 << 10, MaxHeaderBytes: 4 << 10, MaxRequestLine: 1 << 10}
		fc := newFake(p, func(c core.Connection, data []byte) {
			r := RequestOf(c)
			if r == nil {
				t.Fatal("no request in OnMessage")
			}
			_ = r.String() + r.Path() + r.Host() + r.Proto() + r.Header("x") + r.Cookie("a") + r.Trailer("t") + r.Query("x")
			_ = r.Cookies()
			_ = r.FormValue("a")
			_, _ = r.FormFile("f")
			if !bytes.Equal(data, r.Body()) {
				t.Fatal("message is not the body")
			}
			ResponseOf(c).Header("X-Len", "1").SetCookie(Cookie{Name: "s", Value: "v", HttpOnly: true})
			c.SendBytes(data, false)
		})
		n := int(split) % (len(in) + 1)
		fc.feed(in[:n])
		fc.feed(in[n:])
		out := fc.output()
		for len(out) > 0 {
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
				t.Fatalf("output is not a response: %q", out)
			}
			i := bytes.Index(out[1:], []byte("HTTP/1.1 "))
			if i < 0 {
				break
			}
			out = out[i+1:]
		}
		var pe *core.ProtocolError
		if errors.As(fc.failErr, &pe) {
			codes := statusCodes(fc.output())
			if len(codes) == 0 || codes[len(codes)-1] != pe.Status {
				t.Fatalf("refused with %d but answered %v", pe.Status, codes)
			}
		}
		fc.p.(*Protocol).OnConnClose(fc)
	})
}
