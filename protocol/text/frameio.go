package text

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/shunhui19/goes/core"
)

// WriteFrame writes data to w as one frame, in a single Write call. It is
// meant for clients of a frame server and for tests.
func WriteFrame(w io.Writer, data []byte) error {
	var f Frame
	n, err := f.frameLen(len(data))
	if err != nil {
		return err
	}
	buf, _ := f.Encode(nil, make([]byte, 0, n), data)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame from r and returns its payload. It refuses a
// frame whose payload is longer than max bytes before reading the payload,
// so a peer cannot make it allocate more than max bytes. At a clean end of
// stream it returns io.EOF; a frame cut short is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < HeaderSize {
		return nil, &core.ProtocolError{Protocol: "frame", Reason: fmt.Sprintf("frame length %d is shorter than its %d-byte header", n, HeaderSize)}
	}
	size := uint64(n) - HeaderSize
	if max < 0 || size > uint64(max) {
		return nil, fmt.Errorf("%w: frame payload of %d bytes over the limit of %d", core.ErrPackageTooLarge, size, max)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return payload, nil
}
