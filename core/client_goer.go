package core

import (
	"log/slog"
	"os"
	"sync"
	"time"
)

// The Goer that serves AsyncConnections. The state machine of a client's
// connection (TCPConnection) belongs to a Goer like an accepted one; an
// AsyncConnection does not own one: the AsyncConnections of a Server
// share one Goer of the Server's (Goer.clients), those without a Server
// share another (defaultClients). What differs from one AsyncConnection
// to the next (protocol, limits, CloseTimeout, logger, counters,
// callbacks) its connections read from it through their link
// (connLink.client), so an idle client connection costs its
// AsyncConnection and its TCPConnection alone. An AsyncConnection with a
// Logger of its own gets a Goer of its own with that Logger, for the
// protocols that log through Connection.Goer.

var (
	defaultClientsOnce sync.Once
	defaultClients     *Goer
)

// clientGoer returns the Goer that serves the connections of an
// AsyncConnection with this Server and Logger.
func clientGoer(server *Goer, logger *slog.Logger) *Goer {
	switch {
	case logger != nil:
		return newClientGoer(server, logger)
	case server != nil:
		if g := server.clients.Load(); g != nil {
			return g
		}
		g := newClientGoer(server, nil)
		if server.clients.CompareAndSwap(nil, g) {
			return g
		}
		return server.clients.Load()
	}
	defaultClientsOnce.Do(func() { defaultClients = newClientGoer(nil, nil) })
	return defaultClients
}

func newClientGoer(server *Goer, logger *slog.Logger) *Goer {
	g := &Goer{Name: "client", Logger: logger, parent: server, Connections: noStore{}}
	g.setDefaults()
	g.OnConnect = clientOnConnect
	g.OnMessage = clientOnMessage
	g.OnClose = clientOnClose
	g.OnError = clientOnError
	g.OnBufferFull = clientOnBufferFull
	g.OnBufferDrain = clientOnBufferDrain
	return g
}

// The callbacks of a client Goer pass each event on to the connection's
// AsyncConnection, which its callbacks receive.

func clientOf(c Connection) *AsyncConnection { return c.(*TCPConnection).client() }

func clientOnConnect(c Connection) {
	a := clientOf(c)
	a.established()
	call(a.OnConnect, a)
}

func clientOnMessage(c Connection, data []byte) {
	a := clientOf(c)
	if f := a.OnMessage; f != nil {
		f(a, data)
	}
}

func clientOnClose(c Connection) { clientOf(c).closed() }

func clientOnError(c Connection, code int, msg string) {
	a := clientOf(c)
	if f := a.OnError; f != nil {
		f(a, code, msg)
	}
}

func clientOnBufferFull(c Connection) {
	a := clientOf(c)
	call(a.OnBufferFull, a)
}

func clientOnBufferDrain(c Connection) {
	a := clientOf(c)
	call(a.OnBufferDrain, a)
}

// logger is a's Logger, else its Server's, else slog.Default.
func (a *AsyncConnection) logger() *slog.Logger {
	switch {
	case a.Logger != nil:
		return a.Logger
	case a.Server != nil:
		return a.Server.logger()
	}
	return slog.Default()
}

// name names a in the log.
func (a *AsyncConnection) name() string { return "client " + a.Address }

// engine is the engine a's connections are served by: the Server's, else
// GOES_ENGINE's (empty: the transport's default).
func (a *AsyncConnection) engine() string {
	if a.Server != nil && a.Server.Engine != "" {
		return a.Server.Engine
	}
	return os.Getenv("GOES_ENGINE")
}

// maxSend is MaxSendBufferSize, or its default.
func (a *AsyncConnection) maxSend() int {
	return positiveOr(a.MaxSendBufferSize, DefaultMaxSendBufferSize)
}

// closeTimeout is CloseTimeout, or its default.
func (a *AsyncConnection) closeTimeout() time.Duration {
	return positiveOr(a.CloseTimeout, DefaultCloseTimeout)
}
