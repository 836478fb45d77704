// Package core is the heart of goes: the Goer (a server), the connection
// state machine shared by every engine, the Protocol interface, the
// connection store, and the process lifecycle glue.
//
// A Goer listens on an address with a transport and frames the bytes with a
// protocol; each connection's events reach the callbacks:
//
//	import (
//		"github.com/shunhui19/goes/core"
//		"github.com/shunhui19/goes/protocol/text"
//		_ "github.com/shunhui19/goes/transport/tcp"
//	)
//
//	func main() {
//		g := core.NewGoer("127.0.0.1:8080", text.New(), "tcp")
//		g.OnConnect = func(c core.Connection) { c.Send("welcome", false) }
//		g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, false) }
//		g.OnClose = func(c core.Connection) {}
//		g.RunAll() // start | start -d | stop | restart | reload | status | connections
//	}
//
// What every connection can count on, whichever engine serves it:
//
//  1. Its callbacks never run at the same time: OnConnect, then OnMessage
//     in arrival order, then OnClose exactly once.
//  2. A callback may block without stalling other connections.
//  3. Send and Close are safe from any goroutine.
//  4. Send never blocks on a slow peer. Data queues up to MaxSendBufferSize;
//     reaching it fires OnBufferFull once; further sends fail with
//     ErrSendBufferFull and OnError; OnBufferDrain fires when the queue is
//     empty again. Messages never interleave. A connection whose queue
//     passes Goer.SendHighWater stops being read until the queue is
//     written out, so that a peer that reads slowly is slowed down rather
//     than have its answers refused.
//  5. A package over MaxPackageSize closes the connection with OnError.
//  6. A panic in a callback is recovered and logged with its stack; that
//     connection is closed; the server goes on.
//  7. Close, Stop and reload flush queued data (bounded by CloseTimeout)
//     before closing; data dropped at the timeout is logged and the
//     connection reset (RST), so the peer does not take it as complete.
//
// Engines (transport modules) drive a connection through Goer.Accept and
// the Stream it returns; they only move bytes. Transports register
// themselves by name when imported.
package core
