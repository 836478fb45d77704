package websocket

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/core/timer"
)

const (
	phaseHandshake = iota // waiting for the opening handshake
	phaseDraining         // 101 queued; flushing what was sent meanwhile
	phaseOpen             // frames flow
	phaseHTTP             // a plain HTTP request was answered
	phaseFailed           // the handshake was refused
)

const keepMessageCap = 64 << 10 // message buffers up to this size are reused

// conn is one connection's WebSocket state. The read side (frame parsing,
// the message being assembled) belongs to the connection's lane; mu guards
// what senders on other goroutines touch.
type conn struct {
	p      *Protocol
	client bool // frames we send are masked, frames we read must not be

	// read side: the lane only
	inFrame bool   // the next package is payload of fh
	fh      header // the frame being read
	fpos    int64  // payload bytes of fh read so far
	ctrl    []byte // payload of a control frame
	msgOp   ws.OpCode
	msgComp bool
	msg     []byte
	last    MessageType
	req     *http.Request
	subp    string
	inflate *wsflate.Reader

	// send side and shared state, guarded by mu
	mu          sync.Mutex
	phase       int
	sendType    MessageType
	deflate     bool
	pending     []byte
	closeSent   bool
	closeCode   int
	closeReason string
	ended       bool
	hbTimer     *timer.Timer
	hbTask      timer.TaskID

	seen   atomic.Bool // a frame arrived since the last heartbeat tick
	pinged atomic.Bool // a heartbeat ping is unanswered
}

func newConn(p *Protocol, client bool) *conn {
	st := &conn{p: p, client: client, sendType: p.SendType}
	if client {
		st.phase = phaseOpen
	}
	return st
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

func (st *conn) getPhase() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.phase
}

// input tells core how long the next package is.
func (st *conn) input(c core.Connection, buf []byte) (int, error) {
	switch st.phase { // only the lane writes phase
	case phaseHandshake:
		return st.inputHandshake(c, buf)
	case phaseDraining, phaseOpen:
	default:
		return 0, ErrNotOpen
	}
	if st.inFrame {
		rest := st.fh.length - st.fpos
		if int64(len(buf)) < rest {
			return len(buf), nil
		}
		return int(rest), nil
	}
	h, ok, code, reason := parseHeader(buf)
	if !ok {
		return 0, nil
	}
	if code == 0 {
		code, reason = st.check(c, h)
	}
	if code != 0 {
		return 0, st.fail(c, code, reason)
	}
	return h.size, nil
}

// check validates a frame header against the connection's state.
func (st *conn) check(c core.Connection, h header) (int, string) {
	if h.masked == st.client {
		if st.client {
			return CloseProtocolError, "masked frame from the server"
		}
		return CloseProtocolError, "unmasked frame from the client"
	}
	control := h.op&0x8 != 0
	if h.rsv1 {
		st.mu.Lock()
		deflate := st.deflate
		st.mu.Unlock()
		if !deflate || control || h.op == ws.OpContinuation {
			return CloseProtocolError, "unexpected RSV1 bit"
		}
	}
	if control {
		return 0, ""
	}
	if h.op == ws.OpContinuation {
		if st.msgOp == 0 {
			return CloseProtocolError, "continuation frame without a message"
		}
	} else if st.msgOp != 0 {
		return CloseProtocolError, "new message before the previous one ended"
	}
	if int64(len(st.msg))+h.length > int64(maxMessage(c)) {
		return CloseMessageTooBig, "message too big"
	}
	return 0, ""
}

