package websocket

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/shunhui19/goes/core"
)

// UpgradeRequest is what Upgrade needs of a request parsed by another
// protocol. The HTTP protocol's request (protocol/http's *Request) has
// these methods.
type UpgradeRequest interface {
	Method() string
	Target() string
	Proto() string
	VisitHeaders(f func(name, value []byte) bool)
}

// ErrNotUpgrade: the request does not ask for a WebSocket upgrade.
var ErrNotUpgrade = errors.New("goes: websocket: not an upgrade request")

// IsUpgrade reports whether r asks for a WebSocket upgrade.
func IsUpgrade(r UpgradeRequest) bool {
	var conn, upg bool
	r.VisitHeaders(func(name, value []byte) bool {
		h := http.Header{}
		h.Add(string(name), string(value))
		conn = conn || headerHasToken(h, string(name), "upgrade") && strings.EqualFold(string(name), "Connection")
		upg = upg || headerHasToken(h, string(name), "websocket") && strings.EqualFold(string(name), "Upgrade")
		return true
	})
	return conn && upg
}

// Upgrade turns c, a connection of another protocol (an HTTP Goer's), into
// a WebSocket connection of p, so that one port serves pages and
// WebSocket. Call it from c's OnMessage while it handles the upgrade
// request r. It runs the handshake like a WebSocket Goer does (with
// OnWebSocketConnect), answers 101 and makes p the connection's protocol:
// later messages arrive as WebSocket messages, in the connection's
// OnMessage (set c.(*core.TCPConnection).OnMessage to give them their own
// handler). When the handshake fails, Upgrade has answered with the HTTP
// error, closes c and returns the error; ErrNotUpgrade leaves c untouched.
//
// The client must wait for the 101 before it sends frames, as browsers and
// RFC 6455 clients do.
func (p *Protocol) Upgrade(c core.Connection, r UpgradeRequest) error {
	if !IsUpgrade(r) {
		return ErrNotUpgrade
	}
	tc, ok := c.(*core.TCPConnection)
	if !ok {
		return errors.New("goes: websocket: Upgrade needs a stream connection")
	}
	req := &http.Request{
		Method:     r.Method(),
		RequestURI: r.Target(),
		Header:     http.Header{},
		RemoteAddr: c.GetRemoteAddress(),
	}
	var okProto bool
	req.Proto = r.Proto()
	if req.ProtoMajor, req.ProtoMinor, okProto = http.ParseHTTPVersion(req.Proto); !okProto {
		req.ProtoMajor, req.ProtoMinor = 1, 1
	}
	r.VisitHeaders(func(name, value []byte) bool {
		req.Header.Add(string(name), string(value))
		return true
	})
	req.Host = req.Header.Get("Host")
	st := newConn(p, false)
	u, err := url.ParseRequestURI(req.RequestURI)
	if err != nil {
		err = st.refuse(c, handshakeError(http.StatusBadRequest, "bad target"))
		c.Close("")
		return err
	}
	req.URL = u
	h, perr := p.validate(req)
	if perr == nil && p.OnWebSocketConnect != nil {
		if err := st.callConnect(c, p.OnWebSocketConnect, h); err != nil {
			var ok bool
			if perr, ok = err.(*core.ProtocolError); !ok || perr.Status < 400 || perr.Status > 599 {
				perr = handshakeError(http.StatusForbidden, "refused: %v", err)
			}
		}
	}
	if perr != nil {
		err := st.refuseFor(c, perr, req.Method)
		c.Close("")
		return err
	}
	head := ""
	if p.KeepRequest {
		head = requestHead(r)
	}
	st.accepted(h, head)
	// From here the connection is WebSocket: sends queue in st until the
	// 101 is out, and the next bytes go to p.
	c.SetContext(st)
	tc.SetProtocol(p)
	if err := p.sendAccept(c, req, h); err != nil {
		return err
	}
	st.open(c)
	st.startHeartbeat(c)
	return nil
}

// requestHead writes r back as a request head, for RequestOf.
func requestHead(r UpgradeRequest) string {
	var b strings.Builder
	b.WriteString(r.Method() + " " + r.Target() + " " + r.Proto() + "\r\n")
	r.VisitHeaders(func(name, value []byte) bool {
		b.Write(name)
		b.WriteString(": ")
		b.Write(value)
		b.WriteString("\r\n")
		return true
	})
	b.WriteString("\r\n")
	return b.String()
}
