package core

import (
	"context"
	"fmt"
	"time"
)

// A client connection whose protocol opens with a handshake
// (ClientHandshaker): the handshake's deadline, a Close while it waits for
// the answer, and the hand-over of what was sent before the connection was
// up.

// startHandshakeLocked sends the protocol's handshake (ClientHandshaker)
// and bounds it by what is left of the connect's deadline; a.mu is held.
func (a *AsyncConnection) startHandshakeLocked(ctx context.Context, cx *connecting, c *TCPConnection) {
	if err := a.Protocol.(ClientHandshaker).ClientHandshake(c, a.Address); err != nil {
		c.post(laneEvent{kind: evError, code: ErrCodeConnectFail, msg: fmt.Sprintf("%v: %s: %v", ErrConnectFailed, a.Address, err)})
		c.Destroy()
		return
	}
	deadline, _ := ctx.Deadline()
	msg := fmt.Sprintf("%v: %s: no answer to the handshake", ErrConnectTimeout, a.Address)
	cx.hsDeadline = deadline
	cx.hsTimer = time.AfterFunc(time.Until(deadline), func() { c.post(laneEvent{kind: evHandshakeTimeout, msg: msg}) })
}

// closeDuringHandshakeLocked: Close came before the peer answered the
// handshake. The connection stays open for the answer, at most
// CloseTimeout more, so that what was queued goes out after it; established
// then closes it. a.mu is held.
func (a *AsyncConnection) closeDuringHandshakeLocked(cx *connecting, c *TCPConnection) {
	wait := a.closeTimeout()
	if time.Until(cx.hsDeadline) <= wait {
		return
	}
	cx.hsTimer.Stop()
	cx.hsDeadline = time.Now().Add(wait)
	msg := fmt.Sprintf("%v: %s: closed before the handshake was answered; no answer within CloseTimeout (%v), queued data dropped",
		ErrConnectTimeout, a.Address, wait)
	cx.hsTimer = time.AfterFunc(wait, func() { c.post(laneEvent{kind: evHandshakeTimeout, msg: msg}) })
}

// handOverLocked moves the sends queued before the connection was up into
// its queue, first (they were accepted already, so the limit does not
// refuse them now), with what waits for them: the Pipe sources paused for
// the queue (the low-water notice), a Pipe's closeWrite. a.mu and c.mu
// are held.
func (a *AsyncConnection) handOverLocked(cx *connecting, c *TCPConnection) {
	for _, p := range cx.pending {
		var err error
		if p.enc != nil {
			err = c.appendEncodedLocked(p.enc)
		} else {
			_, err = c.appendLocked(p.b, "", p.raw)
		}
		if err != nil {
			a.logger().Warn("queued send dropped", "conn", c.ID, "err", err)
		}
	}
	if cx.pendingFull {
		c.full = true // OnBufferFull fired for these; OnBufferDrain follows
	} else if !c.full && c.pendingLocked() >= int(c.maxSend.Load()) {
		c.full = true
		c.post(laneEvent{kind: evBufferFull})
	}
	cx.pending, cx.pendingN, cx.pendingFull = nil, 0, false
	if cx.low.armed() {
		c.x().low.addAll(cx.low.take())
	}
	if cx.closeWriteReq {
		c.x().writeClosed = true
		if c.idleLocked() {
			c.shutdownLocked()
		}
		cx.closeWriteReq = false
	}
}

// established runs before OnConnect: the connection is up, handshake
// included. After a handshake, what was queued meanwhile goes out now,
// encoded as the handshake settled; a Close that waited for the answer
// closes the connection behind it.
func (a *AsyncConnection) established() {
	a.mu.Lock()
	a.attempt = 0
	cx, c := a.cx, a.conn
	if cx == nil || a.state != acOpen {
		a.dropConnectingLocked()
		a.mu.Unlock()
		return
	}
	c.mu.Lock()
	a.handOverLocked(cx, c)
	closeReq, data := cx.closeReq, cx.closeMsg
	a.dropConnectingLocked()
	a.mu.Unlock()
	c.kickLocked()
	if closeReq {
		c.Close(data)
	}
}

// dropConnectingLocked ends what is left of a connect once the connection
// is up or closed: the handshake's timer; a.mu is held.
func (a *AsyncConnection) dropConnectingLocked() {
	if cx := a.cx; cx != nil && a.state != acConnecting {
		if cx.hsTimer != nil {
			cx.hsTimer.Stop()
		}
		a.cx = nil
	}
}
