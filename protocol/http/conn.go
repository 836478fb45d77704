package http

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core"
)

// Parser phases of a connection.
const (
	phaseHead      uint8 = iota // a request head (or nothing yet)
	phaseBody                   // a Content-Length body
	phaseChunkSize              // a chunk-size line
	phaseChunkData              // chunk data
	phaseChunkEnd               // the CRLF after chunk data
	phaseTrailer                // the trailer section after the last chunk
)

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4 << 10

// pauser is implemented by connections that can stop delivering messages
// (*core.TCPConnection). Pipelined requests wait this way for the response
// to the request before them.
type pauser interface {
	PauseRecv()
	ResumeRecv()
}

// conn is the protocol's state for one connection, kept in its Context.
// It is all an idle keep-alive connection holds: the request being parsed
// or answered, with its buffers, is an exchange taken from a pool when the
// request begins and given back when its response has been sent.
//
// The parser fields are touched only on the connection's callback lane. The
// fields under mu are shared with the goroutines that send responses.
type conn struct {
	p *Protocol
	c core.Connection

	// x is the exchange in progress, nil between requests. The lane sets it
	// while no request is pending; it is given back, under mu, when the
	// pending response has been sent.
	x atomic.Pointer[exchange]

	deadline atomic.Int64 // monoNow after which the sweeper closes; 0: none
	unsent   atomic.Int64 // monoNow when the sweeper found a backlog to write; 0: none
	unsentTo atomic.Int64 // the BytesWritten count by which that backlog is written

	mu      sync.Mutex
	pending atomic.Bool // a request was delivered and awaits its response; set under mu
	goodbye atomic.Bool // the server is stopping

	// parser, lane only
	phase   uint8
	started bool // bytes of the next request arrived
	timed   bool // the header deadline of the request started runs
	opened  bool // the header deadline runs since the accept
	pauses  bool // c is a pauser: the lane parses nothing while a request is pending

	// monoNow by which the request begun must be whole (RequestTimeout);
	// 0: not timed. Lane only.
	reqEnd int64

	// under mu
	busy    bool // a raw response (file, stream) is being sent
	waiting bool // receiving is paused until the pending response is out
	gone    bool // the connection closed

	obs *observed // under mu; nil unless the Protocol has an Observer
}

// exchange is one request and its response, with the parser's buffers. A
// connection holds one from the first byte of a request until the
// response has been sent; in between it waits in exchangePool.
type exchange struct {
	req  Request
	resp Response
	sess Session // the request's, when it asks for it

	// parser, lane only
	scanned    int     // bytes of a head or trailer scanned without finding its end
	scannedLen int     // the length of the head or trailer found last
	bodyLeft   int64   // bytes of the body (or chunk) still to come
	start      int64   // monoNow at delivery, when the Protocol has an Observer
	ends       []int32 // the end of each line scanned, in the head or trailer

	// under the conn's mu
	stream  *Stream       // the streamed response in progress, told of drains
	drainCh chan struct{} // closed at the next drain or at close; made by a waiting writer
}

var exchangePool = sync.Pool{New: func() any {
	x := &exchange{}
	x.req.w = &x.resp
	x.req.sessBuf = &x.sess
	x.resp.r = &x.req
	x.req.contentLength = -1
	return x
}}

// maxKeptHead is the head buffer size an exchange keeps in the pool.
const maxKeptHead = 4 << 10

// exchange returns the exchange of the request begun, taking one from the
// pool for a new request. Lane only, while no request is pending.
func (st *conn) exchange() *exchange {
	if x := st.x.Load(); x != nil {
		return x
	}
	x := exchangePool.Get().(*exchange)
	x.req.st, x.resp.st = st, st
	st.x.Store(x)
	return x
}

// releaseLocked gives the exchange back to the pool once its response has
// been sent. One whose multipart form has files on disk is kept: they are
// removed when the next request starts or the connection closes. st.mu is
// held, and nothing but the caller uses the exchange.
func (st *conn) releaseLocked() {
	x := st.x.Load()
	if x == nil || x.req.mform != nil {
		return
	}
	st.x.Store(nil)
	if x.drainCh != nil {
		close(x.drainCh)
		x.drainCh = nil
	}
	x.stream = nil
	x.scanned, x.scannedLen, x.bodyLeft = 0, 0, 0
	x.ends = x.ends[:0]
	x.req.reset() // drops what the request referred to
	if cap(x.req.raw) > maxKeptHead {
		x.req.raw = nil
	}
	x.resp.reset()
	x.req.st, x.resp.st = nil, nil
	exchangePool.Put(x)
}

// state returns c's HTTP state, making it on the first bytes.
func (p *Protocol) state(c core.Connection) *conn {
	if st, ok := c.Context().(*conn); ok {
		return st
	}
	st := &conn{p: p, c: c}
	_, st.pauses = c.(pauser)
	c.SetContext(st)
	if g := c.Goer(); g != nil {
		p.ensureSweeper(g)
	}
	return st
}

// setDeadline closes the connection d from now, or at the end of the
// request's RequestTimeout if that comes first. Lane only.
func (st *conn) setDeadline(d time.Duration) {
	if d <= 0 {
		st.deadline.Store(0)
		return
	}
	dl := monoNow() + int64(d)
	if st.reqEnd != 0 {
		dl = min(dl, st.reqEnd)
	}
	st.deadline.Store(dl)
}

// monoBase is the reference of monoNow; it is never changed.
var monoBase = time.Now()

