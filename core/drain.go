package core

import "time"

// DrainQuiet is how long an idle connection of a draining Goer (see
// Drainer) must have received nothing before core closes it. A peer in the
// middle of a conversation (a keep-alive client between two requests, a
// round trip away) sends its next message within it, and that message is
// answered (with "Connection: close", say) instead of being cut off by the
// close; a connection that was quiet longer is closed at once.
const DrainQuiet = time.Second

// The drain state of a connection (connExtra.drain).
const (
	drainNone  uint8 = iota
	drainEarly       // the drain came before OnConnect: Open runs it
	drainTold        // OnGracefulStop ran
)

// Draining reports whether a graceful stop (or the end of a reload) is
// under way: the Goer accepts no more connections and waits for the open
// ones to end. Safe for concurrent use.
func (g *Goer) Draining() bool { return g.draining.Load() }

// drainAll tells every open connection that a graceful stop began. The
// listener's Serve has returned, so every accepted connection is in the
// store.
func (g *Goer) drainAll() {
	g.Connections.Range(func(_ int, c *TCPConnection) bool {
		c.post(laneEvent{kind: evDrain})
		return true
	})
}

// drain runs on the lane when a graceful stop begins, and again while the
// protocol reports the connection idle but it received something less than
// DrainQuiet ago.
func (c *TCPConnection) drain() {
	if c.closing() {
		return
	}
	x := c.x()
	if !c.opened {
		x.drain = drainEarly
		return
	}
	if x.drain != drainTold {
		x.drain = drainTold
		c.call("OnGracefulStop", c.goer.OnGracefulStop)
		if c.closing() {
			return
		}
	}
	d, ok := c.Protocol.(Drainer)
	if !ok {
		return
	}
	idle := false
	func() {
		defer c.recoverCallback("Protocol.OnConnDrain")
		idle = d.OnConnDrain(c)
	}()
	if !idle || c.closing() {
		return
	}
	wait := time.Duration(c.lastActive.Load() + int64(DrainQuiet) - time.Now().UnixNano())
	if wait <= 0 && c.recvLen.Load() == 0 {
		c.Close("")
		return
	}
	// Bytes arrived a moment ago (the engine may hold some it read and
	// not yet handed over), or a package is under way: look again when
	// the connection has been quiet for DrainQuiet.
	if wait <= 0 {
		wait = DrainQuiet
	}
	if t := c.goer.timer.Load(); t != nil {
		t.Add(max(wait, 10*time.Millisecond), func(...any) { c.post(laneEvent{kind: evDrain}) }, nil, false)
	}
}
