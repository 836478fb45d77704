package websocket

// The read path: frame headers and payload pieces framed for core, messages
// reassembled, control frames acted on.

import (
	"errors"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

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
	h, size, ok, code, reason := parseHeader(buf)
	if !ok {
		return 0, nil
	}
	if code == 0 {
		code, reason = st.check(c, h)
	}
	if code != 0 {
		return 0, st.fail(c, code, reason)
	}
	return size, nil
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
	if int64(len(st.partMsg()))+h.length > int64(maxMessage(c)) {
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
	if !st.seen.Load() {
		st.seen.Store(true)
	}
	if !st.inFrame {
		h, _, _, _, _ := parseHeader(pkg)
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
		return st.frameDone(c, st.partMsg())
	}
	h := &st.fh
	control := h.op&0x8 != 0
	if st.fpos == 0 && int64(len(pkg)) == h.length && (control || h.fin && len(st.partMsg()) == 0) {
		// A whole control frame or single-frame message in one piece:
		// unmask it where it is, in core's buffer.
		if h.masked {
			ws.Cipher(pkg, h.mask, 0)
		}
		st.fpos = h.length
		st.inFrame = false
		return st.frameDone(c, pkg)
	}
	if st.part == nil {
		st.part = &partial{}
	}
	if control {
		st.unmaskTo(&st.part.ctrl, pkg)
	} else {
		st.unmaskTo(&st.part.msg, pkg)
		if st.msgOp == ws.OpText && !st.msgComp && !st.part.checkUTF8() {
			return nil, st.fail(c, CloseInvalidPayload, "text message is not valid UTF-8")
		}
	}
	st.fpos += int64(len(pkg))
	if st.fpos < h.length {
		return nil, core.ErrSkip
	}
	st.inFrame = false
	if control {
		return st.frameDone(c, st.part.ctrl)
	}
	return st.frameDone(c, st.part.msg)
}

// partMsg returns the message assembled so far.
func (st *conn) partMsg() []byte {
	if st.part == nil {
		return nil
	}
	return st.part.msg
}

// dropCtrl forgets a control frame's pieces once it is acted on.
func (st *conn) dropCtrl() {
	if st.part != nil {
		st.part.ctrl = nil
		if st.part.msg == nil {
			st.part = nil
		}
	}
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
	if h.op&0x8 != 0 {
		st.observe(c, false, h.op)
	}
	switch h.op {
	case ws.OpPing:
		st.sendControl(c, ws.OpPong, payload)
		st.dropCtrl()
		return nil, core.ErrSkip
	case ws.OpPong:
		st.dropCtrl()
		st.pinged.Store(false)
		return nil, core.ErrSkip
	case ws.OpClose:
		err := st.peerClosed(c, payload)
		st.dropCtrl()
		return nil, err
	}
	if !h.fin {
		return nil, core.ErrSkip
	}
	op, comp := st.msgOp, st.msgComp
	st.msgOp, st.msgComp = 0, false
	valid := 0 // bytes of payload found valid UTF-8 as they came
	if st.part != nil {
		if !comp {
			valid = min(st.part.valid, len(payload))
		}
		// The message goes to OnMessage and is then garbage: a buffer kept
		// for the next one would stay with an idle connection.
		st.part.msg, st.part.valid = nil, 0
		if st.part.ctrl == nil {
			st.part = nil
		}
	}
	if comp {
		var err error
		if payload, err = decompress(payload, maxMessage(c)); err != nil {
			if errors.Is(err, errInflateLimit) {
				return nil, st.fail(c, CloseMessageTooBig, "message too big")
			}
			return nil, st.fail(c, CloseInvalidPayload, "invalid compressed data")
		}
	}
	if op == ws.OpText {
		if !utf8.Valid(payload[valid:]) {
			return nil, st.fail(c, CloseInvalidPayload, "text message is not valid UTF-8")
		}
		st.lastBinary = false
	} else {
		st.lastBinary = true
	}
	if payload == nil {
		payload = []byte{}
	}
	st.observe(c, false, op)
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
