package http_test

import (
	"bufio"
	"io"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// TestMalformedAnsweredAtOnce: requests that RFC 9112 says to refuse
// (a bad Host, a request line without a version, lines ended by a bare
// CR, an empty Transfer-Encoding element, a path that does not decode)
// are answered at once on the wire, long before HeaderTimeout, and the
// connection is closed.
func TestMalformedAnsweredAtOnce(t *testing.T) {
	const headerTimeout = 30 * time.Second
	addr := serve(t, &http.Protocol{HeaderTimeout: headerTimeout}, echoInfo)
	tests := []struct {
		name, in string
		status   int
	}{
		{"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400},
		{"Host missing", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
		{"Host twice", "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400},
		{"Host twice in HTTP/1.0", "GET / HTTP/1.0\r\nHost: h\r\nHost: i\r\n\r\n", 400},
		{"request line without version", "GET /\r\n", 400},
		{"request line without version, more lines", "GET /\r\nHost: h\r\n", 400},
		{"lines ended by bare CR", "GET / HTTP/1.1\rHost: h\r\r", 400},
		{"bare CR after the request line", "GET / HTTP/1.1\r\nHost: h\rX: y\r", 400},
		{"Transfer-Encoding with an empty element", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 400},
		{"path with a bad escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"chunk size past int63", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0008000000000000000\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			start := time.Now()
			io.WriteString(c, tt.in)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("after %v: %v", time.Since(start), err)
			}
			readAll(t, resp)
			if d := time.Since(start); d > headerTimeout/10 {
				t.Fatalf("answered after %v", d)
			}
			if resp.StatusCode != tt.status || !resp.Close {
				t.Fatalf("status %d close %v, want %d and close", resp.StatusCode, resp.Close, tt.status)
			}
		})
	}
}

// TestInteropAccepted: what other HTTP implementations send and RFC 9112
// allows is accepted: chunk sizes with many leading zeros (the value is
// bounded, not the digits), Host forms with ports and IP literals, and a
// query that does not decode (it is the handler's to read).
func TestInteropAccepted(t *testing.T) {
	addr := serve(t, http.New(), func(c core.Connection, data []byte) {
		r := http.RequestOf(c)
		c.Send(r.Host()+"|"+r.Path()+"|"+string(r.RawQuery())+"|"+string(data), false)
	})
	tests := []struct{ name, in, want string }{
		{"chunk sizes with leading zeros", "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"000000000000000000000003\r\nabc\r\n0000000000000000000000000\r\n\r\n", "h|/c||abc"},
		{"Host with port", "GET / HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", "h.example:8080|/||"},
		{"Host IPv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "[::1]:80|/||"},
		{"query with a bad escape", "GET /a%20b?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n", "h|/a b|q=%zz|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			io.WriteString(c, tt.in)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); resp.StatusCode != 200 || body != tt.want {
				t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}
