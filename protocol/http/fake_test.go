package http

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/shunhui19/goes/core"
)

// fakeConn is a core.Connection that frames bytes through a protocol the
// way core does, and records what is sent.
type fakeConn struct {
	p         core.Protocol
	onMessage func(c core.Connection, data []byte)

	ctx atomic.Pointer[ctxBox]

	mu      sync.Mutex // send side
	out     []byte
	closing bool

	recv    []byte // lane side
	pkgLen  int
	failErr error
	msgs    int
}

type ctxBox struct{ v any }

func newFake(p core.Protocol, h func(c core.Connection, data []byte)) *fakeConn {
	return &fakeConn{p: p, onMessage: h}
}

// Send passes the string's bytes without a copy, as core does: Encode
// neither keeps nor changes them.
func (f *fakeConn) Send(data string, raw bool) error {
	return f.SendBytes(unsafe.Slice(unsafe.StringData(data), len(data)), raw)
}

func (f *fakeConn) SendBytes(data []byte, raw bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return core.ErrClosed
	}
	if raw {
		f.out = append(f.out, data...)
		return nil
	}
	before := len(f.out)
	out, err := f.p.Encode(f, f.out, data)
	if err != nil && !errors.Is(err, core.ErrCloseAfter) {
		f.out = f.out[:before]
		return err
	}
	f.out = out
	if err != nil {
		f.closing = true
	}
	return nil
}

func (f *fakeConn) Close(data string) {
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
}

func (f *fakeConn) isClosing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closing
}

func (f *fakeConn) output() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.out...)
}

func (f *fakeConn) resetOutput() {
	f.mu.Lock()
	f.out = f.out[:0]
	f.mu.Unlock()
}

// SendFrom reads r at once (the fake has no writer goroutine).
func (f *fakeConn) SendFrom(r io.Reader) error {
	b, err := io.ReadAll(r)
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return err
	}
	return f.SendBytes(b, true)
}

func (f *fakeConn) GetRemoteAddress() string { return "127.0.0.1:40000" }
func (f *fakeConn) GetRemoteIP() string      { return "127.0.0.1" }
func (f *fakeConn) GetRemotePort() int       { return 40000 }
func (f *fakeConn) GetLocalAddress() string  { return "127.0.0.1:8080" }
func (f *fakeConn) GetLocalIP() string       { return "127.0.0.1" }
func (f *fakeConn) GetLocalPort() int        { return 8080 }
func (f *fakeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (f *fakeConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }
func (f *fakeConn) GetID() int          { return 1 }
func (f *fakeConn) Context() any {
	if b := f.ctx.Load(); b != nil {
		return b.v
	}
	return nil
}
func (f *fakeConn) SetContext(v any) { f.ctx.Store(&ctxBox{v}) }
func (f *fakeConn) Goer() *core.Goer { return nil }

const fakeMaxPkg = core.DefaultMaxPackageSize

// feed hands b to the protocol like core's receive loop does. It stops at
// the first error (recorded in failErr) or when the connection closes.
func (f *fakeConn) feed(b []byte) {
	if f.failErr != nil || f.isClosing() {
		return
	}
	f.recv = append(f.recv, b...)
	off := 0
	for off < len(f.recv) && !f.isClosing() {
		buf := f.recv[off:]
		if f.pkgLen == 0 {
			n, err := f.p.Input(f, buf)
			if err != nil {
				f.failErr = err
				f.Close("")
				return
			}
			if n == 0 {
				if len(buf) > fakeMaxPkg {
					f.failErr = core.ErrPackageTooLarge
					f.Close("")
					return
				}
				break
			}
			if n < 0 || n > fakeMaxPkg {
				f.failErr = core.ErrPackageTooLarge
				f.Close("")
				return
			}
			f.pkgLen = n
		}
		if f.pkgLen > len(buf) {
			break
		}
		pkg := buf[:f.pkgLen]
		off += f.pkgLen
		f.pkgLen = 0
		msg, err := f.p.Decode(f, pkg)
		if err != nil {
			if errors.Is(err, core.ErrSkip) {
				continue
			}
			f.failErr = err
			f.Close("")
			return
		}
		f.msgs++
		if f.onMessage != nil {
			f.onMessage(f, msg)
		}
	}
	f.recv = f.recv[:copy(f.recv, f.recv[off:])]
}

// statusCodes returns the status codes of the responses in out, in order.
func statusCodes(out []byte) []int {
	var codes []int
	for {
		i := bytes.Index(out, []byte("HTTP/1.1 "))
		if i < 0 || len(out) < i+12 {
			return codes
		}
		code := 0
		for _, c := range out[i+9 : i+12] {
			code = code*10 + int(c-'0')
		}
		codes = append(codes, code)
		out = out[i+12:]
	}
}
