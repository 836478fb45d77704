package core

import (
	"fmt"
	"runtime/debug"
)

// The lane of an AsyncUdpConnection, as for a TCPConnection: callbacks run
// while laneMu is held; other goroutines post events, which the holder
// runs before letting go.

type udpEvent struct {
	s    *udpSession
	kind uint8 // evBufferFull, evBufferDrain, evError
	code int
	msg  string
}

// maxUdpEvents bounds the events waiting for a busy lane: a flood of
// refused sends is reported up to this many, then only counted.
const maxUdpEvents = 1024

func (a *AsyncUdpConnection) post(ev udpEvent) {
	a.evMu.Lock()
	if len(a.events) >= maxUdpEvents {
		a.evMu.Unlock()
		return
	}
	a.events = append(a.events, ev)
	a.evMu.Unlock()
	if a.laneMu.TryLock() {
		go a.unlockLane()
	}
}

// runEvents runs the posted events; the lane is held.
func (a *AsyncUdpConnection) runEvents() {
	a.evMu.Lock()
	evs := a.events
	a.events = nil
	a.evMu.Unlock()
	for _, ev := range evs {
		if ev.s != nil && ev.s.done {
			continue
		}
		switch ev.kind {
		case evBufferFull:
			a.stats.BufferFull.Add(1)
			a.call(ev.s, "OnBufferFull", a.OnBufferFull)
		case evBufferDrain:
			a.call(ev.s, "OnBufferDrain", a.OnBufferDrain)
		case evError:
			a.callError(ev.s, ev.code, ev.msg)
		}
	}
}

// unlockLane runs the posted events and releases the lane. Events posted
// meanwhile by a poster that found the lane taken are run by a goroutine
// of their own, not by the caller: a flood of them must not keep the
// reader from reading, nor OnClose from running.
func (a *AsyncUdpConnection) unlockLane() {
	a.runEvents()
	a.laneMu.Unlock()
	a.evMu.Lock()
	empty := len(a.events) == 0
	a.evMu.Unlock()
	if !empty && a.laneMu.TryLock() {
		go a.unlockLane()
	}
}

// call runs a callback of s on the lane, recovering a panic.
func (a *AsyncUdpConnection) call(s *udpSession, name string, f func(Connection)) {
	if f == nil {
		return
	}
	defer a.recoverCallback(s, name)
	f(a)
}

// callError runs OnError on the lane and counts the error.
func (a *AsyncUdpConnection) callError(s *udpSession, code int, msg string) {
	a.stats.countError(code)
	a.logger().Debug("connection error", "conn", a.GetID(), "remote", a.Address, "code", code, "err", msg)
	if f := a.OnError; f != nil {
		defer a.recoverCallback(s, "OnError")
		f(a, code, msg)
	}
}

// recoverCallback logs a callback's panic with its stack, reports it and
// closes the socket; the program goes on.
func (a *AsyncUdpConnection) recoverCallback(s *udpSession, name string) {
	r := recover()
	if r == nil {
		return
	}
	a.stats.Panics.Add(1)
	a.logger().Error("callback panicked", "callback", name, "conn", a.GetID(), "remote", a.Address,
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if name != "OnError" {
		a.callError(s, ErrCodePanic, fmt.Sprintf("%s panicked: %v", name, r))
	}
	if s != nil {
		a.closeSession(s, "")
	}
}