// decode consumes one package: a handshake, a frame header or a piece of
// payload.
func (st *conn) decode(c core.Connection, pkg []byte) ([]byte, error) {
	switch st.phase {
	case phaseHandshake:
		return nil, st.handshake(c, pkg)
	case phaseDraining, phaseOpen:
	default:
		return nil, ErrNotOpen
	}
	st.seen.Store(true)
	if !st.inFrame {
		h, _, _, _ := parseHeader(pkg)
		st.fh, st.fpos = h, 0
		if h.op&0x8 == 0 && h.op != ws.OpContinuation {
			st.msgOp, st.msgComp = h.op, h.rsv1
		}
		if h.length > 0 {
			st.inFrame = true
			return nil, core.ErrSkip
		}
		if h.op&0x8 != 0 {
			return st.frameDone(c, nil)
		}
		return st.frameDone(c, st.msg)
	}
	h := &st.fh
	if h.op&0x8 != 0 {
		st.unmaskTo(&st.ctrl, pkg)
	} else if h.fin && st.fpos == 0 && len(st.msg) == 0 && int64(len(pkg)) == h.length {
		// a whole single-frame message in one piece: unmask it where it is
		if h.masked {
			ws.Cipher(pkg, h.mask, 0)
		}
		st.fpos = h.length
		st.inFrame = false
		return st.frameDone(c, pkg)
	} else {
		st.unmaskTo(&st.msg, pkg)
	}
	st.fpos += int64(len(pkg))
	if st.fpos < h.length {
		return nil, core.ErrSkip
	}
	st.inFrame = false
	if h.op&0x8 != 0 {
		return st.frameDone(c, st.ctrl)
	}
	return st.frameDone(c, st.msg)
}

func (st *conn) unmaskTo(dst *[]byte, pkg []byte) {
	n := len(*dst)
	*dst = append(*dst, pkg...)
	if st.fh.masked {
		ws.Cipher((*dst)[n:], st.fh.mask, int(st.fpos))
	}
}

// frameDone acts on a complete frame. For a data frame, payload is the
// message so far.
func (st *conn) frameDone(c core.Connection, payload []byte) ([]byte, error) {
	h := &st.fh
	switch h.op {
	case ws.OpPing:
		st.ctrl = st.ctrl[:0]
		st.sendControl(c, ws.OpPong, payload)
		return nil, core.ErrSkip
	case ws.OpPong:
		st.ctrl = st.ctrl[:0]
		st.pinged.Store(false)
		return nil, core.ErrSkip
	case ws.OpClose:
		st.ctrl = st.ctrl[:0]
		return nil, st.peerClosed(c, payload)
	}
	if !h.fin {
		return nil, core.ErrSkip
	}
	op, comp := st.msgOp, st.msgComp
	st.msgOp, st.msgComp = 0, false
	if cap(st.msg) > keepMessageCap {
		st.msg = nil
	} else {
		st.msg = st.msg[:0]
	}
	if comp {
		var err error
		if payload, err = st.decompress(payload, maxMessage(c)); err != nil {
			if errors.Is(err, errInflateLimit) {
				return nil, st.fail(c, CloseMessageTooBig, "message too big")
			}
			return nil, st.fail(c, CloseInvalidPayload, "invalid compressed data")
		}
	}
	if op == ws.OpText {
		if !utf8.Valid(payload) {
			return nil, st.fail(c, CloseInvalidPayload, "text message is not valid UTF-8")
		}
		st.last = TextMessage
	} else {
		st.last = BinaryMessage
	}
	if payload == nil {
		payload = []byte{}
	}
	return payload, nil
}

// peerClosed answers the peer's close frame and closes the connection.
func (st *conn) peerClosed(c core.Connection, payload []byte) error {
	code, reason := CloseNoStatus, ""
	switch {
	case len(payload) == 1:
		return st.fail(c, CloseProtocolError, "close payload of one byte")
	case len(payload) >= 2:
		code = int(payload[0])<<8 | int(payload[1])
		if !validCloseCode(code) {
			return st.fail(c, CloseProtocolError, "invalid close code")
		}
		if !utf8.Valid(payload[2:]) {
			return st.fail(c, CloseInvalidPayload, "close reason is not valid UTF-8")
		}
		reason = string(payload[2:])
	}
	st.mu.Lock()
	st.recordLocked(code, reason)
	st.mu.Unlock()
	echo := code
	if echo == CloseNoStatus {
		echo = CloseNormal
	}
	st.sendClose(c, echo, "")
	c.Close("")
	return core.ErrSkip
}

