package text_test

import (
	"errors"
	"fmt"

	"github.com/shunhui19/goes/core"
)

// framer does what core does with a protocol on a stream connection: it keeps
// the unconsumed bytes, asks Input (InputFrom, with what it scanned before)
// how long the first package is, refuses packages over maxPackage and hands
// whole packages to Decode.
type framer struct {
	p          core.Protocol
	maxPackage int
	buf        []byte
	msgs       []string
	seen       int // bytes of buf the last Input scanned without a package end
}

// feed adds chunk to the buffer and decodes every whole package in it.
func (f *framer) feed(chunk []byte) error {
	f.buf = append(f.buf, chunk...)
	for len(f.buf) > 0 {
		var n int
		var err error
		if r, ok := f.p.(core.InputResumer); ok { // as core does
			n, err = r.InputFrom(nil, f.buf, f.seen)
		} else {
			n, err = f.p.Input(nil, f.buf)
		}
		f.seen = 0
		if n == 0 && err == nil {
			f.seen = len(f.buf)
		}
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("Input returned %d", n)
		}
		if f.maxPackage > 0 && (n > f.maxPackage || (n == 0 && len(f.buf) > f.maxPackage)) {
			return core.ErrPackageTooLarge
		}
		if n == 0 || n > len(f.buf) {
			return nil
		}
		msg, err := f.p.Decode(nil, f.buf[:n])
		switch {
		case errors.Is(err, core.ErrSkip):
		case err != nil:
			return err
		default:
			f.msgs = append(f.msgs, string(msg))
		}
		f.buf = f.buf[n:]
	}
	return nil
}

// splitAll decodes stream fed in chunks of size step (the whole stream at
// once when step <= 0).
func splitAll(p core.Protocol, stream []byte, step int) ([]string, []byte, error) {
	f := &framer{p: p}
	if step <= 0 {
		step = len(stream) + 1
	}
	for len(stream) > 0 {
		k := min(step, len(stream))
		if err := f.feed(stream[:k]); err != nil {
			return f.msgs, f.buf, err
		}
		stream = stream[k:]
	}
	return f.msgs, f.buf, nil
}