// monoNow is a monotonic clock in nanoseconds. It reads the clock once,
// half the cost of time.Now, which reads the wall clock too: deadlines and
// the Date header's second are read for every request.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// timeHead starts the header deadline of the request begun, unless it
// runs already. A head that arrives whole never needs one: it is decoded
// at once, which spares a clock read per request.
func (st *conn) timeHead() {
	if st.reqEnd == 0 && st.startRequestClock() && st.timed {
		st.clampDeadline() // the head deadline set at the accept runs
	}
	if !st.timed {
		st.timed = true
		st.setDeadline(st.p.headerTimeoutDur())
	}
}

// awaitTurn reports whether a new request may be parsed: the previous one
// has been answered. If not, it pauses receiving; the response resumes it.
func (st *conn) awaitTurn() bool {
	if !st.pending.Load() {
		return true // only the lane, which runs this, makes a request pending
	}
	st.mu.Lock()
	if !st.pending.Load() {
		st.mu.Unlock()
		return true
	}
	pz, ok := st.c.(pauser)
	if !ok { // cannot pause: responses go out in the order they are sent
		st.mu.Unlock()
		return true
	}
	st.waiting = true
	st.mu.Unlock()
	st.setDeadline(st.p.responseTimeoutDur())
	pz.PauseRecv()
	st.mu.Lock()
	pending := st.pending.Load()
	if !pending {
		st.waiting = false
	}
	st.mu.Unlock()
	if pending {
		return false
	}
	pz.ResumeRecv() // the response went out while pausing
	return true
}

// awaitingResponse reports whether receiving is paused for the response
// to the previous request (awaitTurn): ResponseTimeout runs.
func (st *conn) awaitingResponse() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.waiting
}

// resume lets a paused connection go on with its next request.
func (st *conn) resume() {
	if pz, ok := st.c.(pauser); ok {
		pz.ResumeRecv()
	}
}

// completeLocked marks the pending response as sent at now (monoNow); it
// reports whether receiving must be resumed. st.mu is held.
func (st *conn) completeLocked(now int64) (resume bool) {
	if x := st.x.Load(); x != nil {
		x.stream = nil
		x.req.commitSession()
	}
	if st.pauses {
		st.releaseLocked() // the lane parses no other request until pending is false
	}
	st.pending.Store(false)
	st.busy = false
	st.deadline.Store(now + int64(st.p.keepAliveDur()))
	if st.p.Observer != nil {
		st.doneLocked(now)
	}
	resume = st.waiting
	st.waiting = false
	return resume
}

// drainSignal returns a channel closed when the connection's send queue,
// once full, has emptied, or when the connection closes.
func (st *conn) drainSignal() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	x := st.x.Load()
	if st.gone || x == nil {
		return closedCh
	}
	if x.drainCh == nil {
		x.drainCh = make(chan struct{})
	}
	return x.drainCh
}

var closedCh = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// drained runs on the lane when a full send queue has emptied.
func (st *conn) drained() {
	st.mu.Lock()
	var s *Stream
	if x := st.x.Load(); x != nil {
		if x.drainCh != nil {
			close(x.drainCh)
			x.drainCh = nil
		}
		s = x.stream
	}
	st.mu.Unlock()
	if s != nil {
		s.drained()
	}
}

// closed wakes writers waiting for a drain that will not come, removes
// the temporary files of the last multipart form, and gives the exchange
// back unless a handler may still hold its request. Lane only.
func (st *conn) closed() {
	st.mu.Lock()
	st.gone = true
	if x := st.x.Load(); x != nil {
		x.req.release()
		if x.drainCh != nil {
			close(x.drainCh)
			x.drainCh = nil
		}
		x.stream = nil
		if !st.pending.Load() {
			st.releaseLocked()
		}
	}
	st.mu.Unlock()
}

// closingLocked reports whether the response being sent is the
// connection's last.
func (st *conn) closingLocked() bool {
	x := st.x.Load()
	return !x.req.keepAlive || st.p.DisableKeepAlive || st.leaving() || x.resp.wantsClose()
}

// deliver ends the parsing of a request: the handler (or a static mount)
// gets it now.
func (st *conn) deliver() ([]byte, error) {
	st.phase = phaseHead
	st.started = false
	st.reqEnd = 0
	st.deadline.Store(0)
	x := st.x.Load()
	body := x.req.body // x may be given back as soon as the request is pending
	st.mu.Lock()
	if st.p.Observer != nil {
		x.start = st.startLocked()
	}
	st.busy = false
	x.resp.reset()
	st.pending.Store(true)
	st.mu.Unlock()
	if st.p.serveStatic(x) {
		return nil, core.ErrSkip
	}
	return body, nil
}

// unanswerable ends a connection whose pending request cannot be answered
// (its response was refused): the peer sees the connection close after
// the responses queued before, and the log says why.
func (st *conn) unanswerable(err error) {
	c := st.c
	if g := c.Goer(); g != nil {
		g.Log().Warn("http: response not sent; closing the connection", "goer", g.GetName(), "conn", c.GetID(), "remote", c.GetRemoteAddress(), "err", err)
	}
	c.Close("")
}

// reject answers status with a short text body and returns the error that
// makes core close the connection after flushing it.
func (st *conn) reject(status int, reason string) error {
	b := appendErrorResponse(nil, st.p, status, reason)
	_ = st.c.SendBytes(b, true)
	st.observeReject(status)
	st.deadline.Store(0)
	return protoErr(status, reason)
}
