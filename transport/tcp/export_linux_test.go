package tcp

import "github.com/shunhui19/goes/core"

// For the external tests: the client engine's loops (0 while stopped), and
// whether an event loop serves a socket.
var ClientLoops = clientLoops

func OnLoop(s core.Socket) bool {
	_, ok := s.(*econn)
	return ok || clientSocket(s) != nil
}
