package core

// How an AsyncUdpConnection ends and starts again: Close, Destroy, the
// Server's stop, Reconnect.

import "time"

// watchServer closes s when the Server stops.
func (a *AsyncUdpConnection) watchServer(g *Goer, s *udpSession) {
	select {
	case <-g.Done():
		a.mu.Lock()
		current := a.sess == s
		if current {
			a.stopped = true
			a.stopRetryLocked()
		}
		a.mu.Unlock()
		if current {
			a.closeSession(s, "")
		}
	case <-s.stop:
	}
}

func (a *AsyncUdpConnection) stopRetryLocked() {
	if a.retry != nil {
		a.retry.Stop()
		a.retry = nil
	}
}

// Reconnect makes a new socket after d: from OnClose, say, or to replace
// an open one (which is closed first, what is queued sent). While a
// connect is under way it does nothing. Safe for concurrent use.
func (a *AsyncUdpConnection) Reconnect(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = false
	if a.sess != nil {
		a.beginCloseLocked(a.sess)
	}
	a.reconnectLocked(d, false)
}

// reconnectLocked connects after d; auto: for AutoReconnect, which a
// stopped Server ends.
func (a *AsyncUdpConnection) reconnectLocked(d time.Duration, auto bool) {
	a.stopRetryLocked()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.retry != t || a.stopped || auto && a.serverStopped() {
			return
		}
		a.retry = nil
		switch a.state {
		case udpClosing: // the old socket is still closing
			a.reconnectLocked(10*time.Millisecond, auto)
		case udpIdle:
			a.connectLocked()
		} // connecting or open again meanwhile: nothing to do
	})
	a.retry = t
}

// Close sends data (encoded, if not empty) and what is queued, bounded by
// CloseTimeout, then closes the socket; OnClose follows. While connecting,
// what was sent goes out once the socket is made, then it closes. No
// automatic reconnect follows. Safe for concurrent use.
func (a *AsyncUdpConnection) Close(data string) {
	a.mu.Lock()
	a.stopped = true
	a.stopRetryLocked()
	switch a.state {
	case udpOpen:
		s := a.sess
		a.mu.Unlock()
		a.closeSession(s, data)
		return
	case udpConnecting:
		a.closeReq, a.closeMsg = true, data
	}
	a.mu.Unlock()
}

// closeSession sends data, then closes s once its queue is written.
func (a *AsyncUdpConnection) closeSession(s *udpSession, data string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.closing.Load() {
		return
	}
	if data != "" {
		a.sendOnLocked(s, []byte(data))
	}
	a.beginCloseLocked(s)
}

// beginCloseLocked closes s, or has the writer close it once the queue is
// written; a.mu is held.
func (a *AsyncUdpConnection) beginCloseLocked(s *udpSession) {
	if s.closing.Load() {
		return
	}
	s.closing.Store(true)
	a.resumeLocked(s) // the reader reads on (and drops) until the socket closes
	if a.sess == s {
		a.state = udpClosing
	}
	if s.writing {
		// The writer closes the socket when the queue is written; a
		// kernel that takes nothing more ends it at the deadline.
		s.sock.SetWriteDeadline(time.Now().Add(a.closeTimeout()))
		return
	}
	s.dead = true
	s.sock.Close()
}

// Destroy closes at once, dropping what is queued; a connect in progress
// is abandoned and reported with OnClose. No automatic reconnect follows.
// Safe for concurrent use.
func (a *AsyncUdpConnection) Destroy() {
	a.mu.Lock()
	a.stopped = true
	a.stopRetryLocked()
	switch a.state {
	case udpOpen, udpClosing:
		s := a.sess
		s.closing.Store(true)
		s.dead = true
		s.queue, s.queued = nil, 0
		a.resumeLocked(s)
		a.state = udpClosing
		s.sock.Close()
	case udpConnecting:
		a.destroy = true
		a.pending, a.pendingN = nil, 0
		a.cancel()
	}
	a.mu.Unlock()
}
