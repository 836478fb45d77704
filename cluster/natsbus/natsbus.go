// Package natsbus links the nodes of a goes cluster through core NATS
// (github.com/nats-io/nats.go): a cluster.Bus.
//
//	bus, err := natsbus.Connect("nats://127.0.0.1:4222")
//	node, err := cluster.New(cluster.Config{Bus: bus})
//
// Delivery is core NATS's: at most once, no storage. A node that is cut off
// misses what is sent meanwhile; its subscriptions come back when NATS
// does (nats.go subscribes again on reconnect).
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/shunhui19/goes/cluster"
)

// DefaultQueue is the number of messages waiting to be handled beyond
// which NATS drops messages for this node (a slow consumer).
const DefaultQueue = 1 << 16

// ErrEcho: the connection given to New was made without nats.NoEcho(); a
// node must not receive its own messages, or asking whether a uid is
// online would wait for itself.
var ErrEcho = errors.New("goes: natsbus: the NATS connection must be made with nats.NoEcho()")

// Bus is a cluster.Bus over one NATS connection. Safe for concurrent use.
type Bus struct {
	nc  *nats.Conn
	own bool // Close closes nc

	mu     sync.Mutex
	subs   map[string]*nats.Subscription
	ch     chan *nats.Msg
	done   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

// Connect dials the NATS servers at url (comma-separated for several) and
// returns a Bus that owns the connection. It reconnects forever; while
// disconnected, publishing fails at once instead of buffering. opts come
// after the Bus's own options and may override them.
func Connect(url string, opts ...nats.Option) (*Bus, error) {
	base := []nats.Option{
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.Name("goes cluster node"),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	b, err := New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b.own = true
	return b, nil
}

// New returns a Bus over an existing connection, which must have been made
// with nats.NoEcho(). Close leaves the connection open.
func New(nc *nats.Conn) (*Bus, error) {
	if !nc.Opts.NoEcho {
		return nil, ErrEcho
	}
	return &Bus{nc: nc, subs: map[string]*nats.Subscription{}, ch: make(chan *nats.Msg, DefaultQueue), done: make(chan struct{})}, nil
}

// Conn returns the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Start implements cluster.Bus: one goroutine hands messages to deliver.
func (b *Bus) Start(deliver func(cluster.Msg)) error {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			select {
			case <-b.done:
				return
			case m := <-b.ch:
				deliver(cluster.Msg{Subject: m.Subject, Reply: m.Reply, Data: m.Data})
			}
		}
	}()
	return nil
}

// Subscribe implements cluster.Bus.
func (b *Bus) Subscribe(subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return cluster.ErrClosed
	}
	if b.subs[subject] != nil {
		return nil
	}
	s, err := b.nc.ChanSubscribe(subject, b.ch)
	if err != nil {
		return fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	// The channel bounds the queue; the subscription's own limits would
	// count per subject.
	_ = s.SetPendingLimits(-1, -1)
	b.subs[subject] = s
	return nil
}

// Unsubscribe implements cluster.Bus.
func (b *Bus) Unsubscribe(subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.subs[subject]
	if s == nil {
		return nil
	}
	delete(b.subs, subject)
	if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return err
	}
	return nil
}

func (b *Bus) check() error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("%w: NATS is %v", cluster.ErrUnavailable, b.nc.Status())
	}
	return nil
}

// Publish implements cluster.Bus.
func (b *Bus) Publish(subject, reply string, data []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	var err error
	if reply == "" {
		err = b.nc.Publish(subject, data)
	} else {
		err = b.nc.PublishRequest(subject, reply, data)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	return nil
}

// Request implements cluster.Bus.
func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	m, err := b.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, b.wrap(err)
	}
	return m.Data, nil
}

// Gather implements cluster.Bus.
func (b *Bus) Gather(ctx context.Context, subject string, data []byte, f func([]byte) bool) error {
	if err := b.check(); err != nil {
		return err
	}
	inbox := b.nc.NewInbox()
	s, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return b.wrap(err)
	}
	defer s.Unsubscribe()
	_ = s.SetPendingLimits(-1, -1)
	if err := b.nc.PublishRequest(subject, inbox, data); err != nil {
		return b.wrap(err)
	}
	for {
		m, err := s.NextMsgWithContext(ctx)
		if err != nil {
			return b.wrap(err)
		}
		if !f(m.Data) {
			return nil
		}
	}
}

func (b *Bus) wrap(err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return cluster.ErrNoResponders
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
}

// MaxPayload implements cluster.Bus: the server's limit, once connected.
func (b *Bus) MaxPayload() int { return int(b.nc.MaxPayload()) }

// Close implements cluster.Bus: it drops the subscriptions, stops
// delivering and, if Connect made the connection, closes it after
// flushing what was published.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for subj, s := range b.subs {
		_ = s.Unsubscribe()
		delete(b.subs, subj)
	}
	b.mu.Unlock()
	close(b.done)
	b.wg.Wait()
	if b.own {
		if b.nc.IsConnected() {
			_ = b.nc.Flush()
		}
		b.nc.Close()
	}
	return nil
}
