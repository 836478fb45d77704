package http

import "github.com/shunhui19/goes/core"

var _ core.Drainer = (*Protocol)(nil)

// OnConnDrain implements core.Drainer, as net/http's Shutdown does and RFC
// 9112 (section 9.6) describes: when a graceful stop or a reload begins, the
// response to the request in progress, and to one that arrives after, says
// "Connection: close" and is the connection's last, so the client moves
// to a new connection (in a reload, to the new process) after at most one
// request, and none is lost. A connection idle between requests is
// reported idle; core closes it once it has received nothing for
// core.DrainQuiet. It runs on the connection's lane.
func (p *Protocol) OnConnDrain(c core.Connection) bool {
	st := p.state(c)
	st.goodbye.Store(true)
	st.mu.Lock()
	busy := st.pending.Load() || st.busy
	st.mu.Unlock()
	return !busy && !st.started && st.phase == phaseHead
}

// leaving reports whether the connection's next response is its last
// because the server is stopping: a graceful stop began (its Goer is
// draining: this catches the response a handler sends while the drain
// notice waits for the lane) or Stop said goodbye.
func (st *conn) leaving() bool {
	if st.goodbye.Load() {
		return true
	}
	g := st.c.Goer()
	return g != nil && g.Draining()
}
