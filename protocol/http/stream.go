package http

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shunhui19/goes/core"
)

// beginRaw claims the pending request for a response written with raw
// sends (files, streams), so that no other response slips in between.
func (st *conn) beginRaw() (closing bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.pending.Load() || st.busy {
		return false, ErrNoRequest
	}
	w := &st.x.Load().resp
	if err := w.err; err != nil {
		w.reset()
		return false, err
	}
	st.busy = true
	if s := w.r.sess; s != nil {
		s.cookieLocked(w)
	}
	return st.closingLocked(), nil
}

// abortRaw gives the request back after a raw response failed before
// anything was queued.
func (st *conn) abortRaw() {
	st.mu.Lock()
	st.busy = false
	st.mu.Unlock()
}

// finishRaw marks a raw response complete; the last one closes the
// connection once it is flushed.
func (st *conn) finishRaw(closing bool) {
	st.mu.Lock()
	now := monoNow()
	ob := st.observeLocked(now)
	resume := st.completeLocked(now)
	st.mu.Unlock()
	ob.report(st)
	if resume {
		st.resume()
	}
	if closing {
		st.c.Close("")
	}
}

// Stream is a response body sent in pieces: chunked for HTTP/1.1, and for
// HTTP/1.0 a body that ends when the connection closes.
//
// Write never blocks: when the connection's send queue is full (the peer
// reads slowly) it sends nothing and returns an error wrapping
// core.ErrSendBufferFull. The function set with OnDrain runs when the queue
// has emptied again, the time to write more (the Goer's OnBufferDrain
// fires then too). WriteWait is the blocking alternative for a goroutine
// of its own. A Stream is safe for concurrent use. End it with End.
type Stream struct {
	st      *conn
	chunked bool
	noBody  bool // HEAD, or a status without a body
	closing bool

	mu         sync.Mutex
	buf        []byte
	ended      bool
	endAtDrain bool // End found the queue full: the last chunk waits for the drain
	onDrain    func()
}

// Stream starts a streamed response with the status and headers set so far.
func (w *Response) Stream() (*Stream, error) {
	st := w.st
	closing, err := st.beginRaw()
	if err != nil {
		return nil, err
	}
	s := &Stream{st: st, chunked: w.r.minor == 1, noBody: !w.bodyAllowed(), closing: closing}
	if !s.chunked {
		s.closing = true
	}
	var head []byte
	if s.chunked && statusHasBody(w.code()) {
		head = w.appendHead(w.scratch[:0], monoNow(), -1, true, s.closing)
	} else {
		head = w.appendHead(w.scratch[:0], monoNow(), -1, false, s.closing)
	}
	w.scratch = head
	if err := st.c.SendBytes(head, true); err != nil {
		st.abortRaw()
		if errors.Is(err, core.ErrSendBufferFull) {
			st.unanswerable(err)
		}
		return nil, err
	}
	st.mu.Lock()
	if x := st.x.Load(); x != nil && st.busy {
		x.stream = s
	}
	st.mu.Unlock()
	return s, nil
}

// OnDrain sets f to run when the connection's send queue, after a Write
// was refused with core.ErrSendBufferFull, has emptied: f writes the next
// part. f runs on the connection's callback lane, right before the
// OnBufferDrain callbacks, and not after End. Safe for concurrent use.
func (s *Stream) OnDrain(f func()) {
	s.mu.Lock()
	s.onDrain = f
	s.mu.Unlock()
}

