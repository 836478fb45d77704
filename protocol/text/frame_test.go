package text_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

var _ core.Protocol = (*text.Frame)(nil)
var _ core.ProtocolNamer = (*text.Frame)(nil)

// frame returns a frame with declared length n followed by body.
func frame(n uint32, body string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), body...)
}

func TestFrameName(t *testing.T) {
	if got := text.NewFrame().Name(); got != "frame" {
		t.Fatalf("Name() = %q, want frame", got)
	}
}

func TestFrameInput(t *testing.T) {
	const (
		ok = iota
		badLength
		tooLarge
	)
	tests := []struct {
		name string
		max  int
		in   []byte
		want int
		fail int
	}{
		{name: "empty buffer", in: nil, want: 0},
		{name: "1 header byte", in: []byte{0}, want: 0},
		{name: "2 header bytes", in: []byte{0, 0}, want: 0},
		{name: "3 header bytes", in: []byte{0xff, 0xff, 0xff}, want: 0},
		{name: "length 0", in: frame(0, ""), fail: badLength},
		{name: "length 1", in: frame(1, ""), fail: badLength},
		{name: "length 2", in: frame(2, "xx"), fail: badLength},
		{name: "length 3", in: frame(3, "xxx"), fail: badLength},
		{name: "empty payload", in: frame(4, ""), want: 4},
		{name: "whole frame", in: frame(7, "abc"), want: 7},
		{name: "header only", in: frame(7, ""), want: 7},
		{name: "partial payload", in: frame(7, "a"), want: 7},
		{name: "two frames", in: frame(5, "a1234"), want: 5},
		{name: "huge declared length", in: frame(math.MaxUint32, ""), want: math.MaxUint32},
		{name: "max: at limit", max: 10, in: frame(10, ""), want: 10},
		{name: "max: one over", max: 10, in: frame(11, ""), fail: tooLarge},
		{name: "max: huge declared", max: 10, in: frame(math.MaxUint32, ""), fail: tooLarge},
		{name: "max: bad length wins", max: 10, in: frame(2, ""), fail: badLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want > math.MaxInt {
				t.Skip("int cannot hold the length on this platform")
			}
			p := &text.Frame{MaxFrameSize: tt.max}
			n, err := p.Input(nil, tt.in)
			var perr *core.ProtocolError
			switch tt.fail {
			case badLength:
				if !errors.As(err, &perr) || perr.Protocol != "frame" {
					t.Fatalf("Input(% x) = %d, %v; want a frame *core.ProtocolError", tt.in, n, err)
				}
			case tooLarge:
				if !errors.Is(err, core.ErrPackageTooLarge) {
					t.Fatalf("Input(% x) = %d, %v; want ErrPackageTooLarge", tt.in, n, err)
				}
			default:
				if err != nil || n != tt.want {
					t.Fatalf("Input(% x) = %d, %v; want %d, nil", tt.in, n, err, tt.want)
				}
			}
		})
	}
}

func TestFrameDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty payload", frame(4, ""), ""},
		{"payload", frame(9, "hello"), "hello"},
		{"binary payload", frame(7, "\x00\n\xff"), "\x00\n\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := text.NewFrame().Decode(nil, tt.in)
			if err != nil || string(got) != tt.want {
				t.Fatalf("Decode(% x) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	t.Run("shorter than header", func(t *testing.T) {
		var perr *core.ProtocolError
		if _, err := text.NewFrame().Decode(nil, []byte{0, 0}); !errors.As(err, &perr) {
			t.Fatalf("Decode of 2 bytes: error %v, want *core.ProtocolError", err)
		}
	})
}

func TestFrameEncode(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		dst, data string
		want      []byte
		tooLarge  bool
	}{
		{name: "empty", want: frame(4, "")},
		{name: "payload", data: "abc", want: frame(7, "abc")},
		{name: "appends to dst", dst: "xy", data: "abc", want: append([]byte("xy"), frame(7, "abc")...)},
		{name: "max: fits", max: 7, data: "abc", want: frame(7, "abc")},
		{name: "max: one over", max: 6, dst: "xy", data: "abc", want: []byte("xy"), tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &text.Frame{MaxFrameSize: tt.max}
			got, err := p.Encode(nil, []byte(tt.dst), []byte(tt.data))
			if tt.tooLarge != errors.Is(err, core.ErrPackageTooLarge) || (err != nil && !tt.tooLarge) {
				t.Fatalf("Encode error = %v, want too large: %v", err, tt.tooLarge)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Encode = % x, want % x", got, tt.want)
			}
		})
	}
}

func TestFrameStream(t *testing.T) {
	var stream []byte
	for _, s := range []string{"one", "", "three", "\x00\x00\x00\x04", "\n"} {
		stream, _ = text.NewFrame().Encode(nil, stream, []byte(s))
	}
	want := []string{"one", "", "three", "\x00\x00\x00\x04", "\n"}
	partial := frame(100, "only part")
	for _, step := range []int{0, 1, 2, 3, 5, 11} {
		t.Run(fmt.Sprintf("step=%d", step), func(t *testing.T) {
			msgs, rest, err := splitAll(text.NewFrame(), append(stream, partial...), step)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(msgs, want) || !bytes.Equal(rest, partial) {
				t.Fatalf("messages %q rest % x; want %q rest % x", msgs, rest, want, partial)
			}
		})
	}
	t.Run("bad length after good frames", func(t *testing.T) {
		msgs, _, err := splitAll(text.NewFrame(), append(frame(5, "a"), frame(3, "")...), 1)
		var perr *core.ProtocolError
		if !errors.As(err, &perr) || !reflect.DeepEqual(msgs, []string{"a"}) {
			t.Fatalf("messages %q error %v; want [a] and a *core.ProtocolError", msgs, err)
		}
	})
	t.Run("declared length over MaxPackageSize", func(t *testing.T) {
		f := &framer{p: text.NewFrame(), maxPackage: 1024}
		if err := f.feed(frame(1025, "")); !errors.Is(err, core.ErrPackageTooLarge) {
			t.Fatalf("error %v, want ErrPackageTooLarge", err)
		}
	})
}

func TestFrameNoAllocs(t *testing.T) {
	p := text.NewFrame()
	pkg := frame(20, "0123456789abcdef")
	dst := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		n, _ := p.Input(nil, pkg)
		msg, _ := p.Decode(nil, pkg[:n])
		dst, _ = p.Encode(nil, dst[:0], msg)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}
