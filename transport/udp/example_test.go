package udp_test

import (
	"fmt"
	"time"

	"github.com/shunhui19/goes/core"
)

// A datagram client (workerman's AsyncUdpConnection) asks a UDP Goer and
// prints the answer.
func Example_client() {
	g := core.NewGoer("127.0.0.1:0", nil, "udp")
	g.Logger = quiet()
	g.OnMessage = func(c core.Connection, data []byte) {
		c.Send("you said: "+string(data), false)
	}
	if err := g.Start(); err != nil {
		panic(err)
	}
	defer g.Stop()

	done := make(chan struct{})
	c := core.NewAsyncUdpConnection("udp://"+g.Addr().String(), nil)
	c.OnConnect = func(c core.Connection) { c.Send("hello", false) }
	c.OnMessage = func(c core.Connection, data []byte) {
		fmt.Printf("%s\n", data)
		c.Close("")
	}
	c.OnError = func(_ core.Connection, code int, msg string) { fmt.Println("error", code, msg) }
	c.OnClose = func(core.Connection) { close(done) }
	c.Connect()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // UDP may lose a datagram, even on loopback
		c.Destroy()
		<-done
	}
	// Output: you said: hello
}
