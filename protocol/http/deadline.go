package http

import (
	"time"

	"github.com/shunhui19/goes/core"
)

// The whole-request and write deadlines. The header, body, keep-alive and
// response deadlines are one time per connection (conn.deadline) that the
// lane moves as the request goes on; RequestTimeout caps it, and
// WriteTimeout is watched by the sweeper alone.

// startRequestClock starts the RequestTimeout of the request begun; it
// reports whether there is one. Lane only.
func (st *conn) startRequestClock() bool {
	rt := st.p.requestTimeoutDur()
	if rt <= 0 {
		return false
	}
	st.reqEnd = monoNow() + int64(rt)
	return true
}

// clampDeadline brings the running deadline forward to the end of the
// request's RequestTimeout. Lane only.
func (st *conn) clampDeadline() {
	if d := st.deadline.Load(); d == 0 || d > st.reqEnd {
		st.deadline.Store(st.reqEnd)
	}
}

// checkWrite closes c when what was queued for it at one sweep has not
// all been written wt later (now is monoNow): the peer does not take the
// responses, or takes them too slowly. A peer that reads on, even behind a
// queue that never empties, restarts the clock at each sweep that finds
// the earlier backlog written. The sweeper of c's Goer calls it.
func (st *conn) checkWrite(g *core.Goer, c *core.TCPConnection, now int64, wt time.Duration) {
	written := c.BytesWritten() // before: the mark below errs on the lenient side
	unwritten, flushed := c.Unwritten()
	since := st.unsent.Load()
	switch {
	case flushed:
		if since != 0 {
			st.unsent.Store(0)
		}
	case since == 0 || written >= st.unsentTo.Load():
		st.unsent.Store(now)
		st.unsentTo.Store(written + int64(unwritten))
	case now-since > int64(wt):
		st.unsent.Store(0)
		g.Log().Warn("http: response not written within WriteTimeout; connection closed",
			"goer", g.GetName(), "remote", c.GetRemoteAddress(), "timeout", wt, "unwritten", unwritten)
		c.Destroy()
	}
}

func (p *Protocol) requestTimeoutDur() time.Duration {
	return orDurOff(p.RequestTimeout, DefaultRequestTimeout)
}

func (p *Protocol) writeTimeoutDur() time.Duration {
	return orDurOff(p.WriteTimeout, DefaultWriteTimeout)
}

// orDurOff is v, def when v is zero, and none (0) when v is negative.
func orDurOff(v, def time.Duration) time.Duration {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}
