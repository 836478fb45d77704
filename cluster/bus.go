package cluster

import "context"

// Bus carries messages between the nodes of a cluster. The NATS one is
// cluster/natsbus; a Node without a Bus is a cluster of one process.
//
// A Bus delivers to the function given to Start every message published on
// a subject it subscribes to, except the messages it published itself. All
// methods are safe for concurrent use.
type Bus interface {
	// Start begins delivering messages to deliver, one at a time.
	Start(deliver func(Msg)) error
	// Subscribe and Unsubscribe add and remove interest in a subject. While
	// the bus is disconnected they are remembered and applied on reconnect.
	Subscribe(subject string) error
	Unsubscribe(subject string) error
	// Publish sends data to subject; reply, if not empty, is where
	// answers go. It fails at once when the bus is down (ErrUnavailable).
	Publish(subject, reply string, data []byte) error
	// Request publishes data and returns the first answer. ErrNoResponders:
	// nobody subscribes to subject.
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	// Gather publishes data and passes each answer to f until f returns
	// false (then Gather returns nil) or ctx ends (ctx's error).
	// ErrNoResponders: nobody subscribes to subject.
	Gather(ctx context.Context, subject string, data []byte, f func([]byte) bool) error
	// MaxPayload is the largest message the bus carries (0: no limit).
	MaxPayload() int
	// Close stops delivering and drops every subscription.
	Close() error
}

// Msg is a message delivered by a Bus.
type Msg struct {
	Subject string
	Reply   string // where to answer, or ""
	Data    []byte
}

// SubscribeWaiter is a Bus whose Subscribe returns before the subscription
// is in effect (natsbus: it travels to the NATS server afterwards). A Node
// waits with it so that once JoinGroup or BindUid returns, and once New
// returns, what another node sends there reaches this one.
type SubscribeWaiter interface {
	// WaitSubscribed returns once the subscription to subject made by
	// Subscribe is in effect: what another node publishes on subject from
	// then on is delivered. It returns nil at once when it already is or
	// when subject is not subscribed; while the bus is disconnected it
	// returns nil too (the subscription is applied on reconnect). It gives
	// up when ctx ends (ctx's error). Safe for concurrent use.
	WaitSubscribed(ctx context.Context, subject string) error
}
