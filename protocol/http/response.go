package http

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is the format of HTTP dates (Date, Last-Modified, Expires).
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// Response builds the answer to one request. Get it with ResponseOf(c) or
// Request.Response(); set the status, headers and cookies, then finish with
// exactly one of Send, SendString, Redirect, SendFile, Stream or
// EventStream. c.Send(body, false) is Send with whatever was set (200 and
// text/html by default).
//
// A Response belongs to its request: use it from one goroutine, and not
// after the response went out (it is reused for another request).
type Response struct {
	st      *conn
	r       *Request // of the same exchange
	status  int
	headers []kv
	kinds   uint16 // bit k set: a header of kind k is among headers
	err     error
	scratch []byte
}

type kv struct {
	name, value string
	kind        uint8
}

// Kinds of the response headers the protocol writes or reads itself, told
// apart once when a header is added rather than at every response.
const (
	kindOther uint8 = iota
	kindServer
	kindDate
	kindContentType
	kindContentLength
	kindTransferEncoding
	kindConnection
	kindCacheControl
)

// managedKinds are written by the protocol only, whatever was set.
const managedKinds = 1<<kindContentLength | 1<<kindTransferEncoding | 1<<kindConnection

// kindByLen holds the names of the kinds, which all differ in length.
var kindByLen = [...]struct {
	name string
	kind uint8
}{
	4:  {"Date", kindDate},
	6:  {"Server", kindServer},
	10: {"Connection", kindConnection},
	12: {"Content-Type", kindContentType},
	13: {"Cache-Control", kindCacheControl},
	14: {"Content-Length", kindContentLength},
	17: {"Transfer-Encoding", kindTransferEncoding},
}

// headerKind returns the kind of the header name (any case).
func headerKind(name string) uint8 {
	if len(name) < len(kindByLen) {
		if k := kindByLen[len(name)]; k.kind != kindOther && equalFold(name, k.name) {
			return k.kind
		}
	}
	return kindOther
}

func (w *Response) clearHeaders() {
	w.headers = w.headers[:0]
	w.kinds = 0
}

// reset makes w ready for the next request, keeping its buffers.
func (w *Response) reset() {
	w.status = 0
	switch {
	case cap(w.headers) > 64:
		w.headers = nil
	case len(w.headers) > 0:
		clear(w.headers) // no strings of the last response are kept alive
		w.headers = w.headers[:0]
	}
	w.kinds = 0
	if w.err != nil {
		w.err = nil
	}
	if cap(w.scratch) > 4<<10 {
		w.scratch = nil
	} else {
		w.scratch = w.scratch[:0]
	}
}

// Status sets the status code (200 when never set).
func (w *Response) Status(code int) *Response {
	if code < 100 || code > 999 {
		w.fail(ErrBadHeader)
		return w
	}
	w.status = code
	return w
}

// Header sets the header name to value, replacing earlier values.
// Content-Length, Transfer-Encoding and Connection: close are managed by the
// protocol; a "Connection: close" set here makes the response the last one.
func (w *Response) Header(name, value string) *Response {
	return w.set(name, headerKind(name), value)
}

// set replaces the headers name, of kind k, with value.
func (w *Response) set(name string, k uint8, value string) *Response {
	w.del(name, k)
	return w.addKind(name, k, value)
}

// AddHeader adds a value for the header name, keeping earlier ones.
func (w *Response) AddHeader(name, value string) *Response {
	return w.addKind(name, headerKind(name), value)
}

func (w *Response) addKind(name string, k uint8, value string) *Response {
	// A name of a kind other than kindOther matched a token.
	if (k == kindOther && !isTokenString(name)) || !validHeaderValue(value) {
		w.fail(ErrBadHeader)
		return w
	}
	w.add(name, k, value)
	return w
}

func (w *Response) add(name string, k uint8, value string) {
	w.headers = append(w.headers, kv{name, value, k})
	w.kinds |= 1 << k
}

func isTokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// validHeaderValue refuses what would end the header or the head early.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// DelHeader removes the header name.
func (w *Response) DelHeader(name string) *Response {
	w.del(name, headerKind(name))
	return w
}

