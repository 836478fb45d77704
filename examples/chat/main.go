// Command chat is the showcase: one port serves a chat page and its
// WebSocket endpoint. Pick a nickname and a room; messages, join and leave
// notices and the number of people online update live in every open page.
//
//	go run ./examples/chat start       # then open http://127.0.0.1:8080/
//	go run ./examples/chat start -d    # in the background; stop, reload, status as usual
//
// GOES_ADDR overrides the address (default 127.0.0.1:8080). With GOES_CERT
// and GOES_KEY (paths of a PEM certificate and its key) the same port
// speaks TLS: the page is at https:// and talks over wss://. With
// GOES_METRICS_ADDR (say 127.0.0.1:9100) Prometheus metrics are served at
// /metrics on that address; they start, reload and stop with the chat.
// The command line is left to RunAll.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	ch, err := fromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(2)
	}
	core.RunAll(goersOf(ch, os.Getenv("GOES_METRICS_ADDR"))...)
}

// goersOf returns the chat's Goer and, when metricsAddr is set, the one
// that serves its metrics there.
func goersOf(ch *chat, metricsAddr string) []*core.Goer {
	if metricsAddr == "" {
		return []*core.Goer{ch.goer}
	}
	return []*core.Goer{ch.goer, metrics.New(ch.goer).Goer(metricsAddr)}
}

// fromEnv makes the chat from GOES_ADDR, GOES_CERT and GOES_KEY.
func fromEnv(getenv func(string) string) (*chat, error) {
	addr := getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ch := newChat(addr)
	cert, key := getenv("GOES_CERT"), getenv("GOES_KEY")
	switch {
	case cert != "" && key != "":
		// The certificate is read when the Goer starts, so a reload
		// picks up a renewed one.
		ch.goer.Transport = "ssl"
		ch.goer.CertFile, ch.goer.KeyFile = cert, key
	case cert != "" || key != "":
		return nil, errors.New("GOES_CERT and GOES_KEY go together: set both for TLS, or neither")
	}
	return ch, nil
}
