package http

import (
	"bytes"
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
//
// The parser fields are touched only on the connection's callback lane. The
// fields under mu are shared with the goroutines that send responses.
type conn struct {
	p *Protocol
	c core.Connection

	// parser, lane only
	phase      uint8
	started    bool    // bytes of the next request arrived
	timed      bool    // the header deadline of the request started runs
	opened     bool    // the header deadline runs since the accept
	scanned    int     // bytes of a head or trailer scanned without finding its end
	ends       []int32 // the end of each line scanned, in the head or trailer
	scannedLen int     // the length of the head or trailer found last
	bodyLeft   int64
	req        Request

	// response side
	mu      sync.Mutex
	pending atomic.Bool // a request was delivered and awaits its response; set under mu
	busy    bool        // a raw response (file, stream) is being sent
	waiting bool        // receiving is paused until the pending response is out
	resp    Response
	stream  *Stream       // the streamed response in progress, told of drains
	drainCh chan struct{} // closed at the next drain or at close; made by a waiting writer
	gone    bool          // the connection closed

	deadline atomic.Int64 // monoNow after which the sweeper closes; 0: none
	goodbye  atomic.Bool  // the server is stopping
}

// state returns c's HTTP state, making it on the first bytes.
func (p *Protocol) state(c core.Connection) *conn {
	if st, ok := c.Context().(*conn); ok {
		return st
	}
	st := &conn{p: p, c: c}
	st.req.st = st
	st.resp.st = st
	c.SetContext(st)
	if g := c.Goer(); g != nil {
		p.ensureSweeper(g)
	}
	return st
}

func (st *conn) setDeadline(d time.Duration) {
	if d <= 0 {
		st.deadline.Store(0)
		return
	}
	st.deadline.Store(monoNow() + int64(d))
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

// resume lets a paused connection go on with its next request.
func (st *conn) resume() {
	if pz, ok := st.c.(pauser); ok {
		pz.ResumeRecv()
	}
}

// completeLocked marks the pending response as sent at now (monoNow); it
// reports whether receiving must be resumed. st.mu is held.
func (st *conn) completeLocked(now int64) (resume bool) {
	st.pending.Store(false)
	st.busy = false
	st.stream = nil
	st.deadline.Store(now + int64(st.p.keepAliveDur()))
	resume = st.waiting
	st.waiting = false
	return resume
}

// drainSignal returns a channel closed when the connection's send queue,
// once full, has emptied, or when the connection closes.
func (st *conn) drainSignal() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gone {
		return closedCh
	}
	if st.drainCh == nil {
		st.drainCh = make(chan struct{})
	}
	return st.drainCh
}

var closedCh = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// drained runs on the lane when a full send queue has emptied.
func (st *conn) drained() {
	st.mu.Lock()
	if st.drainCh != nil {
		close(st.drainCh)
		st.drainCh = nil
	}
	s := st.stream
	st.mu.Unlock()
	if s != nil {
		s.drained()
	}
}

// closed wakes writers waiting for a drain that will not come.
func (st *conn) closed() {
	st.mu.Lock()
	st.gone = true
	if st.drainCh != nil {
		close(st.drainCh)
		st.drainCh = nil
	}
	st.stream = nil
	st.mu.Unlock()
}

// closingLocked reports whether the response being sent is the
// connection's last.
func (st *conn) closingLocked() bool {
	return !st.req.keepAlive || st.p.DisableKeepAlive || st.goodbye.Load() || st.resp.wantsClose()
}

// deliver ends the parsing of a request: the handler (or a static mount)
// gets it now.
func (st *conn) deliver() ([]byte, error) {
	st.phase = phaseHead
	st.started = false
	st.deadline.Store(0)
	st.mu.Lock()
	st.busy = false
	st.resp.reset()
	st.pending.Store(true)
	st.mu.Unlock()
	if st.p.serveStatic(st) {
		return nil, core.ErrSkip
	}
	return st.req.body, nil
}

// reject answers status with a short text body and returns the error that
// makes core close the connection after flushing it.
func (st *conn) reject(status int, reason string) error {
	b := appendErrorResponse(nil, st.p, status, reason)
	_ = st.c.SendBytes(b, true)
	st.deadline.Store(0)
	return protoErr(status, reason)
}

func isBlankLine(b []byte) bool {
	return (len(b) == 1 && b[0] == '\n') || (len(b) == 2 && b[0] == '\r' && b[1] == '\n')
}

// section is what scanFields looks for: a request head (the request
// line, then header fields) or the trailer section of a chunked body.
type section struct {
	startLine bool // the first line is the request line
	tooLarge  string
	tooMany   string
}

var (
	headSection    = section{startLine: true, tooLarge: "request header fields too large", tooMany: "too many header fields"}
	trailerSection = section{tooLarge: "trailer fields too large", tooMany: "too many trailer fields"}
)

// scanFields finds the blank line that ends section s in buf, resuming
// where the last call stopped, and enforces the limits. It keeps the end
// of every line before the blank one in st.ends, so that the decoder does
// not look for them again. A head that is only a blank line (one before a
// request line) ends at once.
func (st *conn) scanFields(buf []byte, s *section) (int, error) {
	p := st.p
	i := st.scanned
	if i == 0 {
		st.ends = st.ends[:0]
	}
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			st.scanned = i
			if s.startLine && i == 0 && len(buf) > p.maxRequestLine() {
				return 0, st.reject(414, "request line too long")
			}
			if len(buf) > p.maxHeaderBytes() {
				return 0, st.reject(431, s.tooLarge)
			}
			return 0, nil
		}
		end := i + j + 1
		fields := len(st.ends) + 1 // with this line
		if s.startLine {
			fields--
		}
		switch {
		case fields == 0: // the request line
			if j > p.maxRequestLine() {
				return 0, st.reject(414, "request line too long")
			}
		case end > p.maxHeaderBytes():
			return 0, st.reject(431, s.tooLarge)
		}
		if isBlankLine(buf[i:end]) {
			st.scanned, st.scannedLen = 0, end
			return end, nil
		}
		if fields > p.maxHeaders() {
			return 0, st.reject(431, s.tooMany)
		}
		st.ends = append(st.ends, int32(end))
		i = end
	}
}

