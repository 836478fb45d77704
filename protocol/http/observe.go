package http

import (
	"time"

	"github.com/shunhui19/goes/core"
)

// Observer is told of every response the protocol sends, for metrics (the
// metrics module implements it). Set Protocol.Observer before the Goer
// starts; nil, the default, costs nothing.
//
// ObserveResponse runs on the goroutine that completes the response, once
// per request: method is the request's ("" when the request was rejected
// before its method was read), status the response's code, and elapsed
// the time from the request's delivery to the handler (or a static mount)
// until its response was queued. A request read whole before the response
// to the one before it was queued (pipelined requests that came in one
// read) is delivered at that moment and timed from it, which spares a
// clock read per request. A request rejected while it was being read
// (400, 413, 414, 431, ...) reports a negative elapsed. It must be quick
// and safe for concurrent use.
type Observer interface {
	ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration)
}

// observation is what the observer is told of one response, taken while
// the exchange is still held.
type observation struct {
	method  string
	status  int
	elapsed time.Duration
	ok      bool
}

// observeLocked takes the observation of the response being completed at
// now (monoNow). st.mu is held.
func (st *conn) observeLocked(now int64) observation {
	if st.p.Observer == nil {
		return observation{}
	}
	x := st.x.Load()
	if x == nil {
		return observation{}
	}
	return observation{method: x.req.method, status: x.resp.code(), elapsed: time.Duration(now - x.start), ok: true}
}

// startLocked returns the monoNow of the delivery of the request begun.
// When no byte was read since the latest response was completed, the
// request was read whole before that moment and is delivered right after
// it: the clock read then serves again (with a batch of pipelined
// requests, all but the first of a read). st.mu is held.
func (st *conn) startLocked() int64 {
	if st.doneAt != 0 {
		if tc, ok := st.c.(*core.TCPConnection); ok && tc.BytesRead() == st.doneRead {
			return st.doneAt
		}
	}
	return monoNow()
}

// doneLocked notes that the pending response was completed at now, for
// startLocked. st.mu is held.
func (st *conn) doneLocked(now int64) {
	st.doneAt = 0
	if tc, ok := st.c.(*core.TCPConnection); ok {
		st.doneAt, st.doneRead = now, tc.BytesRead()
	}
}

// report tells the observer, outside st.mu.
func (ob observation) report(st *conn) {
	if ob.ok {
		st.p.Observer.ObserveResponse(st.c, ob.method, ob.status, ob.elapsed)
	}
}

// observeReject tells the observer of a request rejected while it was
// being read.
func (st *conn) observeReject(status int) {
	o := st.p.Observer
	if o == nil {
		return
	}
	method := ""
	if x := st.x.Load(); x != nil {
		method = x.req.method
	}
	o.ObserveResponse(st.c, method, status, -1)
}
