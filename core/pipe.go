package core

// Piper is a connection that Pipe can join: *TCPConnection and
// *AsyncConnection.
type Piper interface {
	Connection
	PauseRecv()
	ResumeRecv()
	SendQueueSize() int
	Pipe(dst Piper)
	pipeHooks() *pipeHooks
}

// pipeHooks are the callbacks Pipe sets, wherever the connection keeps
// them.
type pipeHooks struct {
	onMessage     *func(Connection, []byte)
	onClose       *func(Connection)
	onBufferFull  *func(Connection)
	onBufferDrain *func(Connection)
	maxSend       func() int
}

func (c *TCPConnection) pipeHooks() *pipeHooks {
	return &pipeHooks{&c.OnMessage, &c.OnClose, &c.OnBufferFull, &c.OnBufferDrain,
		func() int { return int(c.maxSend.Load()) }}
}

func (a *AsyncConnection) pipeHooks() *pipeHooks {
	return &pipeHooks{&a.OnMessage, &a.OnClose, &a.OnBufferFull, &a.OnBufferDrain, a.maxSend}
}

// Pipe forwards every message c receives to dst (encoded with dst's
// protocol). When dst's send queue fills, c stops reading (PauseRecv) until
// dst has written it out (ResumeRecv), so memory stays bounded by dst's
// MaxSendBufferSize. When c closes, dst is closed once what is queued for
// it is written. Pipe sets c's OnMessage and OnClose (an OnClose set before
// still runs first) and dst's OnBufferFull and OnBufferDrain. For a
// two-way link pipe both ways: a.Pipe(b); b.Pipe(a).
//
// Call it from c's own callbacks (OnConnect), or before c is connected.
func (c *TCPConnection) Pipe(dst Piper) { pipe(c, dst) }

// Pipe is TCPConnection.Pipe for a client connection; call it before
// Connect or from a's callbacks.
func (a *AsyncConnection) Pipe(dst Piper) { pipe(a, dst) }

func pipe(src, dst Piper) {
	s, d := src.pipeHooks(), dst.pipeHooks()
	*s.onMessage = func(_ Connection, data []byte) {
		if err := dst.SendBytes(data, false); err != nil {
			return // dst closing (its close closes src) or, at worst, full: reported by dst's OnError
		}
		// Pause at once, on src's lane: waiting for OnBufferFull, which
		// runs on dst's lane, would let the next messages be refused.
		if dst.SendQueueSize() >= d.maxSend() {
			src.PauseRecv()
		}
	}
	prev := *s.onClose
	*s.onClose = func(c Connection) {
		if prev != nil {
			prev(c)
		}
		dst.Close("")
	}
	*d.onBufferFull = func(Connection) { src.PauseRecv() }
	*d.onBufferDrain = func(Connection) { src.ResumeRecv() }
}
