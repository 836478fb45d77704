package websocket

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"

	"github.com/shunhui19/goes/core"
)

// Handshake is an upgrade request being decided by OnWebSocketConnect.
type Handshake struct {
	// Request is the client's request: Method, URL (path and query), Host,
	// Header (Origin, ...), Cookies, RemoteAddr. It has no body.
	Request *http.Request
	// Protocols are the subprotocols the client offers, in its order.
	Protocols []string
	// Protocol is the chosen subprotocol ("" for none). It starts as the
	// first of Protocol.Subprotocols that the client offers.
	Protocol string
	// Header holds extra headers for the 101 response (Set-Cookie, ...).
	Header http.Header
	// Compression reports whether permessage-deflate will be used; set it
	// to false to refuse compression for this connection.
	Compression bool
}

// Origin returns the request's Origin header ("" when absent).
func (h *Handshake) Origin() string { return h.Request.Header.Get("Origin") }

var headEnd = []byte("\r\n\r\n")

// headReaders hold the buffered readers requests are parsed from: a fresh
// one per handshake would be 4 KiB of garbage for every connection opened.
var headReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// readRequest parses the request head in pkg.
func readRequest(pkg []byte) (*http.Request, error) {
	br := headReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(pkg))
	r, err := http.ReadRequest(br)
	if err == nil && r.Body != http.NoBody {
		return r, nil // the body reads from br: it cannot be reused
	}
	br.Reset(nil)
	headReaders.Put(br)
	return r, err
}

func (st *conn) inputHandshake(c core.Connection, buf []byte) (int, error) {
	if st.client {
		return st.inputResponse(buf)
	}
	max := orInt(st.p.MaxHandshakeSize, DefaultMaxHandshakeSize)
	i := bytes.Index(buf, headEnd)
	if i < 0 {
		if len(buf) > max {
			return 0, st.refuse(c, handshakeError(http.StatusRequestHeaderFieldsTooLarge, "request head over %d bytes", max))
		}
		return 0, nil
	}
	if i+len(headEnd) > max {
		return 0, st.refuse(c, handshakeError(http.StatusRequestHeaderFieldsTooLarge, "request head over %d bytes", max))
	}
	return i + len(headEnd), nil
}

// handshake answers the request head in pkg: 101 and the WebSocket session,
// a plain HTTP response, or a refusal.
func (st *conn) handshake(c core.Connection, pkg []byte) error {
	if st.client {
		return st.response(c, pkg)
	}
	r, err := readRequest(pkg)
	if err != nil {
		return st.refuse(c, handshakeError(http.StatusBadRequest, "malformed request: %v", err))
	}
	r.RemoteAddr = c.GetRemoteAddress()
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return st.serveHTTP(c, r)
	}
	h, perr := st.p.validate(r)
	if perr != nil {
		return st.refuseFor(c, perr, r.Method)
	}
	if f := st.p.OnWebSocketConnect; f != nil {
		if err := st.callConnect(c, f, h); err != nil {
			perr, ok := err.(*core.ProtocolError)
			if !ok || perr.Status < 400 || perr.Status > 599 {
				perr = handshakeError(http.StatusForbidden, "refused: %v", err)
			}
			return st.refuseFor(c, perr, r.Method)
		}
	}
	head := ""
	if st.p.KeepRequest {
		head = string(pkg)
	}
	st.accepted(h, head)
	if err := st.p.sendAccept(c, r, h); err != nil {
		return err
	}
	st.open(c)
	st.startHeartbeat(c)
	return core.ErrSkip
}

// accepted records the outcome of a handshake: compression, the
// subprotocol and, with KeepRequest, the request head.
func (st *conn) accepted(h *Handshake, head string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.deflate = h.Compression
	if h.Protocol != "" || head != "" {
		e := st.extraLocked()
		e.subp, e.head = h.Protocol, head
	}
}

// request parses the kept request head again.
func (st *conn) request(c core.Connection) *http.Request {
	st.mu.Lock()
	var head string
	if st.ext != nil {
		head = st.ext.head
	}
	st.mu.Unlock()
	if head == "" {
		return nil
	}
	r, err := readRequest([]byte(head))
	if err != nil {
		return nil
	}
	r.RemoteAddr = c.GetRemoteAddress()
	return r
}

// callConnect runs the user's handshake callback; a panic refuses the
// connection with 500.
func (st *conn) callConnect(c core.Connection, f func(core.Connection, *Handshake) error, h *Handshake) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logger(c).Error("callback panicked", "callback", "OnWebSocketConnect", "conn", c.GetID(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = handshakeError(http.StatusInternalServerError, "OnWebSocketConnect panicked")
		}
	}()
	return f(c, h)
}

// validate checks an upgrade request (RFC 6455, section 4.2.1) and prepares
// the Handshake.
func (p *Protocol) validate(r *http.Request) (*Handshake, *core.ProtocolError) {
	if r.Method != http.MethodGet {
		return nil, handshakeError(http.StatusMethodNotAllowed, "upgrade with method %s", r.Method)
	}
	if !r.ProtoAtLeast(1, 1) {
		return nil, handshakeError(http.StatusBadRequest, "upgrade needs HTTP/1.1")
	}
	if r.Host == "" {
		return nil, handshakeError(http.StatusBadRequest, "no Host header")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return nil, handshakeError(http.StatusUpgradeRequired, "unsupported version %q", v)
	}
	if k, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(k) != 16 {
		return nil, handshakeError(http.StatusBadRequest, "bad Sec-WebSocket-Key")
	}
	h := &Handshake{Request: r, Header: http.Header{}}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				h.Protocols = append(h.Protocols, s)
			}
		}
	}
