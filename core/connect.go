package core

// What the two client connections (AsyncConnection, AsyncUdpConnection)
// share around a connect.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// connectFailMsg is what OnError says of a failed connect: ErrConnectTimeout
// or ErrConnectFailed with the address and the cause, or the cause alone
// when it is goes's own (an unknown scheme, a stopped Server).
func connectFailMsg(ctx context.Context, address string, err error) string {
	if errors.Is(err, ErrUnknownTransport) || errors.Is(err, ErrServerStopped) {
		return err.Error()
	}
	kind := ErrConnectFailed
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		kind = ErrConnectTimeout
	}
	return fmt.Sprintf("%v: %s: %v", kind, address, err)
}

// positiveOr is v when it is positive, else def: a limit or a timeout
// that zero (or less) leaves to its default.
func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// serverStopping reports whether a client's Server (nil: none) is stopping
// or stopped: automatic reconnection ends then.
func serverStopping(g *Goer) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == goerStopping || g.state == goerStopped
}
