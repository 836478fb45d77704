package tcp_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestSmoke(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) { c.Send("hello, goer\n", false) }
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hi"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "hello, goer\n" {
		t.Fatalf("got %q %v", line, err)
	}
}
