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
	"time"

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

	mu   sync.Mutex
	subs map[string]sub
	// made counts the subscriptions made; those up to synced are known to
	// be in effect at the server (a flush after them came back); flight is
	// the latest flush under way, nil when none is.
	made, synced uint64
	flight       *flush
	ch           chan *nats.Msg
	done         chan struct{}
	wg           sync.WaitGroup
	closed       bool
}

// sub is a subscription and its place among the subscriptions made.
type sub struct {
	s *nats.Subscription
	n uint64
}

// flush is a round trip to the server that confirms the subscriptions made
// up to n: the server handles a connection's messages in order.
type flush struct {
	n    uint64
	done chan struct{}
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
	return &Bus{nc: nc, subs: map[string]sub{}, ch: make(chan *nats.Msg, DefaultQueue), done: make(chan struct{})}, nil
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
	if _, ok := b.subs[subject]; ok {
		return nil
	}
	s, err := b.nc.ChanSubscribe(subject, b.ch)
	if err != nil {
		return fmt.Errorf("%w: %w", cluster.ErrUnavailable, err)
	}
	// The channel bounds the queue; the subscription's own limits would
	// count per subject.
	_ = s.SetPendingLimits(-1, -1)
	b.made++
	b.subs[subject] = sub{s, b.made}
	return nil
}

// WaitSubscribed implements cluster.SubscribeWaiter: it returns once the
// NATS server has the subscription to subject, so that what another node
// publishes on subject from then on is delivered. Subscribe only queues
// the subscription on the connection; this waits for one round trip to the
// server (a flush), shared by the callers waiting at the same time. Without a deadline in ctx it
// waits up to 10 seconds. It returns nil at once when the subscription is known to be in effect, when
// subject is not subscribed, and while the connection is down (nats.go
// subscribes again on reconnect). When the NATS server is one of a NATS
// cluster, the interest reaches the other servers of that cluster shortly
// after, through their routes: a node connected to another server may
// still miss a message sent at once.
func (b *Bus) WaitSubscribed(ctx context.Context, subject string) error {
	if _, ok := ctx.Deadline(); !ok {
		// A flush needs a deadline: nats.go's own for Flush.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	for {
		b.mu.Lock()
		s, ok := b.subs[subject]
		if !ok || s.n <= b.synced || !b.nc.IsConnected() {
			b.mu.Unlock()
			return nil
		}
		f := b.flight
		mine := f == nil || f.n < s.n
		if mine {
			f = &flush{n: b.made, done: make(chan struct{})}
			b.flight = f
		}
		b.mu.Unlock()
		if !mine {
			// A flush sent after this subscription is under way.
			select {
			case <-f.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := b.nc.FlushWithContext(ctx)
		b.mu.Lock()
		if err == nil && f.n > b.synced {
			b.synced = f.n
		}
		if b.flight == f {
			b.flight = nil
		}
		b.mu.Unlock()
		close(f.done)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, nats.ErrConnectionClosed) || b.nc.IsClosed():
			return b.wrap(err)
		}
		// The connection broke during the round trip and is down or back:
		// look again.
	}
}

// Unsubscribe implements cluster.Bus.
func (b *Bus) Unsubscribe(subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.subs[subject]
	if !ok {
		return nil
	}
	delete(b.subs, subject)
	if err := s.s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
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
		_ = s.s.Unsubscribe()
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
