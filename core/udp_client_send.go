package core

// The send side of an AsyncUdpConnection: every Send is one datagram,
// written at once when the kernel takes it, else queued for a writer
// goroutine (MaxSendBufferSize at most), so that Send never blocks.

import (
	"errors"
	"fmt"
	"os"
)

// Send implements Connection: data, encoded by the protocol unless raw,
// goes out as one datagram. It never blocks. Before the socket is made,
// or while the kernel's buffer is full, the datagram is queued: up to
// MaxSendBufferSize, which fires OnBufferFull once (OnBufferDrain once
// the queue is written; after OnConnect for a queue that waited for the
// socket), then ErrSendBufferFull. A datagram longer than MaxPackageSize
// is refused with ErrPackageTooLarge; without a socket, or once Close
// began, ErrClosed. Refusals are reported to OnError with ErrCodeSendFail
// too, except when there is no socket and none is being made. A nil error
// means the datagram was handed to the kernel or queued for it, not that
// it arrived. Safe for concurrent use.
func (a *AsyncUdpConnection) Send(data string, raw bool) error {
	return a.send([]byte(data), raw, true)
}

// SendBytes implements Connection; data may be reused when it returns.
func (a *AsyncUdpConnection) SendBytes(data []byte, raw bool) error {
	return a.send(data, raw, false)
}

// send encodes b and sends it on the current socket, or queues it while
// connecting. owned: b is the caller's copy, which may be kept. The
// protocol's Encode runs under a.mu, as for a TCPConnection: one at a
// time, in the order the datagrams leave.
func (a *AsyncUdpConnection) send(b []byte, raw, owned bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sess
	switch {
	case a.state == udpIdle || a.state == udpClosing:
		a.sendFailed(s, ErrClosed)
		return ErrClosed
	case a.closeReq: // closing once the socket is made
		a.stats.SendFailures.Add(1)
		return ErrClosed
	}
	d, encoded, closeAfter, err := a.encode(b, raw)
	if err != nil {
		a.sendFailed(s, err)
		return err
	}
	owned = owned || encoded
	if a.state == udpOpen {
		err := a.writeLocked(s, d, owned, false)
		if err == nil && closeAfter {
			a.beginCloseLocked(s)
		}
		return err
	}
	// Connecting: the datagram waits for the socket, within the limits
	// and with the callbacks of a connected queue.
	if a.pendingN >= a.maxSend() {
		a.sendFailed(nil, ErrSendBufferFull)
		return ErrSendBufferFull
	}
	if !owned {
		d = append([]byte(nil), d...)
	}
	a.pending = append(a.pending, d)
	a.pendingN += len(d)
	a.stats.Sent.Add(1)
	if !a.pendingFull && a.pendingN >= a.maxSend() {
		a.pendingFull = true
		a.post(udpEvent{kind: evBufferFull})
	}
	if closeAfter {
		a.closeReq = true
	}
	return nil
}

// sendOn sends b on s, whether or not s is still the current socket;
// a.mu is held.
func (a *AsyncUdpConnection) sendOnLocked(s *udpSession, b []byte) error {
	d, _, _, err := a.encode(b, false)
	if err != nil {
		a.sendFailed(s, err)
		return err
	}
	return a.writeLocked(s, d, true, false)
}

// encode frames b as one datagram and checks its size. encoded: d is a
// new slice; closeAfter: the protocol said this is the last message.
func (a *AsyncUdpConnection) encode(b []byte, raw bool) (d []byte, encoded, closeAfter bool, err error) {
	d = b
	if p := a.Protocol; p != nil && !raw {
		d, err = p.Encode(a, nil, b)
		if err != nil && !errors.Is(err, ErrCloseAfter) {
			return nil, false, false, fmt.Errorf("goes: encode: %w", err)
		}
		encoded, closeAfter = true, err != nil
	}
	if limit := a.maxDatagram(); len(d) > limit {
		return nil, false, false, fmt.Errorf("%w: a datagram of %d bytes, limit %d", ErrPackageTooLarge, len(d), limit)
	}
	return d, encoded, closeAfter, nil
}

// sendFailed counts a refused send and reports it to OnError when there
// is a socket (s) or one is being made; a.mu is held. Without either the
// error is only returned.
func (a *AsyncUdpConnection) sendFailed(s *udpSession, err error) {
	a.stats.SendFailures.Add(1)
	if s != nil || a.state == udpConnecting {
		a.post(udpEvent{s: s, kind: evError, code: ErrCodeSendFail, msg: err.Error()})
	}
}

