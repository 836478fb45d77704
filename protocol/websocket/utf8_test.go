package websocket

import (
	"testing"
	"unicode/utf8"
)

// canStartUTF8 is the reference for utf8Prefix: b is valid, or becomes
// valid with one to three more bytes (each continuation byte taken at the
// edges of the ranges UTF-8 allows after a leading byte).
func canStartUTF8(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	edges := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	var try func(b []byte, more int) bool
	try = func(b []byte, more int) bool {
		for _, e := range edges {
			c := append(b[:len(b):len(b)], e)
			if utf8.Valid(c) || more > 1 && try(c, more-1) {
				return true
			}
		}
		return false
	}
	return try(b, 3)
}

// TestUTF8Prefix: utf8Prefix agrees with the reference on every string of
// one and two bytes and on a prefix byte before each, and the bytes it
// calls whole are valid.
func TestUTF8Prefix(t *testing.T) {
	check := func(b []byte) {
		n, ok := utf8Prefix(b)
		if want := canStartUTF8(b); ok != want {
			t.Fatalf("%x: %v, want %v", b, ok, want)
		}
		if ok && (!utf8.Valid(b[:n]) || len(b)-n >= utf8.UTFMax) {
			t.Fatalf("%x: %d bytes called whole", b, n)
		}
	}
	for x := 0; x < 256; x++ {
		check([]byte{byte(x)})
		for y := 0; y < 256; y++ {
			check([]byte{byte(x), byte(y)})
			check([]byte{'a', byte(x), byte(y)})
		}
	}
	for _, s := range []string{"\xf0\x9f\x98", "\xf4\x8f\xbf", "\xf4\x90\x80", "\xe0\xa0", "\xe0\x9f", "\xed\x9f\xbf", "\xed\xa0\x80"} {
		check([]byte(s))
	}
}

// TestCheckUTF8Split: valid text split anywhere, checked piece by piece,
// never fails, and invalid text fails by the piece that makes it invalid.
func TestCheckUTF8Split(t *testing.T) {
	text := []byte("aé😀€ b\u07ff\u0800\uffff\U00010000\U0010ffff")
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			var p partial
			for _, piece := range [][]byte{text[:i], text[i:j], text[j:]} {
				p.msg = append(p.msg, piece...)
				if !p.checkUTF8() {
					t.Fatalf("split at %d and %d: refused", i, j)
				}
			}
			if p.valid != len(text) {
				t.Fatalf("split at %d and %d: %d of %d bytes checked", i, j, p.valid, len(text))
			}
		}
	}
	bad := append(text[:len(text):len(text)], 0xc3, 0x28)
	for i := 0; i <= len(bad); i++ {
		var p partial
		p.msg = append(p.msg, bad[:i]...)
		if ok := p.checkUTF8(); ok != (i < len(bad)) {
			t.Fatalf("first %d of %d bytes: %v", i, len(bad), ok)
		}
	}
}
