// Command cluster is the chat of examples/chat (same page, same /ws
// endpoint, same JSON messages) run as several processes that share their
// rooms through NATS: people on different processes, behind a load
// balancer or on different ports, talk in the same rooms and see one
// online count.
//
//	GOES_ADDR=127.0.0.1:8081 go run ./examples/cluster start
//	GOES_ADDR=127.0.0.1:8082 go run ./examples/cluster start
//	GOES_ADDR=127.0.0.1:8083 go run ./examples/cluster start
//
// then open http://127.0.0.1:8081/ and http://127.0.0.1:8082/ side by side.
//
// Each process uses the NATS server at GOES_NATS (default
// nats://127.0.0.1:4222). When nothing listens there, the process embeds a
// NATS server at that address and the others connect to it. If that
// process stops, each process keeps serving its own clients, sends to
// other processes fail, and the first process to notice embeds a new
// server at the same address; the others reconnect to it and the rooms
// join up again (messages sent meanwhile are lost: core NATS keeps
// nothing).
//
// With GOES_NATS_ROUTE (this process's route address) and GOES_NATS_ROUTES
// (every process's route address, comma-separated), every process embeds
// its own NATS server and the servers form a NATS cluster, so no process
// is a single point of failure: when one dies, only its own clients are
// gone.
//
//	GOES_ADDR=127.0.0.1:8081 GOES_NATS_ROUTE=127.0.0.1:6221 GOES_NATS_ROUTES=127.0.0.1:6221,127.0.0.1:6222 go run ./examples/cluster start
//	GOES_ADDR=127.0.0.1:8082 GOES_NATS_ROUTE=127.0.0.1:6222 GOES_NATS_ROUTES=127.0.0.1:6221,127.0.0.1:6222 go run ./examples/cluster start
//
// stop, reload and status work as for every example; a reloaded process
// joins the cluster under a new node id while the old one drains.
package main

import (
	"os"

	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	newChat(configFromEnv(os.Getenv)).goer.RunAll()
}