// writeLocked sends d on s, at once if the kernel takes it, else through
// the queue; a.mu is held. queued: d was accepted while connecting, and
// the limit does not refuse it now.
func (a *AsyncUdpConnection) writeLocked(s *udpSession, d []byte, owned, queued bool) error {
	if s.closing.Load() && !queued || s.dead {
		a.sendFailed(s, ErrClosed)
		return ErrClosed
	}
	if len(s.queue) == 0 && !s.writing && s.tw != nil {
		sent, err := a.tryWrite(s, d)
		if err != nil {
			err = fmt.Errorf("goes: send to %s: %w", a.Address, err)
			a.sendFailed(s, err)
			return err
		}
		if sent {
			a.accepted(queued)
			return nil
		}
	}
	if s.queued >= a.maxSend() && !queued {
		a.sendFailed(s, ErrSendBufferFull)
		return ErrSendBufferFull
	}
	if !owned {
		d = append([]byte(nil), d...)
	}
	s.queue = append(s.queue, d)
	s.queued += len(d)
	a.accepted(queued)
	if !s.full && s.queued >= a.maxSend() {
		s.full = true
		a.post(udpEvent{s: s, kind: evBufferFull})
	}
	if !s.writing {
		s.writing = true
		go a.writer(s)
	}
	return nil
}

// tryWrite writes d if the kernel takes it now; sent is false when its
// buffer is full. A report that an earlier datagram was not delivered
// is passed to OnError, and d is written anyway: the kernel refused the
// news, not d.
func (a *AsyncUdpConnection) tryWrite(s *udpSession, d []byte) (sent bool, err error) {
	for try := 0; ; try++ {
		n, err := s.tw.TryWrite(d)
		if err == nil {
			if n < len(d) && (n > 0 || len(d) == 0) {
				return false, fmt.Errorf("short write (%d of %d bytes)", n, len(d))
			}
			if n == 0 && len(d) > 0 {
				return false, nil
			}
			a.sent(len(d))
			return true, nil
		}
		if try > 0 || !unreachable(err) {
			return false, err
		}
		a.post(udpEvent{s: s, kind: evError, code: ErrCodeConnectFail, msg: a.unreachableMsg(err)})
	}
}

// accepted counts a datagram Send took (once: those that waited for the
// socket were counted then).
func (a *AsyncUdpConnection) accepted(counted bool) {
	if !counted {
		a.stats.Sent.Add(1)
	}
}

func (a *AsyncUdpConnection) sent(n int) {
	a.stats.BytesWritten.Add(int64(n))
}

// writer writes the queue of s with blocking writes, then ends; it closes
// the socket when Close was waiting for the queue.
func (a *AsyncUdpConnection) writer(s *udpSession) {
	for {
		a.mu.Lock()
		if len(s.queue) == 0 || s.dead {
			drained := s.full && !s.dead
			s.writing, s.full = false, false
			s.queue, s.queued = nil, 0
			closing := s.closing.Load()
			if closing {
				s.dead = true
			}
			a.mu.Unlock()
			if drained {
				a.post(udpEvent{s: s, kind: evBufferDrain})
			}
			if closing {
				s.sock.Close()
			}
			return
		}
		d := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		a.mu.Unlock()

		err := a.writeBlocking(s, d)

		a.mu.Lock()
		if !s.dead {
			s.queued -= len(d)
		}
		if err != nil && !s.dead {
			if isClosedError(err) || errors.Is(err, os.ErrDeadlineExceeded) {
				// Closed, or Close's deadline passed: the rest is dropped.
				s.dead = true
			}
			a.sendFailed(s, fmt.Errorf("goes: send to %s: %w", a.Address, err))
		}
		low := a.lowWaterLocked(s)
		a.mu.Unlock()
		if low != nil {
			low() // unlocked: it resumes a piped source, whose lock it takes
		}
	}
}

// writeBlocking writes d, waiting for the kernel to take it.
func (a *AsyncUdpConnection) writeBlocking(s *udpSession, d []byte) error {
	for try := 0; ; try++ {
		_, err := s.sock.Write(d)
		if err == nil {
			a.sent(len(d))
			return nil
		}
		if try > 0 || !unreachable(err) {
			return err
		}
		a.post(udpEvent{s: s, kind: evError, code: ErrCodeConnectFail, msg: a.unreachableMsg(err)})
	}
}

// SendQueueSize returns the bytes of datagrams accepted by Send and not
// yet handed to the kernel, those waiting for the connect included.
func (a *AsyncUdpConnection) SendQueueSize() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sess != nil {
		return a.sess.queued
	}
	return a.pendingN
}
