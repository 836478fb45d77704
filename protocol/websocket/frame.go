package websocket

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// MessageType is the kind of a data message: text (UTF-8) or binary.
type MessageType int

// Message types. The zero value of a setting means TextMessage.
const (
	TextMessage   MessageType = 1
	BinaryMessage MessageType = 2
)

func (t MessageType) String() string {
	if t == BinaryMessage {
		return "binary"
	}
	return "text"
}

func (t MessageType) opcode() ws.OpCode {
	if t == BinaryMessage {
		return ws.OpBinary
	}
	return ws.OpText
}

// Close status codes (RFC 6455, section 7.4.1). Codes 3000-4999 are free for
// applications.
const (
	CloseNormal             = 1000
	CloseGoingAway          = 1001
	CloseProtocolError      = 1002
	CloseUnsupportedData    = 1003
	CloseNoStatus           = 1005 // never sent: the peer's close frame had no code
	CloseAbnormal           = 1006 // never sent: the connection ended without a close frame
	CloseInvalidPayload     = 1007
	ClosePolicyViolation    = 1008
	CloseMessageTooBig      = 1009
	CloseMandatoryExtension = 1010
	CloseInternalError      = 1011
)

const (
	maxControlPayload = 125
	maxHeaderSize     = 14
	bitFin            = 0x80
	bitRsv1           = 0x40
	bitRsv2           = 0x20
	bitRsv3           = 0x10
	bitMask           = 0x80
)

// header is one parsed frame header. It is kept in every connection's
// state, so it is packed into 16 bytes.
type header struct {
	length int64
	mask   [4]byte
	op     ws.OpCode
	fin    bool
	rsv1   bool
	masked bool
}

// parseHeader parses the frame header at the start of b and returns it
// with its size in bytes. It returns ok=false when b does not hold the
// whole header yet, and a close code with a reason when the header can
// never be valid (structure only: the connection's state is checked by the
// caller).
func parseHeader(b []byte) (h header, size int, ok bool, code int, reason string) {
	if len(b) < 2 {
		return h, 0, false, 0, ""
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&bitFin != 0
	h.rsv1 = b0&bitRsv1 != 0
	h.op = ws.OpCode(b0 & 0x0f)
	h.masked = b1&bitMask != 0
	size = 2
	n := int64(b1 & 0x7f)
	switch n {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h.masked {
		size += 4
	}
	if len(b) < size {
		return h, size, false, 0, ""
	}
	if b0&(bitRsv2|bitRsv3) != 0 {
		return h, size, true, CloseProtocolError, "reserved bits set"
	}
	switch h.op {
	case ws.OpContinuation, ws.OpText, ws.OpBinary:
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if !h.fin {
			return h, size, true, CloseProtocolError, "fragmented control frame"
		}
		if n > maxControlPayload {
			return h, size, true, CloseProtocolError, "control frame payload over 125 bytes"
		}
	default:
		return h, size, true, CloseProtocolError, "reserved opcode"
	}
	off := 2
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(b[2:]))
		if n < 126 {
			return h, size, true, CloseProtocolError, "length not minimally encoded"
		}
		off += 2
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return h, size, true, CloseProtocolError, "length has its most significant bit set"
		}
		if u <= 0xffff {
			return h, size, true, CloseProtocolError, "length not minimally encoded"
		}
		n = int64(u)
		off += 8
	}
	h.length = n
	if h.masked {
		copy(h.mask[:], b[off:off+4])
	}
	return h, size, true, 0, ""
}

// appendHeader appends a frame header for a payload of n bytes.
func appendHeader(dst []byte, op ws.OpCode, fin, rsv1 bool, n int, mask *[4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	if rsv1 {
		b0 |= bitRsv1
	}
	var b1 byte
	if mask != nil {
		b1 = bitMask
	}
	switch {
	case n < 126:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if mask != nil {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// appendFrame appends one whole frame carrying payload, masked when mask is
// not nil.
func appendFrame(dst []byte, op ws.OpCode, rsv1 bool, payload []byte, mask *[4]byte) []byte {
	dst = appendHeader(dst, op, true, rsv1, len(payload), mask)
	start := len(dst)
	dst = append(dst, payload...)
	if mask != nil {
		ws.Cipher(dst[start:], *mask, 0)
	}
	return dst
}

// closePayload builds a close frame's payload: the code, then the reason,
// cut to fit 125 bytes on a UTF-8 boundary.
func closePayload(code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus || code == CloseAbnormal {
		return nil
	}
	const max = maxControlPayload - 2
	if len(reason) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	return append(p, reason...)
}

// validCloseCode reports whether a peer may send code in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
