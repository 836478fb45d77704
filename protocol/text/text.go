package text

import (
	"bytes"
	"fmt"

	"github.com/shunhui19/goes/core"
)

// Text is the newline-delimited text protocol: every package is one line
// ended by "\n". A "\r" before the "\n" is dropped too, so nc (which sends
// "\n") and telnet (which sends "\r\n") both work.
//
// The zero value is ready to use. A Text is safe for concurrent use by any
// number of connections as long as its fields are not changed.
type Text struct {
	// MaxLineSize, when positive, is the longest line accepted, counted with
	// its line ending. A longer line is refused as soon as MaxLineSize bytes
	// have arrived without a newline. Zero leaves the limit to the
	// connection's MaxPackageSize.
	MaxLineSize int
}

// New returns a text protocol that relies on the connection's MaxPackageSize.
func New() *Text { return &Text{} }

// Name returns "text".
func (t *Text) Name() string { return "text" }

// Input returns the length of the first line in buf, "\n" included, or 0
// while buf holds no "\n" yet. It returns an error wrapping
// core.ErrPackageTooLarge when MaxLineSize is set and the line is longer.
func (t *Text) Input(c core.Connection, buf []byte) (int, error) {
	return t.InputFrom(c, buf, 0)
}

// InputFrom is Input for a line whose first seen bytes were scanned before
// (core.InputResumer): a long line arriving in small reads is scanned once.
func (t *Text) InputFrom(_ core.Connection, buf []byte, seen int) (int, error) {
	window := buf
	if t.MaxLineSize > 0 && len(window) > t.MaxLineSize {
		window = window[:t.MaxLineSize]
	}
	seen = min(max(seen, 0), len(window))
	if i := bytes.IndexByte(window[seen:], '\n'); i >= 0 {
		return seen + i + 1, nil
	}
	// No newline within the limit: the line cannot end within it either.
	if t.MaxLineSize > 0 && len(buf) >= t.MaxLineSize {
		return 0, fmt.Errorf("%w: text line longer than %d bytes", core.ErrPackageTooLarge, t.MaxLineSize)
	}
	return 0, nil
}

// Decode returns the line without its "\n" or "\r\n". The result aliases pkg.
func (t *Text) Decode(_ core.Connection, pkg []byte) ([]byte, error) {
	if n := len(pkg); n > 0 && pkg[n-1] == '\n' {
		pkg = pkg[:n-1]
		if n := len(pkg); n > 0 && pkg[n-1] == '\r' {
			pkg = pkg[:n-1]
		}
	}
	return pkg, nil
}

// Encode appends data and "\n" to dst. data is sent as it is: a "\n" inside
// it reaches the peer as a line break.
func (t *Text) Encode(_ core.Connection, dst, data []byte) ([]byte, error) {
	dst = append(dst, data...)
	return append(dst, '\n'), nil
}
