package core

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
)

// Transport listens for a Goer. Transport modules register themselves by
// name when they are imported:
//
//	import _ "github.com/shunhui19/goes/transport/tcp" // tcp, tcp4, tcp6, unix, ssl
//	import _ "github.com/shunhui19/goes/transport/udp" // udp, udp4, udp6, unixgram
type Transport interface {
	// Listen opens the Goer's listening socket. It does not serve yet.
	Listen(g *Goer) (Listener, error)
}

// Listener is a Goer's open listening socket.
type Listener interface {
	// Serve accepts (or reads datagrams) until Close; it then returns nil.
	Serve() error
	// Close stops accepting. Open connections are not touched.
	Close() error
	// Addr is the address actually bound (the real port for ":0").
	Addr() net.Addr
}

// Finisher is implemented by listeners whose engine outlives Close (event
// loops serving the remaining connections): Finish runs once every
// connection has ended, and releases the engine.
type Finisher interface {
	Finish()
}

// The registry of linked transports, filled by the transport modules' init
// functions and read-only afterwards.
var (
	transportsMu sync.RWMutex
	transports   = map[string]Transport{}
)

// RegisterTransport makes t serve the given transport names. A transport
// module calls it from init.
func RegisterTransport(t Transport, names ...string) {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	for _, n := range names {
		transports[strings.ToLower(n)] = t
	}
}

// transportModules names the module that serves each known transport, for
// the error when it is not linked in.
var transportModules = map[string]string{
	"tcp": "transport/tcp", "tcp4": "transport/tcp", "tcp6": "transport/tcp",
	"unix": "transport/tcp", "ssl": "transport/tcp", "tls": "transport/tcp",
	"udp": "transport/udp", "udp4": "transport/udp", "udp6": "transport/udp",
	"unixgram": "transport/udp",
}

func lookupTransport(name string) (Transport, error) {
	name = strings.ToLower(name)
	transportsMu.RLock()
	t, ok := transports[name]
	transportsMu.RUnlock()
	if ok {
		return t, nil
	}
	if m, ok := transportModules[name]; ok {
		return nil, fmt.Errorf("%w %q: its module is not linked in; add: import _ \"github.com/shunhui19/goes/%s\"", ErrUnknownTransport, name, m)
	}
	known := make([]string, 0, len(transportModules))
	for n := range transportModules {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTransport, name, strings.Join(known, ", "))
}