// fail sends a close frame with code and returns the error that makes core
// close the connection.
func (st *conn) fail(c core.Connection, code int, reason string) error {
	st.sendClose(c, code, reason)
	return closeError(code, reason)
}

// recordLocked keeps the first close status seen (sent or received).
func (st *conn) recordLocked(code int, reason string) {
	if st.closeCode == 0 {
		st.closeCode, st.closeReason = code, reason
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
	return st.sendFrame(c, op == ws.OpClose, func(dst []byte) []byte {
		return appendFrame(dst, op, false, payload, st.mask())
	})
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

// sendFrame sends the frame built by build as raw bytes, or queues it while
// the handshake is under way. A close frame is the last one.
func (st *conn) sendFrame(c core.Connection, isClose bool, build func(dst []byte) []byte) error {
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
		before := len(st.pending)
		st.pending = build(st.pending)
		if len(st.pending) > orInt(st.p.MaxPendingSize, DefaultMaxPendingSize) {
			st.pending = st.pending[:before]
			st.mu.Unlock()
			return ErrPendingFull
		}
		st.mu.Unlock()
		return nil
	case phaseOpen:
	default:
		st.mu.Unlock()
		return ErrNotOpen
	}
	if isClose {
		st.closeSent = true
	}
	st.mu.Unlock()
	return c.SendBytes(build(nil), true)
}

// encode frames data as one message of the connection's send type; core
// holds the connection's send lock.
func (st *conn) encode(dst, data []byte) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.appendMessageLocked(dst, st.sendType.opcode(), data)
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
		before := len(st.pending)
		st.pending = st.appendData(st.pending, op, data)
		if len(st.pending) > orInt(st.p.MaxPendingSize, DefaultMaxPendingSize) {
			st.pending = st.pending[:before]
			return dst, ErrPendingFull
		}
		return dst, nil
	}
	return dst, ErrNotOpen
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
		p := st.pending
		st.pending = nil
		if len(p) == 0 {
			st.phase = phaseOpen
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
// frame was sent already or the connection is not a server's open one.
func (st *conn) farewell(code int, reason string) []byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	if (st.phase != phaseOpen && st.phase != phaseDraining) || st.closeSent || st.client {
		return nil
	}
	st.closeSent = true
	st.recordLocked(code, reason)
	// While draining, the lane is still moving the messages queued during
	// the handshake; they go out here, before the close frame, since the
	// connection closes right after.
	b := st.pending
	st.pending = nil
	return appendFrame(b, ws.OpClose, false, closePayload(code, reason), nil)
}

// end runs when the connection is gone.
func (st *conn) end() {
	st.mu.Lock()
	if st.phase == phaseOpen || st.phase == phaseDraining {
		st.recordLocked(CloseAbnormal, "")
	}
	st.ended = true
	tm, id := st.hbTimer, st.hbTask
	st.hbTimer, st.hbTask = nil, 0
	st.pending = nil
	st.mu.Unlock()
	if tm != nil {
		tm.Del(id)
	}
	st.msg, st.ctrl = nil, nil
}

// The deflate helpers: permessage-deflate without context takeover, so each
// message is compressed on its own.

var errInflateLimit = errors.New("goes: websocket: decompressed message too big")

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	w := wsflate.NewWriter(&buf, func(w io.Writer) wsflate.Compressor {
		fw.Reset(w)
		return fw
	})
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// limitWriter collects output up to max bytes.
type limitWriter struct {
	buf []byte
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		return 0, errInflateLimit
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (st *conn) decompress(p []byte, max int) ([]byte, error) {
	src := bytes.NewReader(p)
	if st.inflate == nil {
		st.inflate = wsflate.NewReader(src, func(r io.Reader) wsflate.Decompressor {
			return flate.NewReader(r)
		})
	} else {
		st.inflate.Reset(src)
	}
	w := &limitWriter{max: max}
	if _, err := io.Copy(w, st.inflate); err != nil {
		return nil, err
	}
	if w.buf == nil {
		w.buf = []byte{}
	}
	return w.buf, nil
}