// lineEnds returns the line ends scanFields found in pkg.
func (st *conn) lineEnds(pkg []byte) ([]int32, bool) {
	return st.ends, st.scannedLen == len(pkg)
}

// decodeHead parses a complete request head.
func (st *conn) decodeHead(pkg []byte) ([]byte, error) {
	p := st.p
	ends, ok := st.lineEnds(pkg)
	if !ok {
		return nil, protoErr(500, "bad parser state")
	}
	req := &st.req
	req.release()
	req.reset()
	req.raw = append(req.raw[:0], pkg...)
	if status, reason := req.parseHead(p, ends); status != 0 {
		return nil, st.reject(status, reason)
	}
	switch {
	case req.chunked:
		st.phase = phaseChunkSize
	case req.contentLength > 0:
		if req.contentLength > p.maxBody(st.c) {
			return nil, st.reject(413, "request body too large")
		}
		st.phase = phaseBody
		st.bodyLeft = req.contentLength
	default:
		return st.deliver()
	}
	st.setDeadline(p.bodyTimeoutDur())
	if req.expectContinue {
		_ = st.c.SendBytes(continueResponse, true)
	}
	return nil, core.ErrSkip
}

var continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// scanChunkSize measures a chunk-size line; errors in it are found here so
// that core never waits for a bogus length.
func (st *conn) scanChunkSize(buf []byte) (int, error) {
	j := bytes.IndexByte(buf, '\n')
	if j < 0 {
		if len(buf) > maxChunkLine {
			return 0, st.reject(400, "chunk size line too long")
		}
		return 0, nil
	}
	if j+1 > maxChunkLine {
		return 0, st.reject(400, "chunk size line too long")
	}
	if _, ok := parseChunkSize(buf[:j+1]); !ok {
		return 0, st.reject(400, "malformed chunk size")
	}
	return j + 1, nil
}

// parseChunkSize parses "HEX[;ext...]\r\n".
func parseChunkSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' || line[len(line)-1] != '\n' {
		return 0, false
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i >= 15 {
			return 0, false // no body is that large
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != ';' {
			return 0, false
		}
		for _, b := range rest {
			if (b < 0x20 && b != '\t') || b == 0x7f {
				return 0, false
			}
		}
	}
	return n, true
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b - 'a' + 10)
	case 'A' <= b && b <= 'F':
		return int(b - 'A' + 10)
	}
	return -1
}

func (st *conn) decodeChunkSize(pkg []byte) ([]byte, error) {
	n, ok := parseChunkSize(pkg)
	if !ok {
		return nil, st.reject(400, "malformed chunk size")
	}
	if n == 0 {
		st.phase = phaseTrailer
		return nil, core.ErrSkip
	}
	if int64(len(st.req.body))+n > st.p.maxBody(st.c) {
		return nil, st.reject(413, "request body too large")
	}
	st.phase = phaseChunkData
	st.bodyLeft = n
	return nil, core.ErrSkip
}

func (st *conn) decodeTrailer(pkg []byte) ([]byte, error) {
	ends, ok := st.lineEnds(pkg)
	if !ok {
		return nil, protoErr(500, "bad parser state")
	}
	req := &st.req
	req.trailerRaw = append(req.trailerRaw[:0], pkg...)
	req.trailers, ok = parseFields(req.trailerRaw, 0, ends, req.trailers[:0])
	if !ok {
		return nil, st.reject(400, "malformed trailer field")
	}
	return st.deliver()
}
