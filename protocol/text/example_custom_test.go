package text_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shunhui19/goes/core"
)

// ShortFrame is a protocol of one's own: a 2-byte big-endian length of the
// payload, then the payload. Any type with Input, Decode and Encode is a
// core.Protocol; Name is optional.
type ShortFrame struct{}

func (ShortFrame) Name() string { return "short-frame" }

// Input tells core how long the first package is, once the header is here.
func (ShortFrame) Input(_ core.Connection, buf []byte) (int, error) {
	if len(buf) < 2 {
		return 0, nil
	}
	return 2 + int(binary.BigEndian.Uint16(buf)), nil
}

// Decode strips the header; the message aliases the package.
func (ShortFrame) Decode(_ core.Connection, pkg []byte) ([]byte, error) {
	return pkg[2:], nil
}

// Encode appends the header and the payload, refusing what 2 bytes cannot announce.
func (ShortFrame) Encode(_ core.Connection, dst, data []byte) ([]byte, error) {
	if len(data) > 0xffff {
		return dst, fmt.Errorf("%w: %d bytes do not fit a short frame", core.ErrPackageTooLarge, len(data))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(data)))
	return append(dst, data...), nil
}

// A server uses its own protocol like a built-in one:
//
//	g := core.NewGoer("127.0.0.1:9000", ShortFrame{}, "tcp")
//
// Here the protocol frames a stream by hand, as core does with every read.
func Example_customProtocol() {
	var p core.Protocol = ShortFrame{}
	var stream []byte
	for _, msg := range []string{"hello", "", "goes"} {
		stream, _ = p.Encode(nil, stream, []byte(msg))
	}
	fmt.Printf("% x\n", stream)

	for len(stream) > 0 {
		n, err := p.Input(nil, stream)
		if err != nil || n == 0 || n > len(stream) {
			break // core would wait for more bytes
		}
		msg, _ := p.Decode(nil, stream[:n])
		fmt.Printf("%s %q\n", core.ProtocolName(p), msg)
		stream = stream[n:]
	}

	_, err := p.Encode(nil, nil, make([]byte, 70000))
	fmt.Println(errors.Is(err, core.ErrPackageTooLarge))
	// Output:
	// 00 05 68 65 6c 6c 6f 00 00 00 04 67 6f 65 73
	// short-frame "hello"
	// short-frame ""
	// short-frame "goes"
	// true
}
