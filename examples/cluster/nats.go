package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/embed"
	"github.com/shunhui19/goes/cluster/natsbus"
)

type config struct {
	addr   string   // GOES_ADDR
	nats   string   // GOES_NATS
	route  string   // GOES_NATS_ROUTE
	routes []string // GOES_NATS_ROUTES
}

func configFromEnv(getenv func(string) string) config {
	c := config{addr: getenv("GOES_ADDR"), nats: getenv("GOES_NATS"), route: getenv("GOES_NATS_ROUTE")}
	if c.addr == "" {
		c.addr = "127.0.0.1:8080"
	}
	if c.nats == "" {
		c.nats = "nats://127.0.0.1:4222"
	}
	for _, r := range strings.Split(getenv("GOES_NATS_ROUTES"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.routes = append(c.routes, r)
		}
	}
	return c
}

// link is this process's way into the cluster: its node, and the NATS
// server it embeds, if any.
type link struct {
	cfg  config
	log  *slog.Logger
	node *cluster.Node

	mu     sync.Mutex
	server *embed.Server
	closed bool
}

// join connects to NATS as cfg says, embedding a server where needed, and
// returns the node. Without NATS it returns a node of one process and the
// error, so that the chat still serves its own clients.
func join(cfg config, log *slog.Logger) (*link, error) {
	l := &link{cfg: cfg, log: log}
	bus, err := l.connect()
	if err != nil {
		l.node, _ = cluster.New(cluster.Config{Logger: log})
		return l, err
	}
	l.node, err = cluster.New(cluster.Config{Bus: bus, Logger: log})
	if err != nil {
		bus.Close()
		l.node, _ = cluster.New(cluster.Config{Logger: log})
		return l, err
	}
	return l, nil
}

func (l *link) connect() (*natsbus.Bus, error) {
	opts := []nats.Option{
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(nc *nats.Conn, _ error) { go l.watch(nc) }),
	}
	if l.cfg.route != "" {
		// Every process carries a server of the NATS cluster; the client
		// learns the others from it and moves to one if its own goes.
		s, err := embed.Start(embed.Options{ClusterAddr: l.cfg.route, Routes: l.cfg.routes})
		if err != nil {
			return nil, err
		}
		l.server = s
		l.log.Info("cluster: embedded NATS server in a NATS cluster", "client", s.ClientURL(), "route", l.cfg.route)
		return natsbus.Connect(s.ClientURL(), opts...)
	}
	// Someone else's server, or ours if nobody listens. Two processes
	// starting at once may both find nothing: one binds, the other retries.
	for try := 0; ; try++ {
		bus, err := natsbus.Connect(l.cfg.nats, opts...)
		if err == nil {
			return bus, nil
		}
		if try == 3 {
			return nil, err
		}
		l.takeOver()
	}
}

// watch runs while nc is disconnected: it tries to take over the address
// now and then (the old server may still be closing its port), until nc is
// connected again, to this process's server or to another's.
func (l *link) watch(nc *nats.Conn) {
	for !nc.IsConnected() && !nc.IsClosed() {
		l.takeOver()
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
	}
}

// takeOver embeds a NATS server at GOES_NATS unless this process has one
// already or the address is taken (someone else was faster).
func (l *link) takeOver() {
	if l.cfg.route != "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.server != nil || l.closed {
		return
	}
	u, err := url.Parse(l.cfg.nats)
	if err != nil || u.Host == "" {
		l.log.Error("cluster: GOES_NATS is not a nats:// URL", "url", l.cfg.nats)
		return
	}
	s, err := embed.Start(embed.Options{Addr: u.Host, ReadyTimeout: time.Second})
	if errors.Is(err, embed.ErrNotReady) {
		return
	}
	if err != nil {
		l.log.Error("cluster: embedding a NATS server", "addr", u.Host, "err", err)
		return
	}
	l.server = s
	l.log.Info("cluster: nothing listened at GOES_NATS; this process serves NATS there", "addr", u.Host)
}

// close leaves the cluster and stops the embedded server.
func (l *link) close() {
	l.node.Close()
	l.mu.Lock()
	l.closed = true
	s := l.server
	l.server = nil
	l.mu.Unlock()
	if s != nil {
		s.Shutdown()
	}
}

func (c config) String() string {
	if c.route != "" {
		return fmt.Sprintf("route %s, routes %v", c.route, c.routes)
	}
	return c.nats
}

// embeds reports whether this process serves NATS.
func (l *link) embeds() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.server != nil
}
