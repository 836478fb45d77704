package websocket

import "github.com/shunhui19/goes/core"

var _ core.Drainer = (*Protocol)(nil)

// OnConnDrain implements core.Drainer. When a graceful stop or a reload
// begins, an open WebSocket connection gets a 1001 (going away) close frame
// at once, unless ServeWhileDraining is set: a browser's onclose then sees
// 1001 and can reconnect, which in a reload reaches the new process. The
// connection goes on reading until the peer answers the close frame, so
// messages it sent meanwhile still reach OnMessage; it is closed when the
// answer comes, or after the Goer's CloseTimeout without one. A connection
// still in its opening handshake with nothing received is idle (core closes
// it when quiet); one whose handshake is under way gets the close frame
// right after the 101. It runs on the connection's lane.
func (p *Protocol) OnConnDrain(c core.Connection) bool {
	st, ok := c.Context().(*conn)
	if !ok {
		return true // nothing received yet
	}
	st.mu.Lock()
	phase, closeSent := st.phase, st.closeSent
	st.mu.Unlock()
	switch {
	case phase == phaseHandshake:
		return true
	case phase != phaseOpen && phase != phaseDraining, closeSent, p.ServeWhileDraining:
		return false
	}
	if st.sendClose(c, CloseGoingAway, "server going away") != nil {
		return false
	}
	if g := c.Goer(); g != nil {
		g.Timer().Add(g.CloseTimeout, func(...any) { c.Close("") }, nil, false)
	}
	return false
}
