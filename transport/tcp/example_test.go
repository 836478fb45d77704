package tcp_test

import (
	"bufio"
	"fmt"
	"net"

	"github.com/shunhui19/goes/core"
)

// A Goer echoing lines, run without the command line (as tests do) and
// called by a client.
func Example() {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.Logger = quietLogger()
	g.OnMessage = func(c core.Connection, data []byte) {
		c.Send("you said: "+string(data), false)
	}
	if err := g.Start(); err != nil {
		panic(err)
	}
	defer g.Stop()

	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "hello\n")
	reply, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(reply)
	// Output: you said: hello
}
