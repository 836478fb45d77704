package http

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/core/timer"
)

// Defaults applied where a Protocol field is zero.
const (
	DefaultMaxRequestLine   = 8 << 10  // longer request line: 414
	DefaultMaxHeaderBytes   = 64 << 10 // longer head (line + fields): 431
	DefaultMaxHeaders       = 100      // more header fields: 431
	DefaultMaxMemory        = 1 << 20  // multipart bytes kept in memory; the rest goes to temp files
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultBodyTimeout      = 30 * time.Second
	DefaultKeepAliveTimeout = 60 * time.Second
	DefaultResponseTimeout  = 60 * time.Second
	DefaultRequestTimeout   = 2 * time.Minute
	DefaultWriteTimeout     = 2 * time.Minute
	DefaultServerName       = "goes"
)

// Protocol is the HTTP/1.1 server protocol. The zero value is ready to use;
// New returns one too. Set the fields before the Goer starts; one Protocol
// may serve several Goers.
type Protocol struct {
	// MaxRequestLine bounds the request line (DefaultMaxRequestLine when
	// zero); a longer one is answered 414.
	MaxRequestLine int
	// MaxHeaderBytes bounds the request head (DefaultMaxHeaderBytes when
	// zero); a longer one is answered 431. It bounds chunked trailers too.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header fields (DefaultMaxHeaders).
	MaxHeaders int
	// MaxBodySize bounds a request body; a larger one is answered 413.
	// Zero means the connection's MaxPackageSize.
	MaxBodySize int64
	// MaxMemory is how much of a multipart form is kept in memory; larger
	// files are spooled to temporary files (DefaultMaxMemory when zero).
	MaxMemory int64

	// HeaderTimeout closes a connection whose first request head is not
	// complete this long after the connection was accepted, or whose later
	// request heads are not complete this long after their first byte
	// (DefaultHeaderTimeout when zero).
	HeaderTimeout time.Duration
	// BodyTimeout closes a connection whose request body makes no progress
	// for this long (DefaultBodyTimeout when zero).
	BodyTimeout time.Duration
	// KeepAliveTimeout closes a connection idle this long between requests
	// (DefaultKeepAliveTimeout when zero).
	//
	// HeaderTimeout, BodyTimeout and KeepAliveTimeout do not count the
	// time a connection spends paused by the server (its peer does not
	// read the answers queued, see core.Goer.SendHighWater, or a handler
	// called PauseRecv): the peer cannot be late with what is not read.
	// WriteTimeout bounds a peer that does not read.
	KeepAliveTimeout time.Duration
	// ResponseTimeout bounds how long a pipelined request waits for the
	// response to the request before it (DefaultResponseTimeout when zero).
	ResponseTimeout time.Duration
	// RequestTimeout bounds a whole request, from its first byte to the
	// end of its body, however steadily it trickles in: the connection is
	// closed when it passes (DefaultRequestTimeout when zero, none when
	// negative). Raise it for large uploads over slow links.
	RequestTimeout time.Duration
	// WriteTimeout closes a connection when what is queued for it, a
	// response or the part of a file read ahead, is not written out within
	// it, because the peer does not read or reads too slowly. The close is
	// logged (DefaultWriteTimeout when zero, none when negative). A peer
	// that keeps taking what it is sent, a large file or a long Stream,
	// never meets it.
	WriteTimeout time.Duration
	// DisableKeepAlive answers every request with "Connection: close".
	DisableKeepAlive bool
	// ServerName is the Server header (DefaultServerName when empty).
	ServerName string
	// Observer, when set, is told of every response (see Observer).
	Observer Observer
	// Sessions configures Request.Session (the defaults, with a
	// MemoryStore, when nil).
	Sessions *Sessions

	mu     sync.Mutex
	mounts atomic.Pointer[[]*Static] // replaced, never changed, under mu
	sweeps map[*core.Goer]*timer.Timer
	date   atomic.Pointer[dateStamp]

	defSessions atomic.Pointer[Sessions] // when Sessions is nil
}

// New returns an HTTP protocol with the defaults.
func New() *Protocol { return &Protocol{} }

// NewHttpProtocol is New under the manual's name.
//
//nolint:revive // the manual's name
func NewHttpProtocol() *Protocol { return New() }

// Name implements core.ProtocolNamer.
func (p *Protocol) Name() string { return "http" }

