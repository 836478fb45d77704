package websocket

// The client's side of the opening handshake (RFC 6455, section 4.1): the
// upgrade request an AsyncConnection sends once connected, and the checks
// of the server's answer, which is untrusted input.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterURLScheme("ws", "tcp", "80")
	core.RegisterURLScheme("wss", "ssl", "443")
}

var (
	_ core.ClientHandshaker = (*Protocol)(nil)
	_ core.ClientContexter  = (*Protocol)(nil)
)

// NewClientContext implements core.ClientContexter: a client connection's
// state exists from the connect on, so that SendTypeOf tells what a
// SetSendType made while it connects will apply.
func (p *Protocol) NewClientContext() any { return newConn(p, true) }

// deflateOffer is the permessage-deflate offer of a client: no context
// takeover either way, so that each message is (de)compressed on its own.
const deflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// ClientHandshake implements core.ClientHandshaker: on a connection that
// core.AsyncConnection dialed to address (ws://host[:port]/path?query or
// wss://...), it sends the upgrade request with Protocol.Header, the
// subprotocols of Protocol.Subprotocols and, with Protocol.Compression, a
// permessage-deflate offer. Messages sent before the server's answer wait
// in the AsyncConnection's queue and follow it. The answer is checked as
// RFC 6455 says (status 101, Upgrade, Connection, Sec-WebSocket-Accept, a
// subprotocol and extensions that were offered, at most MaxHandshakeSize
// bytes); anything else fails the connect with ErrBadHandshake, a
// redirect (3xx) with ErrRedirect (see RedirectOf).
func (p *Protocol) ClientHandshake(c core.Connection, address string) error {
	u, err := url.Parse(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: no host in %q", ErrBadURL, address)
	}
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	st, ok := c.Context().(*conn) // made at the connect (NewClientContext)
	if !ok || st.p != p || !st.client {
		st = newConn(p, true)
		c.SetContext(st)
	}
	st.mu.Lock()
	e := st.extraLocked()
	e.accept = AcceptKey(key)
	e.target = u
	st.mu.Unlock()
	return c.SendBytes(p.appendRequest(nil, u, key), true)
}

// appendRequest appends the upgrade request for u.
func (p *Protocol) appendRequest(b []byte, u *url.URL, key string) []byte {
	b = append(b, "GET "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\n"...)
	if len(p.Subprotocols) > 0 {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, strings.Join(p.Subprotocols, ", ")...)
		b = append(b, "\r\n"...)
	}
	if p.Compression {
		b = append(b, "Sec-WebSocket-Extensions: "+deflateOffer+"\r\n"...)
	}
	if len(p.Header) > 0 {
		h := p.Header.Clone()
		for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
			"Sec-Websocket-Protocol", "Sec-Websocket-Extensions"} {
			h.Del(k)
		}
		w := bytes.NewBuffer(b)
		h.Write(w) // drops CR and LF from values
		b = w.Bytes()
	}
	return append(b, "\r\n"...)
}

// inputResponse frames the server's response head.
func (st *conn) inputResponse(buf []byte) (int, error) {
	max := orInt(st.p.MaxHandshakeSize, DefaultMaxHandshakeSize)
	i := bytes.Index(buf, headEnd)
	if i < 0 && len(buf) <= max {
		return 0, nil
	}
	if i < 0 || i+len(headEnd) > max {
		return 0, st.badResponse(0, "response head over %d bytes", max)
	}
	return i + len(headEnd), nil
}

// response checks the server's response head in pkg and opens the
// connection.
func (st *conn) response(c core.Connection, pkg []byte) error {
	br := headReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(pkg))
	r, err := http.ReadResponse(br, nil)
	if err != nil || r.Body == http.NoBody { // else the body reads from br: it cannot be reused
		br.Reset(nil)
		headReaders.Put(br)
	}
	if err != nil {
		return st.badResponse(0, "malformed response: %v", err)
	}
	if r.StatusCode >= 300 && r.StatusCode < 400 {
		return st.redirected(r)
	}
	if r.StatusCode != http.StatusSwitchingProtocols {
		return st.badResponse(r.StatusCode, "status %s, want 101", r.Status)
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return st.badResponse(r.StatusCode, "no Upgrade: websocket")
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return st.badResponse(r.StatusCode, "no Connection: Upgrade")
	}
	st.mu.Lock()
	want := st.ext.accept
	st.mu.Unlock()
	if got := r.Header.Values("Sec-WebSocket-Accept"); len(got) != 1 || got[0] != want {
		return st.badResponse(r.StatusCode, "Sec-WebSocket-Accept %q does not answer the key", strings.Join(got, ", "))
	}
	subp, err := st.chosenSubprotocol(r.Header)
	if err != nil {
		return st.badResponse(r.StatusCode, "%v", err)
	}
	deflate, err := st.acceptedExtensions(r.Header)
	if err != nil {
		return st.badResponse(r.StatusCode, "%v", err)
	}
	st.mu.Lock()
	st.deflate = deflate
	st.ext.accept = ""
	st.ext.target = nil
	st.ext.subp = subp
	st.mu.Unlock()
	st.open(c)
	st.startHeartbeat(c)
	return core.ErrEstablished
}

