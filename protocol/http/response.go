package http

import (
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
// after the response went out (the connection reuses it for the next
// request).
type Response struct {
	st      *conn
	status  int
	headers []kv
	err     error
	scratch []byte
}

type kv struct{ name, value string }

func (w *Response) reset() {
	h := w.headers[:0]
	if cap(h) > 64 {
		h = nil
	}
	s := w.scratch[:0]
	if cap(s) > 4<<10 {
		s = nil
	}
	*w = Response{st: w.st, headers: h, scratch: s}
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
	w.DelHeader(name)
	return w.AddHeader(name, value)
}

// AddHeader adds a value for the header name, keeping earlier ones.
func (w *Response) AddHeader(name, value string) *Response {
	if !isToken([]byte(name)) || strings.ContainsAny(value, "\r\n\x00") {
		w.fail(ErrBadHeader)
		return w
	}
	w.headers = append(w.headers, kv{name, value})
	return w
}

// DelHeader removes the header name.
func (w *Response) DelHeader(name string) *Response {
	out := w.headers[:0]
	for _, h := range w.headers {
		if !strings.EqualFold(h.name, name) {
			out = append(out, h)
		}
	}
	w.headers = out
	return w
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
func (w *Response) ContentType(v string) *Response { return w.Header("Content-Type", v) }

// SetCookie adds a Set-Cookie header for ck. An invalid cookie makes the
// response fail with ErrBadHeader.
func (w *Response) SetCookie(ck Cookie) *Response {
	v, err := ck.headerValue()
	if err != nil {
		w.fail(err)
		return w
	}
	w.headers = append(w.headers, kv{"Set-Cookie", v})
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
	for _, h := range w.headers {
		if strings.EqualFold(h.name, "Connection") && strings.Contains(strings.ToLower(h.value), "close") {
			return true
		}
	}
	return false
}

func (w *Response) has(name string) bool {
	for _, h := range w.headers {
		if strings.EqualFold(h.name, name) {
			return true
		}
	}
	return false
}

func (w *Response) code() int {
	if w.status == 0 {
		return 200
	}
	return w.status
}

// bodyAllowed reports whether the response carries its body on the wire.
func (w *Response) bodyAllowed() bool {
	return w.st.req.method != "HEAD" && statusHasBody(w.code())
}

func statusHasBody(code int) bool {
	return code >= 200 && code != 204 && code != 304
}

// appendHead writes the status line and headers at now (monoNow).
// contentLength < 0 writes none (a body ended by closing); chunked writes
// Transfer-Encoding.
func (w *Response) appendHead(dst []byte, now, contentLength int64, chunked, closing bool) []byte {
	p := w.st.p
	code := w.code()
	dst = appendStatusLine(dst, code)
	if !w.has("Server") {
		dst = append(dst, "Server: "...)
		dst = append(dst, p.serverName()...)
		dst = append(dst, "\r\n"...)
	}
	if !w.has("Date") {
		dst = append(dst, "Date: "...)
		dst = p.appendDate(dst, now)
		dst = append(dst, "\r\n"...)
	}
	if statusHasBody(code) && !w.has("Content-Type") {
		dst = append(dst, "Content-Type: text/html; charset=utf-8\r\n"...)
	}
	switch {
	case chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case contentLength >= 0 && code >= 200 && code != 204 && code != 304:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, contentLength, 10)
		dst = append(dst, "\r\n"...)
	}
	if closing {
		dst = append(dst, "Connection: close\r\n"...)
	} else {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	for _, h := range w.headers {
		if managedHeader(h.name) {
			continue
		}
		dst = append(dst, h.name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func managedHeader(name string) bool {
	return strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") ||
		strings.EqualFold(name, "Connection")
}

func (p *Protocol) serverName() string {
	if p.ServerName != "" {
		return p.ServerName
	}
	return DefaultServerName
}

// dateStamp is the Date header of one second.
type dateStamp struct {
	until int64 // monoNow at which the second ends
	b     []byte
}

// appendDate appends the HTTP date at mono (monoNow). The wall clock is
// read and formatted once a second.
func (p *Protocol) appendDate(dst []byte, mono int64) []byte {
	s := p.date.Load()
	if s == nil || mono >= s.until {
		now := time.Now()
		s = &dateStamp{
			until: int64(now.Sub(monoBase)) + int64(time.Second) - int64(now.Nanosecond()),
			b:     now.UTC().AppendFormat(make([]byte, 0, len(TimeFormat)), TimeFormat),
		}
		p.date.Store(s)
	}
	return append(dst, s.b...)
}

func appendStatusLine(dst []byte, code int) []byte {
	if code == 200 {
		return append(dst, "HTTP/1.1 200 OK\r\n"...)
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
	dst = append(dst, "Server: "...)
	dst = append(dst, p.serverName()...)
	dst = append(dst, "\r\nDate: "...)
	dst = p.appendDate(dst, monoNow())
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
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
