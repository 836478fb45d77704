package websocket

import (
	"time"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/core/timer"
)

// startHeartbeat makes sure the pings of Protocol.PingInterval reach c.
// One timer task per Goer sweeps all its open connections of this
// protocol: a task per connection would cost every idle connection its own
// timer.
func (st *conn) startHeartbeat(c core.Connection) {
	iv := st.p.PingInterval
	g := c.Goer()
	if iv <= 0 || g == nil {
		return
	}
	if st.client {
		st.beatEvery(c, iv)
		return
	}
	st.p.sweepEvery(g, iv)
}

// beatEvery runs a client connection's heartbeat on a timer of its own
// (there is no running Goer to sweep it); end stops it.
func (st *conn) beatEvery(c core.Connection, iv time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.extraLocked().beat = time.AfterFunc(iv, func() {
		if !st.beating() {
			return
		}
		st.beat(c)
		st.mu.Lock()
		if st.ext != nil && st.ext.beat != nil {
			st.ext.beat.Reset(iv)
		}
		st.mu.Unlock()
	})
}

// sweepTask is a Goer's heartbeat sweep.
type sweepTask struct {
	tm *timer.Timer
	id timer.TaskID
}

// sweepEvery starts the heartbeat sweep of g once for each timer g runs
// (a restarted Goer has a new one).
func (p *Protocol) sweepEvery(g *core.Goer, iv time.Duration) {
	tm := g.Timer()
	p.initMu.Lock()
	defer p.initMu.Unlock()
	if s, ok := p.sweeps[g]; ok && s.tm == tm {
		return
	}
	if p.sweeps == nil {
		p.sweeps = map[*core.Goer]sweepTask{}
	}
	p.sweeps[g] = sweepTask{tm, tm.Add(iv, func(...any) { p.sweep(g, tm) }, nil, true)}
}

// sweep runs one heartbeat tick on g's open connections of p. It ends
// itself once g has stopped, should g's timer outlive it.
func (p *Protocol) sweep(g *core.Goer, tm *timer.Timer) {
	select {
	case <-g.Done():
		p.initMu.Lock()
		if s, ok := p.sweeps[g]; ok && s.tm == tm {
			tm.Del(s.id)
			delete(p.sweeps, g)
		}
		p.initMu.Unlock()
		return
	default:
	}
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		if st, ok := c.Context().(*conn); ok && st.p == p && st.beating() {
			st.beat(c)
		}
		return true
	})
}

// beating reports whether the heartbeat applies to st: it is open.
func (st *conn) beating() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.phase == phaseOpen && !st.ended
}

// beat runs every PingInterval: a peer that sent nothing since the previous
// ping is closed, the others get a new ping.
func (st *conn) beat(c core.Connection) {
	if st.pinged.Load() && !st.seen.Load() {
		st.mu.Lock()
		st.recordLocked(CloseAbnormal, "ping timeout")
		st.closeSent = true // the peer is not listening; close without a frame
		st.mu.Unlock()
		logger(c).Debug("websocket: peer did not answer the ping; closing", "conn", c.GetID(), "remote", c.GetRemoteAddress())
		if d, ok := c.(interface{ Destroy() }); ok {
			d.Destroy() // nothing to flush to a peer that is gone
		} else {
			c.Close("")
		}
		return
	}
	st.seen.Store(false)
	st.pinged.Store(true)
	st.sendControl(c, ws.OpPing, nil)
}