pick:
	for _, want := range p.Subprotocols {
		for _, offered := range h.Protocols {
			if want == offered {
				h.Protocol = want
				break pick
			}
		}
	}
	if p.Compression {
		h.Compression = negotiateDeflate(r.Header.Values("Sec-WebSocket-Extensions"))
	}
	return h, nil
}

// negotiateDeflate accepts the first permessage-deflate offer that works
// without context takeover in both directions.
func negotiateDeflate(values []string) bool {
	ext := wsflate.Extension{Parameters: wsflate.DefaultParameters}
	for _, v := range values {
		opts, ok := httphead.ParseOptions([]byte(v), nil)
		if !ok {
			continue
		}
		for _, opt := range opts {
			if _, err := ext.Negotiate(opt); err != nil {
				ext.Reset()
				continue
			}
			if _, ok := ext.Accepted(); ok {
				return true
			}
		}
	}
	return false
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	return string(appendAcceptKey(nil, key))
}

func appendAcceptKey(dst []byte, key string) []byte {
	var buf [128]byte
	sum := sha1.Sum(append(append(buf[:0], key...), acceptGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// sendAccept sends the 101 response, built in a pooled buffer.
func (p *Protocol) sendAccept(c core.Connection, r *http.Request, h *Handshake) error {
	bp := frameBufs.Get().(*[]byte)
	b := p.appendAccept((*bp)[:0], r, h)
	err := c.SendBytes(b, true) // copies b
	if cap(b) <= keepFrameBufCap {
		*bp = b
		frameBufs.Put(bp)
	}
	return err
}

// appendAccept appends the 101 response.
func (p *Protocol) appendAccept(b []byte, r *http.Request, h *Handshake) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = appendAcceptKey(b, r.Header.Get("Sec-WebSocket-Key"))
	b = append(b, "\r\n"...)
	if h.Protocol != "" && validHeaderValue(h.Protocol) {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, h.Protocol...)
		b = append(b, "\r\n"...)
	}
	if h.Compression {
		b = append(b, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"...)
	}
	if len(h.Header) > 0 {
		for _, k := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
			h.Header.Del(k)
		}
		w := bytes.NewBuffer(b)
		h.Header.Write(w) // drops CR and LF from values
		b = w.Bytes()
	}
	return append(b, "\r\n"...)
}

func validHeaderValue(s string) bool { return !strings.ContainsAny(s, "\r\n") }

// refuse answers a failed handshake with an HTTP error and returns the error
// that makes core close the connection.
func (st *conn) refuse(c core.Connection, e *core.ProtocolError) error {
	return st.refuseFor(c, e, "")
}

// refuseFor is refuse for a request with method: a 405 names the allowed
// method (RFC 9110 §15.5.6), and the answer to HEAD has no body.
func (st *conn) refuseFor(c core.Connection, e *core.ProtocolError, method string) error {
	st.mu.Lock()
	st.phase = phaseFailed
	st.ext = nil
	st.mu.Unlock()
	body := http.StatusText(e.Status)
	if e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized || e.Err == ErrBadHandshake {
		if e.Reason != "" {
			body = e.Reason
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusUpgradeRequired:
		b.WriteString("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")
	case http.StatusMethodNotAllowed:
		b.WriteString("Allow: GET\r\n")
	}
	b.WriteString("Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body) + 1))
	b.WriteString("\r\n\r\n")
	if method != http.MethodHead {
		b.WriteString(body)
		b.WriteString("\n")
	}
	c.SendBytes(b.Bytes(), true)
	return e
}

// headerHasToken reports whether a comma-separated header has token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, s := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(s), token) {
				return true
			}
		}
	}
	return false
}

// serveHTTP answers a plain HTTP request with HTTPHandler and closes.
func (st *conn) serveHTTP(c core.Connection, r *http.Request) error {
	h := st.p.HTTPHandler
	if h == nil {
		return st.refuseFor(c, handshakeError(http.StatusUpgradeRequired, "not a WebSocket upgrade"), r.Method)
	}
	st.mu.Lock()
	st.phase = phaseHTTP
	st.ext = nil
	st.mu.Unlock()
	w := &responseWriter{header: http.Header{}}
	func() {
		defer func() {
			if rec := recover(); rec != nil {
				logger(c).Error("callback panicked", "callback", "HTTPHandler", "conn", c.GetID(),
					"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
				w = &responseWriter{header: http.Header{}, status: http.StatusInternalServerError}
				w.body.WriteString("Internal Server Error\n")
			}
		}()
		h.ServeHTTP(w, r)
	}()
	c.SendBytes(w.bytes(r.Method == http.MethodHead), true)
	c.Close("")
	return core.ErrSkip
}

// responseWriter buffers a plain HTTP response.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 100 && status <= 999 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *responseWriter) bytes(head bool) []byte {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	w.header.Set("Connection", "close")
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Write(&b)
	b.WriteString("\r\n")
	if !head {
		b.Write(w.body.Bytes())
	}
	return b.Bytes()
}
