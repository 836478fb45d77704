package text

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shunhui19/goes/core"
)

// HeaderSize is the length of a frame's header.
const HeaderSize = 4

// MaxFrameLen is the longest frame a 4-byte header can announce, header included.
const MaxFrameLen = math.MaxUint32

// Frame is the length-prefixed binary protocol: every package starts with a
// 4-byte big-endian length that counts the whole frame, the header included,
// followed by the payload. A frame with an empty payload is 00 00 00 04.
//
// The zero value is ready to use. A Frame is safe for concurrent use by any
// number of connections as long as its fields are not changed.
type Frame struct {
	// MaxFrameSize, when positive, is the longest frame accepted, header
	// included. A frame announcing more is refused from its header. Zero
	// leaves the limit to the connection's MaxPackageSize.
	MaxFrameSize int
}

// NewFrame returns a frame protocol that relies on the connection's
// MaxPackageSize.
func NewFrame() *Frame { return &Frame{} }

// Name returns "frame".
func (f *Frame) Name() string { return "frame" }

// Input returns the frame length announced by the header, or 0 while fewer
// than 4 bytes are buffered. A length below 4 is a *core.ProtocolError; a
// length above MaxFrameSize (or above what an int holds) is an error wrapping
// core.ErrPackageTooLarge. Input does not wait for the payload: core does.
func (f *Frame) Input(_ core.Connection, buf []byte) (int, error) {
	if len(buf) < HeaderSize {
		return 0, nil
	}
	n := uint64(binary.BigEndian.Uint32(buf))
	if n < HeaderSize {
		return 0, &core.ProtocolError{Protocol: "frame", Reason: fmt.Sprintf("frame length %d is shorter than its %d-byte header", n, HeaderSize)}
	}
	if (f.MaxFrameSize > 0 && n > uint64(f.MaxFrameSize)) || n > math.MaxInt {
		return 0, fmt.Errorf("%w: frame of %d bytes over the limit of %d", core.ErrPackageTooLarge, n, f.limit())
	}
	return int(n), nil
}

func (f *Frame) limit() uint64 {
	if f.MaxFrameSize > 0 {
		return uint64(f.MaxFrameSize)
	}
	return math.MaxInt
}

// Decode returns the payload of a whole frame. The result aliases pkg.
func (f *Frame) Decode(_ core.Connection, pkg []byte) ([]byte, error) {
	if len(pkg) < HeaderSize {
		return nil, &core.ProtocolError{Protocol: "frame", Reason: fmt.Sprintf("frame of %d bytes is shorter than its header", len(pkg))}
	}
	return pkg[HeaderSize:], nil
}

// Encode appends the header and data to dst. It refuses, with an error
// wrapping core.ErrPackageTooLarge, data whose frame would be longer than
// MaxFrameSize or than a 4-byte header can announce.
func (f *Frame) Encode(_ core.Connection, dst, data []byte) ([]byte, error) {
	n, err := f.frameLen(len(data))
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	return append(dst, data...), nil
}

// frameLen returns the length of the frame carrying a payload of size bytes.
func (f *Frame) frameLen(size int) (uint64, error) {
	n := uint64(size) + HeaderSize
	if n > MaxFrameLen || (f.MaxFrameSize > 0 && n > uint64(f.MaxFrameSize)) {
		return 0, fmt.Errorf("%w: frame of %d bytes over the limit of %d", core.ErrPackageTooLarge, n, min(f.limit(), MaxFrameLen))
	}
	return n, nil
}
