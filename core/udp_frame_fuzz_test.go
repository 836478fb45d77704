package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// lenPrefixed is a protocol whose packages carry a 2-byte length of their
// body: a datagram can announce more than it holds.
type lenPrefixed struct{}

func (lenPrefixed) Input(_ Connection, b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	n := 2 + int(binary.BigEndian.Uint16(b))
	if n > 1000 {
		return 0, ErrPackageTooLarge
	}
	return n, nil
}

func (lenPrefixed) Decode(_ Connection, p []byte) ([]byte, error) {
	if len(p) == 2 {
		return nil, ErrSkip // an empty package carries no message
	}
	return p[2:], nil
}

func (lenPrefixed) Encode(_ Connection, dst, d []byte) ([]byte, error) {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(d))), d...), nil
}

// newlines is a protocol of newline-terminated lines that rejects "bad".
type newlines struct{}

func (newlines) Input(_ Connection, b []byte) (int, error) {
	return bytes.IndexByte(b, '\n') + 1, nil
}

func (newlines) Decode(_ Connection, p []byte) ([]byte, error) {
	if string(p) == "bad\n" {
		return nil, errors.New("bad line")
	}
	return p[:len(p)-1], nil
}

func (newlines) Encode(_ Connection, dst, d []byte) ([]byte, error) {
	return append(append(dst, d...), '\n'), nil
}

// FuzzFrameDatagram: whatever a peer sends, framing a datagram never
// panics, delivers only bytes of the datagram, in order, and either
// consumes it whole or reports an error; a datagram of encoded messages
// gives them back.
func FuzzFrameDatagram(f *testing.F) {
	for _, s := range []string{"", "a\n", "a\nb\n", "no newline", "bad\n", "a\nbad\nc\n", "\n\n",
		"\x00\x01x", "\x00\x05short", "\x00\x00\x00\x01y", "\xff\xffbig", "\x00"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, d []byte, prefixed bool) {
		var p Protocol = newlines{}
		if prefixed {
			p = lenPrefixed{}
		}
		var msgs [][]byte
		err := frameDatagram(p, nil, d, func(m []byte) bool {
			msgs = append(msgs, append([]byte(nil), m...))
			return true
		})
		// Re-encoding what was delivered gives a prefix of the datagram
		// (all of it when there was no error), packages that were
		// skipped aside.
		if prefixed {
			rest := d
			for _, m := range msgs {
				for len(rest) >= 2 && binary.BigEndian.Uint16(rest) == 0 {
					rest = rest[2:] // a skipped empty package
				}
				pkg, _ := p.Encode(nil, nil, m)
				if !bytes.HasPrefix(rest, pkg) {
					t.Fatalf("message %q is not the next package of %q", m, rest)
				}
				rest = rest[len(pkg):]
			}
			for len(rest) >= 2 && binary.BigEndian.Uint16(rest) == 0 {
				rest = rest[2:]
			}
			if err == nil && len(rest) != 0 {
				t.Fatalf("no error, %d bytes left of %q", len(rest), d)
			}
			return
		}
		var again []byte
		for _, m := range msgs {
			again, _ = p.Encode(nil, again, m)
		}
		if !bytes.HasPrefix(d, again) {
			t.Fatalf("messages %q are not the datagram %q", msgs, d)
		}
		if err == nil && len(again) != len(d) {
			t.Fatalf("no error, %d of %d bytes delivered", len(again), len(d))
		}
	})
}

// The raw case and a deliver that stops.
func TestFrameDatagramRawAndStop(t *testing.T) {
	var got []string
	if err := frameDatagram(nil, nil, []byte("whole\nthing\n"), func(m []byte) bool { got = append(got, string(m)); return true }); err != nil || len(got) != 1 {
		t.Fatalf("raw: %q %v", got, err)
	}
	got = nil
	if err := frameDatagram(newlines{}, nil, []byte("a\nb\nc\n"), func(m []byte) bool { got = append(got, string(m)); return len(got) < 2 }); err != nil || len(got) != 2 {
		t.Fatalf("stop: %q %v", got, err)
	}
}
