package core

import "time"

// countError counts an OnError report. Codes outside the ErrCode* range
// share slot 0.
func (s *Stats) countError(code int) {
	if code < 0 || code >= len(s.errs) {
		code = 0
	}
	s.errs[code].Add(1)
}

// Errors returns how many errors with code (an ErrCode* constant) the
// Goer's connections reported, whether or not OnError is set. Errors(0)
// counts the codes outside the ErrCode* range. Safe for concurrent use.
func (s *Stats) Errors(code int) int64 {
	if code < 0 || code >= len(s.errs) {
		return 0
	}
	return s.errs[code].Load()
}

// ErrorCodes lists the codes Stats.Errors counts, ErrCodeConnectFail to
// ErrCodeIO.
func ErrorCodes() []int {
	return []int{ErrCodeConnectFail, ErrCodeSendFail, ErrCodePackageTooLarge, ErrCodeProtocol, ErrCodePanic, ErrCodeIdleTimeout, ErrCodeIO}
}

// ErrorName is a short lowercase name for an ErrCode* code ("send_fail",
// "protocol", ...), "other" for any other code.
func ErrorName(code int) string {
	switch code {
	case ErrCodeConnectFail:
		return "connect_fail"
	case ErrCodeSendFail:
		return "send_fail"
	case ErrCodePackageTooLarge:
		return "package_too_large"
	case ErrCodeProtocol:
		return "protocol"
	case ErrCodePanic:
		return "panic"
	case ErrCodeIdleTimeout:
		return "idle_timeout"
	case ErrCodeIO:
		return "io"
	}
	return "other"
}

// OpenConnections returns the number of open stream connections. Safe for
// concurrent use.
func (g *Goer) OpenConnections() int { return int(g.open.Load()) }

// PendingTimers returns the number of tasks on the Goer's timing wheel (0
// while it has none). Safe for concurrent use.
func (g *Goer) PendingTimers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.timer.Load(); t != nil {
		return t.Len()
	}
	return 0
}

// Started returns when the Goer last started listening (zero before).
// Safe for concurrent use.
func (g *Goer) Started() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started
}

// Running reports whether the Goer is serving (started, not stopping).
// Safe for concurrent use.
func (g *Goer) Running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == goerRunning
}