// del removes the headers name, of kind k.
func (w *Response) del(name string, k uint8) {
	if k != kindOther && !w.hasKind(k) {
		return // the common case: Header of one not set yet
	}
	out := w.headers[:0]
	w.kinds = 0
	for _, h := range w.headers {
		if !strings.EqualFold(h.name, name) {
			out = append(out, h)
			w.kinds |= 1 << h.kind
		}
	}
	clear(w.headers[len(out):])
	w.headers = out
}

// GetHeader returns the first value set for the header name, or "".
func (w *Response) GetHeader(name string) string {
	for _, h := range w.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// ContentType sets the Content-Type header.
func (w *Response) ContentType(v string) *Response {
	return w.set("Content-Type", kindContentType, v)
}

// SetCookie adds a Set-Cookie header for ck. An invalid cookie makes the
// response fail with ErrBadHeader.
func (w *Response) SetCookie(ck Cookie) *Response {
	v, err := ck.headerValue()
	if err != nil {
		w.fail(err)
		return w
	}
	w.add("Set-Cookie", kindOther, v)
	return w
}

func (w *Response) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Send sends the response with body. Like c.SendBytes(body, false).
func (w *Response) Send(body []byte) error { return w.st.c.SendBytes(body, false) }

// SendString sends the response with body.
func (w *Response) SendString(body string) error { return w.st.c.Send(body, false) }

// Redirect answers code (302 when 0) with a Location header.
func (w *Response) Redirect(location string, code int) error {
	if code == 0 {
		code = 302
	}
	w.Status(code).Header("Location", location)
	return w.SendString("")
}

// wantsClose reports whether the user set "Connection: close".
func (w *Response) wantsClose() bool {
	if !w.hasKind(kindConnection) {
		return false
	}
	for _, h := range w.headers {
		if h.kind == kindConnection && strings.Contains(strings.ToLower(h.value), "close") {
			return true
		}
	}
	return false
}

func (w *Response) hasKind(k uint8) bool { return w.kinds&(1<<k) != 0 }

func (w *Response) code() int {
	if w.status == 0 {
		return 200
	}
	return w.status
}

// bodyAllowed reports whether the response carries its body on the wire.
func (w *Response) bodyAllowed() bool {
	return w.r.method != "HEAD" && statusHasBody(w.code())
}

func statusHasBody(code int) bool {
	return code >= 200 && code != 204 && code != 304
}

// appendHead writes the status line and headers at now (monoNow).
// contentLength < 0 writes none (a body ended by closing); chunked writes
// Transfer-Encoding.
func (w *Response) appendHead(dst []byte, now, contentLength int64, chunked, closing bool) []byte {
	return w.appendHeadFor(dst, now, contentLength, chunked, closing, 0)
}

// appendHeadFor is appendHead that first makes room in dst for the head
// and reserve more bytes (the body), so that the send queue, which the
// connection keeps while idle, grows once and to the size it needs.
func (w *Response) appendHeadFor(dst []byte, now, contentLength int64, chunked, closing bool, reserve int) []byte {
	code := w.code()
	s := w.st.p.stamp(now)
	own := w.kinds & (1<<kindServer | 1<<kindDate)
	if need := w.headSize(s, code) + reserve; cap(dst)-len(dst) < need {
		dst = slices.Grow(dst, need)
	}
	if code == 200 && own == 0 {
		dst = append(dst, s.ok...)
	} else {
		dst = appendStatusLine(dst, code)
		switch own {
		case 0:
			dst = append(dst, s.head...)
		case 1 << kindServer:
			dst = append(dst, s.head[s.dateAt:]...)
		case 1 << kindDate:
			dst = append(dst, s.head[:s.dateAt]...)
		}
	}
	if statusHasBody(code) && !w.hasKind(kindContentType) {
		dst = append(dst, "Content-Type: text/html; charset=utf-8\r\n"...)
	}
	switch {
	case chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case contentLength >= 0 && code >= 200 && code != 204 && code != 304:
		dst = appendContentLength(dst, contentLength)
	}
	if closing {
		dst = append(dst, "Connection: close\r\n"...)
	} else {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	for _, h := range w.headers {
		if managedKinds&(1<<h.kind) != 0 {
			continue
		}
		dst = append(dst, h.name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// headSize bounds the length of the head appendHead writes with stamp s.
func (w *Response) headSize(s *dateStamp, code int) int {
	n := len(s.ok) + len("Content-Type: text/html; charset=utf-8\r\n") +
		len("Content-Length: 1000000000\r\n") + len("Connection: keep-alive\r\n\r\n")
	if code != 200 {
		n += 64 // a longer status line
	}
	for _, h := range w.headers {
		n += len(h.name) + len(h.value) + 4
	}
	return n
}

func (p *Protocol) serverName() string {
	if p.ServerName != "" {
		return p.ServerName
	}
	return DefaultServerName
}

// dateStamp holds the Server and Date header lines of one second.
type dateStamp struct {
	until  int64  // monoNow at which the second ends
	server string // the server name head was made with
	ok     []byte // "HTTP/1.1 200 OK\r\n", then head
	head   []byte // "Server: NAME\r\nDate: DATE\r\n"
	dateAt int    // where the Date line starts in head
}

const statusOK = "HTTP/1.1 200 OK\r\n"

// stamp returns the Server and Date lines at mono (monoNow). The wall
// clock is read and formatted once a second.
func (p *Protocol) stamp(mono int64) *dateStamp {
	s := p.date.Load()
	if s == nil || mono >= s.until || s.server != p.serverName() {
		now := time.Now()
		s = &dateStamp{
			until:  int64(now.Sub(monoBase)) + int64(time.Second) - int64(now.Nanosecond()),
			server: p.serverName(),
		}
		b := append(append(append([]byte(statusOK), "Server: "...), s.server...), "\r\n"...)
		s.dateAt = len(b) - len(statusOK)
		b = append(b, "Date: "...)
		b = now.UTC().AppendFormat(b, TimeFormat)
		s.ok = append(b, "\r\n"...)
		s.head = s.ok[len(statusOK):]
		p.date.Store(s)
	}
	return s
}

// appendContentLength appends the Content-Length line in one piece.
func appendContentLength(dst []byte, n int64) []byte {
	const prefix = len("Content-Length: ")
	if n < 0 || n >= 1e9 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, "\r\n"...)
	}
	b := [prefix + 9 + 2]byte{'C', 'o', 'n', 't', 'e', 'n', 't', '-', 'L', 'e', 'n', 'g', 't', 'h', ':', ' '}
	end := prefix + 1
	for v := n; v >= 10; v /= 10 {
		end++
	}
	for i := end - 1; i >= prefix; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	b[end], b[end+1] = '\r', '\n'
	return append(dst, b[:end+2]...)
}

// statusLines holds the status lines of the codes with a known reason.
var statusLines = func() map[int]string {
	m := make(map[int]string, len(statusText))
	for code, text := range statusText {
		m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
	}
	return m
}()

func appendStatusLine(dst []byte, code int) []byte {
	if code == 200 {
		return append(dst, statusOK...)
	}
	if line, ok := statusLines[code]; ok {
		return append(dst, line...)
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(code)...)
	return append(dst, "\r\n"...)
}

// appendErrorResponse writes a complete response that refuses a request
// and closes the connection.
func appendErrorResponse(dst []byte, p *Protocol, code int, reason string) []byte {
	body := strconv.Itoa(code) + " " + StatusText(code) + ": " + reason + "\n"
	dst = appendStatusLine(dst, code)
	dst = append(dst, p.stamp(monoNow()).head...)
	dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\n"...)
	dst = appendContentLength(dst, int64(len(body)))
	dst = append(dst, "Connection: close\r\n\r\n"...)
	return append(dst, body...)
}

// StatusText returns the reason phrase of code, or "Status" when unknown.
func StatusText(code int) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	return "Status"
}

var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
	409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
	413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Content", 425: "Too Early",
	426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}