// chosenSubprotocol returns the subprotocol the server chose: one that was
// offered, or none.
func (st *conn) chosenSubprotocol(h http.Header) (string, error) {
	vs := h.Values("Sec-WebSocket-Protocol")
	if len(vs) == 0 {
		return "", nil
	}
	if len(vs) > 1 || strings.Contains(vs[0], ",") {
		return "", fmt.Errorf("more than one subprotocol chosen: %q", strings.Join(vs, ", "))
	}
	got := strings.TrimSpace(vs[0])
	for _, s := range st.p.Subprotocols {
		if s == got {
			return got, nil
		}
	}
	return "", fmt.Errorf("subprotocol %q was not offered", got)
}

// acceptedExtensions checks the server's extensions: at most one
// permessage-deflate, only when it was offered, and without context
// takeover on the server's side (each message is inflated on its own).
func (st *conn) acceptedExtensions(h http.Header) (deflate bool, err error) {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		opts, ok := httphead.ParseOptions([]byte(v), nil)
		if !ok {
			return false, fmt.Errorf("malformed Sec-WebSocket-Extensions %q", v)
		}
		for _, opt := range opts {
			if string(opt.Name) != wsflate.ExtensionName || !st.p.Compression {
				return false, fmt.Errorf("extension %q was not offered", opt.Name)
			}
			if deflate {
				return false, fmt.Errorf("permessage-deflate accepted twice")
			}
			var params wsflate.Parameters
			if err := params.Parse(opt); err != nil {
				return false, fmt.Errorf("permessage-deflate: %v", err)
			}
			if !params.ServerNoContextTakeover || params.ClientMaxWindowBits.Defined() {
				return false, fmt.Errorf("permessage-deflate parameters %q were not offered", opt.String())
			}
			deflate = true
		}
	}
	return deflate, nil
}

// redirected fails the handshake answered with a redirect (3xx), keeping
// its Location for RedirectOf: resolved against the request's URL, http
// and https as ws and wss.
func (st *conn) redirected(r *http.Response) error {
	st.mu.Lock()
	base := st.ext.target
	st.mu.Unlock()
	loc := r.Header.Get("Location")
	if loc == "" || base == nil {
		return st.badResponse(r.StatusCode, "redirect %s without a Location", r.Status)
	}
	u, err := base.Parse(loc)
	if err != nil {
		return st.badResponse(r.StatusCode, "redirect %s to a malformed Location %q", r.Status, loc)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	err = st.badResponse(r.StatusCode, "redirected, Location %s", u)
	err.(*core.ProtocolError).Err = ErrRedirect
	st.mu.Lock()
	e := st.extraLocked()
	e.redirect, e.redirectStatus = u.String(), r.StatusCode
	st.mu.Unlock()
	return err
}

// RedirectOf returns where the server redirected c's handshake (3xx): the
// Location, resolved against the URL dialed, with http and https given as
// ws and wss, and the status; "" and 0 when it did not. The handshake
// failed with ErrRedirect (OnError, core.ErrCodeConnectFail). Call it from
// OnError or OnClose, for instance to connect to the Location: a client
// follows no redirect by itself (RFC 6455 leaves it to the client; see
// Client.MaxRedirects).
func RedirectOf(c core.Connection) (location string, status int) {
	st := stateOf(c)
	if st == nil {
		return "", 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ext == nil {
		return "", 0
	}
	return st.ext.redirect, st.ext.redirectStatus
}

// badResponse fails the handshake: the connection is not opened.
func (st *conn) badResponse(status int, format string, args ...any) error {
	st.mu.Lock()
	st.phase = phaseFailed
	st.ext = nil
	st.mu.Unlock()
	return &core.ProtocolError{Protocol: protoName, Status: status, Reason: "handshake response: " + fmt.Sprintf(format, args...), Err: ErrBadHandshake}
}