var (
	_ core.Protocol      = (*Protocol)(nil)
	_ core.ProtocolNamer = (*Protocol)(nil)
	_ core.ConnCloser    = (*Protocol)(nil)
	_ core.ConnOpener    = (*Protocol)(nil)
	_ core.BufferDrainer = (*Protocol)(nil)
	_ core.Goodbyer      = (*Protocol)(nil)
	_ core.Paced         = (*Protocol)(nil)
	_ core.WriteBatcher  = (*Protocol)(nil)

	_ core.SendRefusalHandler = (*Protocol)(nil)
)

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func (p *Protocol) maxRequestLine() int { return orInt(p.MaxRequestLine, DefaultMaxRequestLine) }
func (p *Protocol) maxHeaderBytes() int { return orInt(p.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (p *Protocol) maxHeaders() int     { return orInt(p.MaxHeaders, DefaultMaxHeaders) }
func (p *Protocol) maxMemory() int64 {
	if p.MaxMemory > 0 {
		return p.MaxMemory
	}
	return DefaultMaxMemory
}

// maxBody is the body limit for c.
func (p *Protocol) maxBody(c core.Connection) int64 {
	if p.MaxBodySize > 0 {
		return p.MaxBodySize
	}
	if tc, ok := c.(*core.TCPConnection); ok && tc.MaxPackageSize > 0 {
		return int64(tc.MaxPackageSize)
	}
	return core.DefaultMaxPackageSize
}

// Input implements core.Protocol: it measures the next piece of the request
// (the head, a piece of the body, a chunk header, the trailers).
func (p *Protocol) Input(c core.Connection, buf []byte) (int, error) {
	st := p.state(c)
	switch st.phase {
	case phaseHead:
		if !st.started {
			if !st.awaitTurn() {
				return 0, nil // receiving is paused until the previous response is out
			}
			st.started = true
			st.timed = st.opened // the deadline set at accept still runs
			st.opened = false
		}
		n, err := st.scanFields(buf, &headSection)
		if n == 0 && err == nil {
			st.timeHead()
		}
		return n, err
	case phaseBody:
		return int(min(int64(len(buf)), st.x.Load().bodyLeft)), nil
	case phaseChunkSize:
		return st.scanChunkSize(buf)
	case phaseChunkData:
		return int(min(int64(len(buf)), st.x.Load().bodyLeft)), nil
	case phaseChunkEnd:
		return 2, nil // the CRLF after the chunk data
	case phaseTrailer:
		return st.scanFields(buf, &trailerSection)
	}
	return 0, protoErr(500, "bad parser state")
}

// Decode implements core.Protocol: it parses each piece; the message handed
// to OnMessage is the request body (empty for most GETs), and RequestOf
// gives the parsed request.
func (p *Protocol) Decode(c core.Connection, pkg []byte) ([]byte, error) {
	st := p.state(c)
	switch st.phase {
	case phaseHead:
		if isBlankLine(pkg) {
			st.timeHead()
			return nil, core.ErrSkip // empty lines before a request line are ignored
		}
		return st.decodeHead(pkg)
	case phaseBody:
		x := st.x.Load()
		x.req.body = append(x.req.body, pkg...)
		x.bodyLeft -= int64(len(pkg))
		if x.bodyLeft > 0 {
			st.setDeadline(p.bodyTimeoutDur())
			return nil, core.ErrSkip
		}
		return st.deliver()
	case phaseChunkSize:
		return st.decodeChunkSize(pkg)
	case phaseChunkData:
		x := st.x.Load()
		x.req.body = append(x.req.body, pkg...)
		x.bodyLeft -= int64(len(pkg))
		st.setDeadline(p.bodyTimeoutDur())
		if x.bodyLeft == 0 {
			st.phase = phaseChunkEnd
		}
		return nil, core.ErrSkip
	case phaseChunkEnd:
		if pkg[0] != '\r' || pkg[1] != '\n' {
			return nil, st.reject(400, "chunk data not followed by CRLF")
		}
		st.phase = phaseChunkSize
		return nil, core.ErrSkip
	case phaseTrailer:
		return st.decodeTrailer(pkg)
	}
	return nil, protoErr(500, "bad parser state")
}

// Encode implements core.Protocol: Send(data, false) answers the request
// being handled with data as the body, status 200 and text/html unless the
// request's Response builder says otherwise. It is called with the
// connection's send lock held and touches only the protocol's own state.
func (p *Protocol) Encode(c core.Connection, dst, data []byte) ([]byte, error) {
	st, _ := c.Context().(*conn)
	if st == nil {
		return dst, ErrNoRequest
	}
	st.mu.Lock()
	if !st.pending.Load() || st.busy {
		st.mu.Unlock()
		return dst, ErrNoRequest
	}
	w := &st.x.Load().resp
	if w.err != nil { // nothing is sent; the builder starts afresh for another try
		err := w.err
		w.reset()
		st.mu.Unlock()
		return dst, err
	}
	closing := st.closingLocked()
	if s := w.r.sess; s != nil {
		s.cookieLocked(w)
	}
	now := monoNow()
	dst = w.appendHeadFor(dst, now, int64(len(data)), false, closing, len(data))
	if w.bodyAllowed() {
		dst = append(dst, data...)
	}
	ob := st.observeLocked(now)
	resume := st.completeLocked(now)
	st.mu.Unlock()
	ob.report(st)
	if resume {
		go st.resume() // not here: the send lock is held
	}
	if closing {
		return dst, errLast
	}
	return dst, nil
}

// OnConnOpen implements core.ConnOpener: the first request head must be
// complete within HeaderTimeout of the accept, so that a peer that connects
// and sends nothing (or one byte now and then) does not hold the connection.
func (p *Protocol) OnConnOpen(c core.Connection) {
	st := p.state(c)
	st.opened = true
	st.setDeadline(p.headerTimeoutDur())
}

// OnConnBufferDrain implements core.BufferDrainer: a full send queue has
// emptied, so a Stream whose writes were refused may go on.
func (p *Protocol) OnConnBufferDrain(c core.Connection) {
	if st, ok := c.Context().(*conn); ok {
		st.drained()
	}
}

// OnConnClose implements core.ConnCloser: it removes the temporary files of
// the connection's last multipart form.
func (p *Protocol) OnConnClose(c core.Connection) {
	if st, ok := c.Context().(*conn); ok {
		st.setDeadline(0)
		st.closed()
	}
}

// Paced implements core.Paced: a connection stops reading requests while
// its send queue is past the high-water mark, so that the answer to every
// request read can be queued; pipelined requests wait in the kernel and in
// the peer instead.
func (p *Protocol) Paced() bool { return true }

// OnSendRefused implements core.SendRefusalHandler: a response the send
// queue refused leaves its request unanswered, and every request behind it
// too, so the connection is closed at once (after what is queued) and the
// reason logged, rather than wait for ResponseTimeout.
func (p *Protocol) OnSendRefused(c core.Connection, err error) {
	if st, ok := c.Context().(*conn); ok && st.pending.Load() {
		st.unanswerable(err)
	}
}

// Goodbye implements core.Goodbyer: a stopping server answers the requests
// in progress with "Connection: close". Nothing extra is sent.
func (p *Protocol) Goodbye(c core.Connection) []byte {
	if st, ok := c.Context().(*conn); ok {
		st.goodbye.Store(true)
	}
	return nil
}

func (p *Protocol) headerTimeoutDur() time.Duration {
	return orDur(p.HeaderTimeout, DefaultHeaderTimeout)
}
func (p *Protocol) bodyTimeoutDur() time.Duration { return orDur(p.BodyTimeout, DefaultBodyTimeout) }
func (p *Protocol) keepAliveDur() time.Duration {
	return orDur(p.KeepAliveTimeout, DefaultKeepAliveTimeout)
}
func (p *Protocol) responseTimeoutDur() time.Duration {
	return orDur(p.ResponseTimeout, DefaultResponseTimeout)
}

// ensureSweeper starts, once per Goer (and per start of its timer), the
// task that closes connections past their deadline.
func (p *Protocol) ensureSweeper(g *core.Goer) {
	t := g.Timer()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sweeps == nil {
		p.sweeps = make(map[*core.Goer]*timer.Timer)
	}
	if p.sweeps[g] == t {
		return
	}
	p.sweeps[g] = t
	every := min(p.headerTimeoutDur(), p.keepAliveDur(), p.bodyTimeoutDur(), p.responseTimeoutDur())
	for _, d := range []time.Duration{p.requestTimeoutDur(), p.writeTimeoutDur()} {
		if d > 0 {
			every = min(every, d)
		}
	}
	every /= 4
	every = max(10*time.Millisecond, min(every, time.Second))
	var last atomic.Int64
	last.Store(monoNow())
	t.Add(every, func(...any) {
		now := monoNow()
		p.sweep(g, now, now-last.Swap(now))
	}, nil, true)
}

// sweep closes g's connections whose deadline passed, or whose responses
// are not written out within WriteTimeout. now is monoNow, elapsed the
// time since the previous sweep.
//
// A connection that we stopped reading (its peer does not take the
// answers already queued, or the handler called PauseRecv) cannot be
// late with its next request: its read deadline (KeepAliveTimeout,
// HeaderTimeout, BodyTimeout) moves on by the time it spent paused.
// WriteTimeout watches such a peer meanwhile. ResponseTimeout, which
// waits for our own handler, keeps running.
func (p *Protocol) sweep(g *core.Goer, now, elapsed int64) {
	wt := p.writeTimeoutDur()
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		if st, ok := c.Context().(*conn); ok && st.p == p {
			d := st.deadline.Load()
			if d != 0 && c.IsPaused() && !st.awaitingResponse() {
				st.deadline.CompareAndSwap(d, d+elapsed) // the lane may have moved it meanwhile
				d = st.deadline.Load()
			}
			if d != 0 && now > d {
				st.deadline.Store(0)
				c.Close("")
			} else if wt > 0 {
				st.checkWrite(g, c, now, wt)
			}
		}
		return true
	})
}
