package core

import "time"

// A Server's live clients: the AsyncConnections whose Server it is, from
// their Connect until their OnClose has returned with no connect to
// follow. Stop closes them once its own connections have ended, and waits
// for them: what they queued (a Pipe's bytes from an accepted connection,
// say) is written before the process may exit. The list runs through the
// AsyncConnections' clientState, so it costs a Server nothing per client
// beyond two pointers.

// liveClients is a Server's list (Goer.live).
type liveClients struct {
	head *AsyncConnection
	n    int
	gone chan struct{} // closed when n drops to 0; made by a waiter
}

// has reports whether a is on the list; the Server's liveMu is held.
func (l *liveClients) has(a *AsyncConnection) bool { return a.st.prev != nil || l.head == a }

// trackLocked adds a to its Server's list, unless it is there or has no
// Server; a.mu is held (then the Server's liveMu: the order everywhere).
func (a *AsyncConnection) trackLocked() {
	g := a.Server
	if g == nil {
		return
	}
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if g.live.has(a) {
		return
	}
	a.st.prev, a.st.next = nil, g.live.head
	if g.live.head != nil {
		g.live.head.st.prev = a
	}
	g.live.head = a
	g.live.n++
}

// untrackLocked takes a off its Server's list; a.mu is held.
func (a *AsyncConnection) untrackLocked() {
	g := a.Server
	if g == nil {
		return
	}
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if !g.live.has(a) {
		return
	}
	if a.st.prev != nil {
		a.st.prev.st.next = a.st.next
	} else {
		g.live.head = a.st.next
	}
	if a.st.next != nil {
		a.st.next.st.prev = a.st.prev
	}
	a.st.prev, a.st.next = nil, nil
	g.live.n--
	if g.live.n == 0 && g.live.gone != nil {
		close(g.live.gone)
		g.live.gone = nil
	}
}

// liveSnapshot returns g's live clients, and a channel closed once there
// are none (nil: there are none now).
func (g *Goer) liveSnapshot() ([]*AsyncConnection, chan struct{}) {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if g.live.n == 0 {
		return nil, nil
	}
	as := make([]*AsyncConnection, 0, g.live.n)
	for a := g.live.head; a != nil; a = a.st.next {
		as = append(as, a)
	}
	if g.live.gone == nil {
		g.live.gone = make(chan struct{})
	}
	return as, g.live.gone
}

// closeClients closes g's live clients, each after what it queued is
// written, and waits up to window (a second at least) for them to end;
// those still open then are destroyed, and waited for up to
// DefaultCloseTimeout more. Stop gives them what is left of the window its
// own connections had, so that a stop takes one close timeout, not two,
// when peers keep their ends open.
func (g *Goer) closeClients(window time.Duration) {
	as, gone := g.liveSnapshot()
	if gone == nil {
		return
	}
	for _, a := range as {
		a.Close("")
	}
	t := time.NewTimer(max(window, time.Second))
	defer t.Stop()
	select {
	case <-gone:
		return
	case <-t.C:
	}
	// Clients made meanwhile (by a callback of a closing one) are on the
	// list too.
	as, gone = g.liveSnapshot()
	if gone == nil {
		return
	}
	g.logger().Info("client connections did not end within the close timeout; destroying them", "goer", g.name(), "open", len(as))
	for _, a := range as {
		a.Destroy()
	}
	t.Reset(DefaultCloseTimeout)
	select {
	case <-gone:
	case <-t.C:
		g.logger().Error("client connections still busy in a callback; stopping without them", "goer", g.name())
	}
}
