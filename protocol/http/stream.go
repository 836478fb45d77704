package http

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// beginRaw claims the pending request for a response written with raw
// sends (files, streams), so that no other response slips in between.
func (st *conn) beginRaw() (closing bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.pending || st.busy {
		return false, ErrNoRequest
	}
	if err := st.resp.err; err != nil {
		st.resp.reset()
		return false, err
	}
	st.busy = true
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
	resume := st.completeLocked()
	st.mu.Unlock()
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
// core.ErrSendBufferFull; OnBufferFull has fired and OnBufferDrain will
// fire when the queue is empty again, the time to write more. A Stream is
// safe for concurrent use. End it with End.
type Stream struct {
	st      *conn
	chunked bool
	noBody  bool // HEAD, or a status without a body
	closing bool

	mu    sync.Mutex
	buf   []byte
	ended bool
}

// Stream starts a streamed response with the status and headers set so far.
func (w *Response) Stream() (*Stream, error) {
	st := w.st
	closing, err := st.beginRaw()
	if err != nil {
		return nil, err
	}
	s := &Stream{st: st, chunked: st.req.minor == 1, noBody: !w.bodyAllowed(), closing: closing}
	if !s.chunked {
		s.closing = true
	}
	var head []byte
	if s.chunked && statusHasBody(w.code()) {
		head = w.appendHead(w.scratch[:0], -1, true, s.closing)
	} else {
		head = w.appendHead(w.scratch[:0], -1, false, s.closing)
	}
	w.scratch = head
	if err := st.c.SendBytes(head, true); err != nil {
		st.abortRaw()
		return nil, err
	}
	return s, nil
}

// Write sends p as one chunk. It implements io.Writer.
func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, ErrStreamEnded
	}
	if s.noBody || len(p) == 0 {
		return len(p), nil
	}
	b := p
	if s.chunked {
		s.buf = strconv.AppendInt(s.buf[:0], int64(len(p)), 16)
		s.buf = append(s.buf, "\r\n"...)
		s.buf = append(s.buf, p...)
		s.buf = append(s.buf, "\r\n"...)
		b = s.buf
	}
	if err := s.st.c.SendBytes(b, true); err != nil {
		return 0, err
	}
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	}
	return len(p), nil
}

// WriteString sends str as one chunk.
func (s *Stream) WriteString(str string) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf[:0], str...) // copied: Write reuses s.buf only after sending
	b := s.buf
	s.buf = nil
	s.mu.Unlock()
	return s.Write(b)
}

// End finishes the response. Further Writes fail with ErrStreamEnded.
func (s *Stream) End() error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrStreamEnded
	}
	s.ended = true
	s.mu.Unlock()
	var err error
	if s.chunked && !s.noBody {
		if err = s.st.c.SendBytes([]byte("0\r\n\r\n"), true); err != nil {
			s.closing = true // the body cannot be ended properly
		}
	}
	s.st.finishRaw(s.closing)
	return err
}

// Event is one Server-Sent Event.
type Event struct {
	ID    string
	Event string // the event type; empty means "message"
	Data  string // may hold several lines
	Retry time.Duration
}

// EventStream sends Server-Sent Events (text/event-stream). Like Stream,
// its sends never block and report a full send queue as an error.
type EventStream struct {
	s *Stream
}

// EventStream starts a Server-Sent Events response.
func (w *Response) EventStream() (*EventStream, error) {
	w.Header("Content-Type", "text/event-stream; charset=utf-8")
	if !w.has("Cache-Control") {
		w.Header("Cache-Control", "no-cache")
	}
	s, err := w.Stream()
	if err != nil {
		return nil, err
	}
	return &EventStream{s: s}, nil
}

// Send sends one event.
func (e *EventStream) Send(ev Event) error {
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
	_, err := e.s.WriteString(b.String())
	return err
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
