package websocket

import (
	"errors"
	"fmt"

	"github.com/shunhui19/goes/core"
)

const keepMessageCap = 64 << 10 // the framer's buffer is kept up to this size

// framer runs the Input/Decode steps over a byte stream the way core does,
// for the fuzz tests. ErrEstablished (a client's handshake) counts as a
// skip.
type framer struct {
	recv   []byte
	pkgLen int
}

// feed frames recv+b and calls deliver for each message. It returns the
// protocol's error, after which the stream must be closed.
func (f *framer) feed(st *conn, c core.Connection, b []byte, limit int, deliver func([]byte)) error {
	f.recv = append(f.recv, b...)
	data := f.recv
	off := 0
	defer func() {
		n := copy(f.recv, data[off:])
		f.recv = f.recv[:n]
		if cap(f.recv) > keepMessageCap && n < keepMessageCap {
			f.recv = append([]byte(nil), f.recv...)
		}
	}()
	for off < len(data) {
		buf := data[off:]
		if f.pkgLen == 0 {
			n, err := st.input(c, buf)
			if err != nil {
				return err
			}
			if n == 0 {
				if len(buf) > limit {
					return fmt.Errorf("%w: %d bytes", core.ErrPackageTooLarge, len(buf))
				}
				return nil
			}
			f.pkgLen = n
		}
		if f.pkgLen > len(buf) {
			return nil
		}
		pkg := buf[:f.pkgLen]
		off += f.pkgLen
		f.pkgLen = 0
		msg, err := st.decode(c, pkg)
		if errors.Is(err, core.ErrSkip) || err == core.ErrEstablished {
			continue
		}
		if err != nil {
			return err
		}
		deliver(msg)
	}
	return nil
}
