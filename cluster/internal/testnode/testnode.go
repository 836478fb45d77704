// Package testnode serves a cluster.Node's connections over loopback for
// the tests: a text-protocol Goer whose connections join the node, and
// line clients that count what they receive.
package testnode

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

// Server is a Goer on a free loopback port whose connections are added to
// Node as they connect.
type Server struct {
	G     *core.Goer
	Node  *cluster.Node
	conns chan core.Connection
}

// Start serves n's connections until the test ends.
func Start(t testing.TB, n *cluster.Node) *Server {
	t.Helper()
	s := &Server{Node: n, conns: make(chan core.Connection, 64)}
	g := core.NewGoer("127.0.0.1:0", text.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.MaxPackageSize = 4 << 20
	g.OnConnect = func(c core.Connection) {
		n.Add(c)
		s.conns <- c
	}
	n.Attach(g)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	s.G = g
	t.Cleanup(g.Stop)
	return s
}

// Client is one line client and its connection on the server.
type Client struct {
	Conn   net.Conn
	Server core.Connection
	ID     cluster.ClientID

	mu    sync.Mutex
	lines map[string]int
	total atomic.Int64
	done  chan struct{}
}

// Dial connects a client and waits for the server to add it.
func (s *Server) Dial(t testing.TB) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", s.G.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var sc core.Connection
	select {
	case sc = <-s.conns:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not see the connection")
	}
	cl := &Client{Conn: conn, Server: sc, ID: s.Node.ClientID(sc), lines: map[string]int{}, done: make(chan struct{})}
	go cl.read()
	t.Cleanup(cl.Close)
	return cl
}

func (cl *Client) read() {
	defer close(cl.done)
	defer cl.Conn.Close() // as a real client does when the server closes
	r := bufio.NewReaderSize(cl.Conn, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		cl.mu.Lock()
		cl.lines[line]++
		cl.mu.Unlock()
		cl.total.Add(1)
	}
}

// Close closes the client and waits for its reader.
func (cl *Client) Close() {
	cl.Conn.Close()
	<-cl.done
}

// Got returns how many times line arrived.
func (cl *Client) Got(line string) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.lines[line]
}

// Total returns how many lines arrived.
func (cl *Client) Total() int64 { return cl.total.Load() }

// Closed reports whether the server closed the connection.
func (cl *Client) Closed() bool {
	select {
	case <-cl.done:
		return true
	default:
		return false
	}
}

// Eventually polls cond until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
