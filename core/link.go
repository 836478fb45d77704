package core

import (
	"log/slog"
	"time"
	"unsafe"
)

// connLink is what an AsyncConnection or a Pipe attaches to a connection
// (TCPConnection.link): most connections have none. A client's
// connections share their AsyncConnection's (AsyncConnection.link), so
// that what a Pipe set up before the connect holds for every connection
// it makes; an accepted connection gets one from its first Pipe.
type connLink struct {
	// out is where a Pipe forwards the connection's messages, and its
	// peer's EOF (halfclose.go); nil: not piped. Set on the connection's
	// lane or before it is connected, under its lock.
	out Piper
	// pipedInto: a Pipe writes into the connection (halfclose.go); under
	// the connection's lock.
	pipedInto bool
	// client: the link is an AsyncConnection's (AsyncConnection.link),
	// whose settings, callbacks and counters replace the Goer's (see
	// clientGoer); false for an accepted connection's.
	client bool
	// handshake: the client's protocol opens with a handshake
	// (ClientHandshaker): OnConnect waits for ErrEstablished. Set before
	// the connection is served.
	handshake bool
}

// linkOrNew returns c's link, making it on first use. Any goroutine may
// call it.
func (c *TCPConnection) linkOrNew() *connLink {
	if l := c.link.Load(); l != nil {
		return l
	}
	l := new(connLink)
	if c.link.CompareAndSwap(nil, l) {
		return l
	}
	return c.link.Load()
}

// client returns the AsyncConnection c belongs to, or nil.
func (c *TCPConnection) client() *AsyncConnection {
	if l := c.link.Load(); l != nil && l.client {
		// The link is the AsyncConnection's own field: the
		// AsyncConnection is the memory around it. A pointer back would
		// cost every link.
		return (*AsyncConnection)(unsafe.Add(unsafe.Pointer(l), -int(unsafe.Offsetof(AsyncConnection{}.link))))
	}
	return nil
}

// handshake reports whether OnConnect waits for the protocol's handshake
// (a client's ClientHandshaker).
func (c *TCPConnection) handshake() bool {
	l := c.link.Load()
	return l != nil && l.handshake
}

// stats are the counters c counts in: its AsyncConnection's, else its
// Goer's.
func (c *TCPConnection) stats() *Stats {
	if a := c.client(); a != nil {
		return &a.st.stats
	}
	return &c.goer.stats
}

// logger is the logger of c's AsyncConnection, else of its Goer.
func (c *TCPConnection) logger() *slog.Logger {
	if a := c.client(); a != nil {
		return a.logger()
	}
	return c.goer.logger()
}

// ownerName names c's Goer, or its AsyncConnection, in the log.
func (c *TCPConnection) ownerName() string {
	if a := c.client(); a != nil {
		return a.name()
	}
	return c.goer.name()
}

// closeTimeout bounds c's Close (CloseTimeout of its AsyncConnection, else
// of its Goer).
func (c *TCPConnection) closeTimeout() time.Duration {
	if a := c.client(); a != nil {
		return a.closeTimeout()
	}
	return c.goer.CloseTimeout
}
