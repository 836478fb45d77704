// Command chat is the showcase: one port serves a chat page and its
// WebSocket endpoint. Pick a nickname and a room; messages, join and leave
// notices and the number of people online update live in every open page.
//
//	go run ./examples/chat start       # then open http://127.0.0.1:8080/
//	go run ./examples/chat start -d    # in the background; stop, reload, status as usual
//
// GOES_ADDR overrides the address (default 127.0.0.1:8080); the command line
// is left to RunAll.
package main

import (
	"os"

	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	newChat(addr).goer.RunAll()
}
