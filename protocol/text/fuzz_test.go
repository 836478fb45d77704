package text_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

func FuzzTextInput(f *testing.F) {
	f.Add([]byte("hello\n"), uint16(0), uint(3))
	f.Add([]byte("hello\r\nworld\r\n"), uint16(0), uint(7))
	f.Add([]byte("\n\n\r\n"), uint16(1), uint(1))
	f.Add([]byte("no newline at all"), uint16(5), uint(0))
	f.Add([]byte("abcd\nef"), uint16(4), uint(2))
	f.Add([]byte("\r\r\r\n"), uint16(0), uint(100))
	f.Fuzz(func(t *testing.T, buf []byte, maxLine uint16, cut uint) {
		max := int(maxLine)
		p := &text.Text{MaxLineSize: max}
		n, err := p.Input(nil, buf)
		first := bytes.IndexByte(buf, '\n')
		switch {
		case err != nil:
			if !errors.Is(err, core.ErrPackageTooLarge) || max == 0 || len(buf) < max || (first >= 0 && first < max) {
				t.Fatalf("Input(%q) with max %d: unexpected error %v", buf, max, err)
			}
		case n == 0:
			if first >= 0 || (max > 0 && len(buf) >= max) {
				t.Fatalf("Input(%q) with max %d = 0, want a line or an error", buf, max)
			}
		default:
			if n != first+1 || (max > 0 && n > max) {
				t.Fatalf("Input(%q) with max %d = %d; first newline at %d", buf, max, n, first)
			}
			msg, err := p.Decode(nil, buf[:n])
			if err != nil || !bytes.HasPrefix(buf, msg) || len(msg) < n-2 || bytes.IndexByte(msg, '\n') >= 0 {
				t.Fatalf("Decode(%q) = %q, %v", buf[:n], msg, err)
			}
		}

		// Round trip: any line without "\n" and without a trailing "\r"
		// comes back as it was sent.
		line := bytes.TrimRight(bytes.ReplaceAll(buf, []byte("\n"), nil), "\r")
		enc, err := text.New().Encode(nil, nil, line)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := text.New().Input(nil, enc); err != nil || n != len(enc) {
			t.Fatalf("Input(Encode(%q)) = %d, %v; want %d", line, n, err, len(enc))
		}
		if dec, _ := text.New().Decode(nil, enc); !bytes.Equal(dec, line) {
			t.Fatalf("Decode(Encode(%q)) = %q", line, dec)
		}

		// How the stream is split into reads does not change the lines.
		checkSplit(t, p, buf, cut)
	})
}

func FuzzFrameInput(f *testing.F) {
	f.Add(frame(4, ""), uint16(0), uint(2))
	f.Add(frame(9, "hello"), uint16(0), uint(5))
	f.Add(append(frame(5, "a"), frame(6, "bc")...), uint16(16), uint(1))
	f.Add(frame(3, "xyz"), uint16(0), uint(0))
	f.Add(frame(0xffffffff, "big"), uint16(100), uint(4))
	f.Add([]byte{0, 0, 1}, uint16(0), uint(1))
	f.Fuzz(func(t *testing.T, buf []byte, maxFrame uint16, cut uint) {
		max := int(maxFrame)
		p := &text.Frame{MaxFrameSize: max}
		n, err := p.Input(nil, buf)
		if len(buf) < text.HeaderSize {
			if n != 0 || err != nil {
				t.Fatalf("Input(% x) = %d, %v; want 0, nil", buf, n, err)
			}
			return
		}
		declared := uint64(binary.BigEndian.Uint32(buf))
		var perr *core.ProtocolError
		switch {
		case declared < text.HeaderSize:
			if !errors.As(err, &perr) {
				t.Fatalf("Input(% x) = %d, %v; want *core.ProtocolError", buf, n, err)
			}
		case max > 0 && declared > uint64(max):
			if !errors.Is(err, core.ErrPackageTooLarge) {
				t.Fatalf("Input(% x) with max %d = %d, %v; want ErrPackageTooLarge", buf, max, n, err)
			}
		default:
			if err != nil || uint64(n) != declared {
				t.Fatalf("Input(% x) = %d, %v; want %d", buf, n, err, declared)
			}
			if n <= len(buf) {
				msg, err := p.Decode(nil, buf[:n])
				if err != nil || !bytes.Equal(msg, buf[text.HeaderSize:n]) {
					t.Fatalf("Decode(% x) = % x, %v", buf[:n], msg, err)
				}
			}
		}

		// ReadFrame agrees with Input and never returns more than max.
		payload, rerr := text.ReadFrame(bytes.NewReader(buf), max)
		if rerr == nil {
			if declared < text.HeaderSize || len(payload) > max || !bytes.Equal(payload, buf[text.HeaderSize:declared]) {
				t.Fatalf("ReadFrame(% x, %d) = % x", buf, max, payload)
			}
		}

		// Round trip of any payload.
		enc, err := text.NewFrame().Encode(nil, nil, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := text.NewFrame().Input(nil, enc); err != nil || n != len(enc) {
			t.Fatalf("Input(Encode(% x)) = %d, %v; want %d", buf, n, err, len(enc))
		}
		if dec, _ := text.NewFrame().Decode(nil, enc); !bytes.Equal(dec, buf) {
			t.Fatalf("Decode(Encode(% x)) = % x", buf, dec)
		}
		if got, err := text.ReadFrame(bytes.NewReader(enc), len(buf)); err != nil || !bytes.Equal(got, buf) {
			t.Fatalf("ReadFrame(Encode(% x)) = % x, %v", buf, got, err)
		}

		checkSplit(t, p, buf, cut)
	})
}

// checkSplit decodes stream whole, in two reads cut at cut, and byte by byte
// (for short streams), and wants the same messages, rest and error each time.
func checkSplit(t *testing.T, p core.Protocol, stream []byte, cut uint) {
	t.Helper()
	wantMsgs, wantRest, wantErr := splitAll(p, stream, 0)
	cut %= uint(len(stream) + 1)
	f := &framer{p: p}
	err := f.feed(stream[:cut])
	if err == nil {
		err = f.feed(stream[cut:])
	}
	same := func(msgs []string, rest []byte, err error) bool {
		if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(msgs, wantMsgs) {
			return false
		}
		return err != nil || bytes.Equal(rest, wantRest)
	}
	if !same(f.msgs, f.buf, err) {
		t.Fatalf("cut at %d: %q rest %q err %v; whole: %q rest %q err %v", cut, f.msgs, f.buf, err, wantMsgs, wantRest, wantErr)
	}
	if len(stream) <= 256 {
		msgs, rest, err := splitAll(p, stream, 1)
		if !same(msgs, rest, err) {
			t.Fatalf("byte by byte: %q rest %q err %v; whole: %q rest %q err %v", msgs, rest, err, wantMsgs, wantRest, wantErr)
		}
	}
}
