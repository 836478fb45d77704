// Package embed runs a NATS server inside a goes program
// (github.com/nats-io/nats-server/v2), for a one-machine cluster or for
// nodes that carry their own NATS. A program that only dials an outside
// NATS does not import it and does not link the server.
//
//	srv, err := embed.Start(embed.Options{Addr: "127.0.0.1:4222"})
//	defer srv.Shutdown()
//	bus, err := natsbus.Connect(srv.ClientURL())
package embed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout bounds the wait for the server to accept clients.
const DefaultReadyTimeout = 5 * time.Second

// ErrNotReady: the server did not start accepting clients in time (most
// often: the address is taken).
var ErrNotReady = errors.New("goes: embed: NATS server not ready")

// Options says where the server listens. The zero Options listens on a free
// loopback port with no cluster.
type Options struct {
	// Addr is the clients' host:port. Default "127.0.0.1:0" (a free port).
	Addr string
	// ClusterAddr, if set, is the host:port where other servers connect to
	// form a NATS cluster; ClusterName names it (default "goes").
	ClusterAddr string
	ClusterName string
	// Routes are the other servers' cluster addresses (host:port). A server
	// keeps trying them, so servers may start in any order.
	Routes []string
	// Name of this server in the cluster (default: NATS picks one).
	Name string
	// ReadyTimeout bounds Start's wait. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Server is a running NATS server.
type Server struct {
	*server.Server
}

// Start runs a NATS server and waits until it accepts clients.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	host, port, err := splitHostPort(o.Addr)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       port,
		NoLog:      true,
		NoSigs:     true,
	}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	} else if err := probe(o.Addr); err != nil {
		// The server would only say so by never becoming ready.
		return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if o.ClusterAddr != "" {
		ch, cp, err := splitHostPort(o.ClusterAddr)
		if err != nil {
			return nil, err
		}
		if cp == 0 {
			cp = server.RANDOM_PORT
		}
		name := o.ClusterName
		if name == "" {
			name = "goes"
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: ch, Port: cp}
		for _, r := range o.Routes {
			u, err := url.Parse("nats-route://" + r)
			if err != nil {
				return nil, fmt.Errorf("goes: embed: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("goes: embed: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(o.ReadyTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("%w: %s", ErrNotReady, o.Addr)
	}
	return &Server{s}, nil
}

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// ClusterAddr returns the address other servers route to, host:port, or ""
// if the server is not in a cluster.
func (s *Server) ClusterAddr() string {
	a := s.Server.ClusterAddr()
	if a == nil {
		return ""
	}
	return a.String()
}

// probe fails if addr cannot be listened on now.
func probe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("goes: embed: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("goes: embed: address %q: bad port", addr)
	}
	return h, port, nil
}
