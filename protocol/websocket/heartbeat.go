package websocket

import (
	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// startHeartbeat schedules the pings of Protocol.PingInterval.
func (st *conn) startHeartbeat(c core.Connection) {
	iv := st.p.PingInterval
	g := c.Goer()
	if iv <= 0 || g == nil {
		return
	}
	tm := g.Timer()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.hbTimer = tm
	st.hbTask = tm.Add(iv, func(...any) { st.beat(c) }, nil, true)
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