func (s *Stream) drained() {
	s.mu.Lock()
	if s.endAtDrain {
		err := s.st.c.SendBytes(lastChunk, true)
		if errors.Is(err, core.ErrSendBufferFull) { // full again: the next drain
			s.mu.Unlock()
			return
		}
		s.endAtDrain = false
		closing := s.closing || err != nil
		s.mu.Unlock()
		s.st.finishRaw(closing)
		return
	}
	f := s.onDrain
	if s.ended {
		f = nil
	}
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// WriteWait is Write that, while the send queue is full, waits for it to
// drain and tries again, until ctx is done. The drain is reported on the
// connection's callback lane, so WriteWait must not be called from the
// connection's own callbacks (OnMessage, OnBufferDrain, an OnDrain
// function): there it would wait until ctx is done. Call it from a
// goroutine of its own.
func (s *Stream) WriteWait(ctx context.Context, p []byte) (int, error) {
	return s.writeWait(ctx, p, "")
}

// WriteStringWait is WriteWait for a string.
func (s *Stream) WriteStringWait(ctx context.Context, str string) (int, error) {
	return s.writeWait(ctx, nil, str)
}

func (s *Stream) writeWait(ctx context.Context, p []byte, str string) (int, error) {
	for {
		drained := s.st.drainSignal() // before writing: a drain after the refusal closes it
		n, err := s.write(p, str)
		if !errors.Is(err, core.ErrSendBufferFull) {
			return n, err
		}
		select {
		case <-drained:
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}

// Write sends p as one chunk. It implements io.Writer.
func (s *Stream) Write(p []byte) (int, error) { return s.write(p, "") }

// WriteString sends str as one chunk.
func (s *Stream) WriteString(str string) (int, error) { return s.write(nil, str) }

// write sends p, or str when p is nil, as one chunk.
func (s *Stream) write(p []byte, str string) (int, error) {
	n := len(p) + len(str)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, ErrStreamEnded
	}
	if s.noBody || n == 0 {
		return n, nil
	}
	b := p
	if s.chunked || p == nil {
		s.buf = s.buf[:0]
		if s.chunked {
			s.buf = strconv.AppendInt(s.buf, int64(n), 16)
			s.buf = append(s.buf, "\r\n"...)
		}
		s.buf = append(s.buf, p...)
		s.buf = append(s.buf, str...)
		if s.chunked {
			s.buf = append(s.buf, "\r\n"...)
		}
		b = s.buf
	}
	err := s.st.c.SendBytes(b, true) // copies b into the send queue
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// End finishes the response. Further Writes fail with ErrStreamEnded.
// When the send queue is full, the end of a chunked body is sent once it
// drains; End does not wait for that.
func (s *Stream) End() error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrStreamEnded
	}
	s.ended = true
	var err error
	if s.chunked && !s.noBody {
		err = s.st.c.SendBytes(lastChunk, true)
		if errors.Is(err, core.ErrSendBufferFull) {
			s.endAtDrain = true // drained sends it; s.mu orders the two
			s.mu.Unlock()
			return nil
		}
		if err != nil {
			s.closing = true // the body cannot be ended properly
		}
	}
	closing := s.closing
	s.mu.Unlock()
	s.st.finishRaw(closing)
	return err
}

var lastChunk = []byte("0\r\n\r\n")

// Event is one Server-Sent Event.
type Event struct {
	ID    string
	Event string // the event type; empty means "message"
	Data  string // may hold several lines
	Retry time.Duration
}

// EventStream sends Server-Sent Events (text/event-stream). Like Stream,
// Send never blocks and reports a full send queue as an error; OnDrain and
// SendWait work as Stream's OnDrain and WriteWait.
type EventStream struct {
	s *Stream
}

// EventStream starts a Server-Sent Events response.
func (w *Response) EventStream() (*EventStream, error) {
	w.Header("Content-Type", "text/event-stream; charset=utf-8")
	if !w.hasKind(kindCacheControl) {
		w.Header("Cache-Control", "no-cache")
	}
	s, err := w.Stream()
	if err != nil {
		return nil, err
	}
	return &EventStream{s: s}, nil
}

// Stream returns the underlying stream.
func (e *EventStream) Stream() *Stream { return e.s }

// OnDrain is Stream.OnDrain.
func (e *EventStream) OnDrain(f func()) { e.s.OnDrain(f) }

// Send sends one event.
func (e *EventStream) Send(ev Event) error {
	_, err := e.s.WriteString(ev.format())
	return err
}

// SendWait is Send that waits while the send queue is full, as
// Stream.WriteWait, which says where not to call it.
func (e *EventStream) SendWait(ctx context.Context, ev Event) error {
	_, err := e.s.WriteStringWait(ctx, ev.format())
	return err
}

// format returns the event in the text/event-stream syntax.
func (ev Event) format() string {
	var b strings.Builder
	if ev.ID != "" {
		b.WriteString("id: ")
		b.WriteString(oneLine(ev.ID))
		b.WriteByte('\n')
	}
	if ev.Event != "" {
		b.WriteString("event: ")
		b.WriteString(oneLine(ev.Event))
		b.WriteByte('\n')
	}
	if ev.Retry > 0 {
		b.WriteString("retry: ")
		b.WriteString(strconv.FormatInt(ev.Retry.Milliseconds(), 10))
		b.WriteByte('\n')
	}
	for _, line := range strings.Split(strings.ReplaceAll(ev.Data, "\r\n", "\n"), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.String()
}

// Comment sends a comment line, which clients ignore: a keep-alive ping.
func (e *EventStream) Comment(text string) error {
	_, err := e.s.WriteString(": " + oneLine(text) + "\n\n")
	return err
}

// End finishes the event stream.
func (e *EventStream) End() error { return e.s.End() }

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
