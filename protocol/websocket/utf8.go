package websocket

import "unicode/utf8"

// checkUTF8 checks the bytes of a text message that came since the last
// check, so that a message that cannot be valid UTF-8 fails at once, not
// when its last fragment arrives (RFC 6455 §8.1). It reports false when
// the bytes so far cannot start valid UTF-8.
func (p *partial) checkUTF8() bool {
	n, ok := utf8Prefix(p.msg[p.valid:])
	p.valid += n
	return ok
}

// utf8Prefix reports whether b can start valid UTF-8, and how many of its
// bytes are whole valid characters: a character cut at b's end (at most
// three bytes that may still be completed) is left for the next check.
func utf8Prefix(b []byte) (int, bool) {
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) { // short, and valid as far as it goes
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		return 0, false
	}
	return cut, true
}
