package websocket

import (
	"crypto/rand"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

const (
	phaseHandshake = iota // waiting for the opening handshake
	phaseDraining         // 101 queued; flushing what was sent meanwhile
	phaseOpen             // frames flow
	phaseHTTP             // a plain HTTP request was answered
	phaseFailed           // the handshake was refused
)

// conn is one connection's WebSocket state. Every open connection keeps one,
// so it holds only what an idle connection needs (80 bytes); a message split
// across reads, what the handshake queued and the rarer settings live in
// structs of their own that exist only while needed. The read side (frame
// parsing, the message being assembled) belongs to the connection's lane;
// mu guards what senders on other goroutines touch.
type conn struct {
	p  *Protocol
	mu sync.Mutex

	// read side: the lane only
	fh   header   // the frame being read
	fpos int64    // payload bytes of fh read so far
	part *partial // pieces of a message or control frame split across reads

	ext *extra // guarded by mu; nil for most open connections

	seen      atomic.Bool // a frame arrived since the last heartbeat tick
	pinged    atomic.Bool // a heartbeat ping is unanswered
	closeCode uint16      // guarded by mu

	client     bool // frames we send are masked, frames we read must not be
	inFrame    bool // lane: the next package is payload of fh
	msgComp    bool // lane: the message being read is compressed
	msgOp      ws.OpCode
	lastBinary bool // lane: the message handed to OnMessage is binary

	// guarded by mu
	phase      uint8
	sendBinary bool // Send's type, as it applies now
	nextBinary bool // the latest SetSendType's, applied or waiting in a client's queue
	deflate    bool
	closeSent  bool
	ended      bool
}

// partial holds the payload read so far of a message or control frame that
// came in several pieces. It is dropped when the frame or message is whole:
// an idle connection keeps no read buffer.
type partial struct {
	msg  []byte
	ctrl []byte

	valid int // bytes of msg, a text message, found to be whole valid UTF-8
}

// extra is the state few connections need for long: messages sent before
// the handshake completed, the chosen subprotocol, the request head kept
// for RequestOf, the close reason; for a client, the Sec-WebSocket-Accept
// it waits for and its heartbeat.
type extra struct {
	pending     []byte
	subp        string
	head        string
	closeReason string
	accept      string
	beat        *time.Timer

	target         *url.URL // a client's request URL, until the handshake is done
	redirect       string   // a client's handshake redirected there (RedirectOf)
	redirectStatus int
}

func newConn(p *Protocol, client bool) *conn {
	b := p.SendType == BinaryMessage
	return &conn{p: p, client: client, sendBinary: b, nextBinary: b}
}

// extraLocked returns st.ext, making it.
func (st *conn) extraLocked() *extra {
	if st.ext == nil {
		st.ext = &extra{}
	}
	return st.ext
}

// tidyLocked drops st.ext once it holds nothing.
func (st *conn) tidyLocked() {
	if e := st.ext; e != nil && len(e.pending) == 0 && e.subp == "" && e.head == "" && e.closeReason == "" &&
		e.accept == "" && e.beat == nil && e.target == nil && e.redirect == "" {
		st.ext = nil
	}
}

func (st *conn) sendOpcode() ws.OpCode {
	if st.sendBinary {
		return ws.OpBinary
	}
	return ws.OpText
}

// maxMessage is the limit on one incoming message: the connection's
// MaxPackageSize. It is read on the lane only.
func maxMessage(c core.Connection) int {
	switch c := c.(type) {
	case *core.TCPConnection:
		return c.MaxPackageSize
	case interface{ maxMessageSize() int }:
		return c.maxMessageSize()
	}
	return core.DefaultMaxPackageSize
}

func logger(c core.Connection) *slog.Logger {
	if g := c.Goer(); g != nil {
		return g.Log()
	}
	if l, ok := c.(interface{ logger() *slog.Logger }); ok {
		return l.logger()
	}
	return slog.Default()
}

// recordLocked keeps the first close status seen (sent or received).
func (st *conn) recordLocked(code int, reason string) {
	if st.closeCode == 0 {
		st.closeCode = uint16(code)
		if reason != "" {
			st.extraLocked().closeReason = reason
		}
	}
}

// mask returns a fresh masking key for a client's frames, nil for a server.
func (st *conn) mask() *[4]byte {
	if !st.client {
		return nil
	}
	var m [4]byte
	rand.Read(m[:])
	return &m
}

// sendControl sends a ping, pong or close frame unless a close was sent.
func (st *conn) sendControl(c core.Connection, op ws.OpCode, payload []byte) error {
	if len(payload) > maxControlPayload {
		return ErrControlTooLong
	}
	return st.sendFrame(c, op, payload)
}

// sendClose sends a close frame with code and reason (once) and records it.
func (st *conn) sendClose(c core.Connection, code int, reason string) error {
	st.mu.Lock()
	if !st.closeSent {
		st.recordLocked(code, reason)
	}
	st.mu.Unlock()
	return st.sendControl(c, ws.OpClose, closePayload(code, reason))
}

// frameBufs holds the buffers frames are built in before SendBytes copies
// them.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

const keepFrameBufCap = 16 << 10 // frame buffers up to this size go back to frameBufs

// sendFrame sends one frame carrying payload (a data message when op is
// text or binary) as raw bytes, or queues it while the handshake is under
// way. A close frame is the last one.
func (st *conn) sendFrame(c core.Connection, op ws.OpCode, payload []byte) error {
	isClose := op == ws.OpClose
	st.mu.Lock()
	if st.closeSent {
		st.mu.Unlock()
		return ErrClosing
	}
	switch st.phase {
	case phaseHandshake, phaseDraining:
		if isClose {
			st.closeSent = true
		}
		err := st.pendLocked(op, payload)
		st.mu.Unlock()
		if err == nil {
			st.observe(c, true, op)
		}
		return err
	case phaseOpen:
	default:
		st.mu.Unlock()
		return ErrNotOpen
	}
	if isClose {
		st.closeSent = true
	}
	st.mu.Unlock()
	bp := frameBufs.Get().(*[]byte)
	b := st.appendFrameOf((*bp)[:0], op, payload)
	err := c.SendBytes(b, true) // copies b
	if cap(b) <= keepFrameBufCap {
		*bp = b
		frameBufs.Put(bp)
	}
	if err == nil {
		st.observe(c, true, op)
	}
	return err
}

// appendOpenFrame appends one frame of op (a data message when op is text
// or binary) to dst on an open connection: a frame queued on a client
// connection before the handshake was done, framed once it is (core holds
// the connection's send lock).
func (st *conn) appendOpenFrame(c core.Connection, dst []byte, op ws.OpCode, payload []byte) ([]byte, error) {
	st.mu.Lock()
	if st.closeSent {
		st.mu.Unlock()
		return dst, ErrClosing
	}
	if st.phase != phaseOpen {
		st.mu.Unlock()
		return dst, ErrNotOpen
	}
	if op == ws.OpClose {
		st.closeSent = true
	}
	st.mu.Unlock()
	dst = st.appendFrameOf(dst, op, payload)
	st.observe(c, true, op)
	return dst, nil
}

// appendFrameOf appends a control frame, or a data message compressed when
// negotiated and worth it.
func (st *conn) appendFrameOf(dst []byte, op ws.OpCode, payload []byte) []byte {
	if op&0x8 != 0 {
		return appendFrame(dst, op, false, payload, st.mask())
	}
	return st.appendData(dst, op, payload)
}

// encode frames data as one message of the connection's send type; core
// holds the connection's send lock.
func (st *conn) encode(dst, data []byte) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.appendMessageLocked(dst, st.sendOpcode(), data)
}

