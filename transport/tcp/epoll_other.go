//go:build !linux

package tcp

import (
	"context"
	"errors"
	"net"

	"github.com/shunhui19/goes/core"
)

// DefaultEngine serves a Goer whose Engine is empty (and GOES_ENGINE
// unset): the epoll engine on Linux, the goroutine engine elsewhere.
const DefaultEngine = "goroutine"

// The epoll engine exists on Linux only; elsewhere asking for it fails
// with this error at Listen.
type epollEngine struct{}

func newEpollEngine(*core.Goer, net.Listener) (*epollEngine, error) {
	return nil, errors.New("goes: the epoll engine needs Linux; use the goroutine engine")
}

func (e *epollEngine) serve() error   { return nil }
func (e *epollEngine) stopAccepting() {}
func (e *epollEngine) shutdown()      {}

func dialEpoll(context.Context, string, string, net.Addr) (core.Socket, error) {
	return nil, errors.New("goes: the epoll engine needs Linux; use the goroutine engine")
}

func serveOnLoop(*core.Stream) bool { return false }
