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

// BatchObserver is an Observer that may be told of several responses at
// once. When one read brings several requests (pipelined), core writes
// their responses together after the last; the protocol gathers the timed
// responses of that read that share the first one's method and status and
// tells ObserveResponses of them before they are written, rather than
// ObserveResponse of each. Every elapsed is a timed response's (never
// negative); ObserveResponses must not keep the slice.
type BatchObserver interface {
	Observer
	ObserveResponses(c core.Connection, method string, status int, elapsed []time.Duration)
}

// maxGathered bounds the responses a connection gathers for a
// BatchObserver; those beyond are reported one by one.
const maxGathered = 16

// observed is what a connection keeps for the Observer, made by the first
// request delivered; under the conn's mu.
type observed struct {
	// the monoNow at which the latest response was completed, and the
	// connection's BytesRead then (see startLocked)
	doneAt, doneRead int64

	// while core holds the connection's writes: the observer told of the
	// responses gathered, which share method and status
	batch   BatchObserver
	method  string
	status  int
	n       int
	elapsed [maxGathered]time.Duration

	told [maxGathered]time.Duration // lane only: elapsed as told, outside mu
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
// now (monoNow); one gathered for a batch is not to be told now. st.mu is
// held.
func (st *conn) observeLocked(now int64) observation {
	if st.p.Observer == nil {
		return observation{}
	}
	x := st.x.Load()
	if x == nil {
		return observation{}
	}
	ob := observation{method: x.req.method, status: x.resp.code(), elapsed: time.Duration(now - x.start), ok: true}
	if o := st.obs; o != nil && o.batch != nil && o.n < maxGathered {
		switch {
		case o.n == 0:
			o.method, o.status = ob.method, ob.status
		case o.method != ob.method || o.status != ob.status:
			return ob
		}
		o.elapsed[o.n] = ob.elapsed
		o.n++
		return observation{}
	}
	return ob
}

// HoldingWrites implements core.WriteBatcher: with a BatchObserver, the
// responses to the requests of this read are gathered until
// WritesReleased.
func (p *Protocol) HoldingWrites(c core.Connection) core.WriteReleaser {
	bo, ok := p.Observer.(BatchObserver)
	if !ok {
		return nil
	}
	st, ok := c.Context().(*conn)
	if !ok {
		return nil
	}
	st.mu.Lock()
	if st.obs == nil {
		st.obs = &observed{}
	}
	st.obs.batch = bo
	st.mu.Unlock()
	return st
}

// WritesReleased implements core.WriteReleaser: the responses gathered
// are told before they are written.
func (st *conn) WritesReleased() {
	st.mu.Lock()
	o := st.obs
	bo, method, status, n := o.batch, o.method, o.status, o.n
	copy(o.told[:n], o.elapsed[:n])
	o.batch, o.n = nil, 0
	st.mu.Unlock()
	if n > 0 {
		bo.ObserveResponses(st.c, method, status, o.told[:n])
	}
}

// startLocked returns the monoNow of the delivery of the request begun.
// When no byte was read since the latest response was completed, the
// request was read whole before that moment and is delivered right after
// it: the clock read then serves again (with a batch of pipelined
// requests, all but the first of a read). st.mu is held.
func (st *conn) startLocked() int64 {
	o := st.obs
	if o == nil {
		st.obs = &observed{}
		return monoNow()
	}
	if o.doneAt != 0 {
		if tc, ok := st.c.(*core.TCPConnection); ok && tc.BytesRead() == o.doneRead {
			return o.doneAt
		}
	}
	return monoNow()
}

// doneLocked notes that the pending response was completed at now, for
// startLocked. st.mu is held.
func (st *conn) doneLocked(now int64) {
	o := st.obs
	if o == nil {
		return
	}
	o.doneAt = 0
	if tc, ok := st.c.(*core.TCPConnection); ok {
		o.doneAt, o.doneRead = now, tc.BytesRead()
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