// appendMessageLocked appends a data message to dst, or to the pending
// queue while the handshake is under way.
func (st *conn) appendMessageLocked(dst []byte, op ws.OpCode, data []byte) ([]byte, error) {
	if st.closeSent {
		return dst, ErrClosing
	}
	switch st.phase {
	case phaseOpen:
		return st.appendData(dst, op, data), nil
	case phaseHandshake, phaseDraining:
		return dst, st.pendLocked(op, data)
	}
	return dst, ErrNotOpen
}

// pendLocked queues a frame (a data message when op is text or binary)
// while the handshake is under way, within MaxPendingSize.
func (st *conn) pendLocked(op ws.OpCode, payload []byte) error {
	e := st.extraLocked()
	before := len(e.pending)
	e.pending = st.appendFrameOf(e.pending, op, payload)
	if len(e.pending) > orInt(st.p.MaxPendingSize, DefaultMaxPendingSize) {
		e.pending = e.pending[:before]
		st.tidyLocked()
		return ErrPendingFull
	}
	return nil
}

// appendData appends one data frame, compressed when negotiated and worth it.
func (st *conn) appendData(dst []byte, op ws.OpCode, data []byte) []byte {
	if st.deflate && len(data) >= orInt(st.p.CompressionThreshold, DefaultCompressionThreshold) {
		if z, err := compress(data); err == nil {
			return appendFrame(dst, op, true, z, st.mask())
		}
	}
	return appendFrame(dst, op, false, data, st.mask())
}

// open ends the handshake: what was queued meanwhile is sent in order, then
// sends go straight to the connection.
func (st *conn) open(c core.Connection) {
	st.mu.Lock()
	st.phase = phaseDraining
	st.mu.Unlock()
	for {
		st.mu.Lock()
		var p []byte
		if st.ext != nil {
			p = st.ext.pending
			st.ext.pending = nil
		}
		if len(p) == 0 {
			st.phase = phaseOpen
			st.tidyLocked()
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		if err := c.SendBytes(p, true); err != nil {
			logger(c).Debug("websocket: queued messages not sent", "conn", c.GetID(), "err", err)
		}
	}
}

// goodbye returns the 1001 close frame for a stopping server.
func (st *conn) goodbye() []byte {
	return st.farewell(CloseGoingAway, "server going away")
}

// farewell returns the close frame (with code and reason) that ends the
// connection, after whatever the handshake left queued; nil if a close
// frame was sent already or the connection is not open.
func (st *conn) farewell(code int, reason string) []byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	if (st.phase != phaseOpen && st.phase != phaseDraining) || st.closeSent {
		return nil
	}
	st.closeSent = true
	st.recordLocked(code, reason)
	// While draining, the lane is still moving the messages queued during
	// the handshake; they go out here, before the close frame, since the
	// connection closes right after.
	var b []byte
	if st.ext != nil {
		b = st.ext.pending
		st.ext.pending = nil
	}
	return appendFrame(b, ws.OpClose, false, closePayload(code, reason), st.mask())
}

// end runs when the connection is gone.
func (st *conn) end() {
	st.mu.Lock()
	if st.phase == phaseOpen || st.phase == phaseDraining {
		st.recordLocked(CloseAbnormal, "")
	}
	st.ended = true
	if st.ext != nil {
		if st.ext.beat != nil {
			st.ext.beat.Stop()
			st.ext.beat = nil
		}
		st.ext.pending = nil
		st.ext.head = "" // RequestOf is for open connections
		st.tidyLocked()
	}
	st.mu.Unlock()
	st.part = nil
}
