package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core"
)

// Defaults applied by New where a Config field is zero.
const (
	DefaultPrefix       = "goes.cluster"
	DefaultQueryTimeout = time.Second
	DefaultHeartbeat    = time.Second
	DefaultMaxMessage   = 1 << 20
	DefaultMaxSession   = 4 << 10
	// hello waits this long for the nodes already running to introduce
	// themselves when a node starts.
	helloWait = 200 * time.Millisecond
)

// Config sets up a Node. The zero Config is a cluster of one process.
type Config struct {
	// ID names the node inside client ids: 1 to 64 of [A-Za-z0-9_]. It
	// must be unique among the nodes alive at the same time. Default: 16
	// random hex digits, new for every process, so that a reloaded program
	// (two processes of the same program live during the drain) gets a new
	// id while the old process finishes its connections under the old one.
	ID string
	// Bus links the node to the others (cluster/natsbus). nil: this process
	// is the whole cluster and nothing leaves it.
	Bus Bus
	// Prefix starts every subject the node uses, so that several clusters
	// may share one NATS. Default DefaultPrefix.
	Prefix string
	// QueryTimeout bounds every wait for other nodes (sends that need an
	// answer and queries), unless the caller's context ends sooner.
	// Default DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Heartbeat is how often the node tells the others it is alive.
	// Default DefaultHeartbeat. The nodes of a cluster should share it: a
	// node's queries in its first Heartbeat wait until then for the nodes
	// it has not heard from yet.
	Heartbeat time.Duration
	// PeerTimeout is how long a node stays in the list of nodes expected to
	// answer queries after its last heartbeat. A node that vanishes (killed,
	// cut off) leaves every answer at once, since it no longer answers, and
	// stops making answers partial after PeerTimeout. Default 3×Heartbeat.
	PeerTimeout time.Duration
	// MaxMessage is the largest message a send takes, in bytes. Default
	// DefaultMaxMessage, lowered to fit the bus's largest payload.
	MaxMessage int
	// MaxSession bounds a client's session, in bytes of keys and values.
	// Default DefaultMaxSession.
	MaxSession int
	// Logger gets the node's errors. Default: discard.
	Logger *slog.Logger
}

// Node is this process's member of a cluster: it knows the connections the
// process holds and reaches the others through the Bus. All methods are
// safe for concurrent use.
type Node struct {
	id     string
	cfg    Config
	bus    Bus
	prefix string
	log    *slog.Logger

	mu     sync.Mutex
	conns  map[int]*entry
	uids   map[string]map[int]*entry
	groups map[string]map[int]*entry
	peers  map[string]time.Time // other nodes, by last heartbeat
	// started is when the node began to listen: a Heartbeat later it has
	// heard from every node alive.
	started time.Time
	// peerGone is closed (and replaced) whenever a peer leaves the list, so
	// that queries stop waiting for it.
	peerGone chan struct{}
	closed   bool

	stop  chan struct{}
	wg    sync.WaitGroup
	stats Stats
	// sendBuf is reused by deliveries from the bus, which run one at a time.
	sendBuf []core.Connection
}

// entry is one connection known to the node.
type entry struct {
	c       core.Connection
	uids    map[string]struct{}
	groups  map[string]struct{}
	session map[string]string
}

// Stats counts messages a node received from the bus, by kind.
type Stats struct {
	Received  atomic.Int64 // every message
	ToClient  atomic.Int64 // sends and closes aimed at one of its connections
	ToUid     atomic.Int64 // sends to a uid it holds
	ToGroup   atomic.Int64 // sends to a group it has members of
	ToAll     atomic.Int64 // sends to everyone
	Queries   atomic.Int64 // queries and online checks
	Heartbeat atomic.Int64 // hello, heartbeat and bye
	Bad       atomic.Int64 // messages it could not parse
}

// New starts a node. With a Bus it subscribes to its own subjects (and
// waits until they are in effect, if the Bus is a SubscribeWaiter), greets
// the nodes already running and starts its heartbeat.
func New(cfg Config) (*Node, error) {
	if cfg.ID == "" {
		cfg.ID = randomNodeID()
	}
	if !validNodeID(cfg.ID) {
		return nil, fmt.Errorf("goes: cluster: node id %q: want 1 to 64 of [A-Za-z0-9_]", cfg.ID)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.PeerTimeout <= 0 {
		cfg.PeerTimeout = 3 * cfg.Heartbeat
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.Bus != nil {
		// Room for the header: origin, key and a few skipped ids.
		if mp := cfg.Bus.MaxPayload(); mp > 0 && cfg.MaxMessage > mp-1024 {
			cfg.MaxMessage = mp - 1024
		}
	}
	if cfg.MaxSession <= 0 {
		cfg.MaxSession = DefaultMaxSession
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Node{
		id:       cfg.ID,
		cfg:      cfg,
		bus:      cfg.Bus,
		prefix:   cfg.Prefix,
		log:      cfg.Logger.With("node", cfg.ID),
		conns:    map[int]*entry{},
		uids:     map[string]map[int]*entry{},
		groups:   map[string]map[int]*entry{},
		peers:    map[string]time.Time{},
		peerGone: make(chan struct{}),
		stop:     make(chan struct{}),
		started:  time.Now(),
	}
	if n.bus == nil {
		return n, nil
	}
	if err := n.bus.Start(n.receive); err != nil {
		return nil, err
	}
	subjects := []string{n.nodeSubject(n.id), n.allSubject(), n.querySubject(), n.heartbeatSubject()}
	for _, s := range subjects {
		if err := n.bus.Subscribe(s); err != nil {
			n.bus.Close()
			return nil, err
		}
	}
	if err := n.waitSubscribed(subjects...); err != nil {
		n.bus.Close()
		return nil, err
	}
	n.hello()
	n.wg.Add(1)
	go n.heartbeat()
	return n, nil
}

// ID returns the node's id. Safe for concurrent use.
func (n *Node) ID() string { return n.id }

// Stats returns the node's counters.
func (n *Node) Stats() *Stats { return &n.stats }

// ClientID returns c's id in the cluster. It does not add c.
func (n *Node) ClientID(c core.Connection) ClientID { return makeClientID(n.id, c.GetID()) }

// Attach makes the connections of g leave the node when they close. Call
// it before g starts and after setting g.OnClose (Attach wraps it). A
// connection whose own OnClose overrides the Goer's must call Remove.
func (n *Node) Attach(g *core.Goer) {
	prev := g.OnClose
	g.OnClose = func(c core.Connection) {
		n.Remove(c)
		if prev != nil {
			prev(c)
		}
	}
}

// Add makes c known to the cluster: counted, reached by SendToAll, by its
// ClientID and by queries. BindUid, JoinGroup and SetSession add c too.
// For WebSocket, add a connection once it is upgraded (at its first message
// or in OnWebSocketConnect), so that page requests on the same port are not
// counted.
func (n *Node) Add(c core.Connection) ClientID {
	n.mu.Lock()
	n.entryLocked(c)
	n.mu.Unlock()
	return n.ClientID(c)
}

func (n *Node) entryLocked(c core.Connection) *entry {
	e := n.conns[c.GetID()]
	if e == nil || e.c != c {
		e = &entry{c: c}
		n.conns[c.GetID()] = e
	}
	return e
}

// Remove forgets c: its uids, groups and session. Attach calls it when a
// connection closes.
func (n *Node) Remove(c core.Connection) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.conns[c.GetID()]
	if e == nil || e.c != c {
		return
	}
	n.dropLocked(c.GetID(), e)
}

func (n *Node) dropLocked(id int, e *entry) {
	delete(n.conns, id)
	for uid := range e.uids {
		n.leaveLocked(n.uids, uid, id, n.uidSubject(uid))
	}
	for g := range e.groups {
		n.leaveLocked(n.groups, g, id, n.groupSubject(g))
	}
}

// Close leaves the cluster: the other nodes drop this one from their
// answers at once. The connections themselves stay open.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	if n.bus == nil {
		return nil
	}
	close(n.stop)
	n.wg.Wait()
	_ = n.bus.Publish(n.heartbeatSubject(), "", encodeFrame(opBye, n.id, "", nil, nil))
	return n.bus.Close()
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Subjects.
func (n *Node) nodeSubject(node string) string { return n.prefix + ".n." + node }
func (n *Node) uidSubject(uid string) string   { return n.prefix + ".u." + token(uid) }
func (n *Node) groupSubject(g string) string   { return n.prefix + ".g." + token(g) }
func (n *Node) allSubject() string             { return n.prefix + ".all" }
func (n *Node) querySubject() string           { return n.prefix + ".q" }
func (n *Node) heartbeatSubject() string       { return n.prefix + ".hb" }

// hello announces the node and waits briefly for the nodes already running
// to introduce themselves, so that the first queries expect their answers.
// A node that answers later reaches the node's own subject instead (see
// receive), and queries in the node's first Heartbeat wait for the nodes
// not heard from yet (see gather).
func (n *Node) hello() {
	ctx, cancel := context.WithTimeout(context.Background(), helloWait)
	defer cancel()
	_ = n.bus.Gather(ctx, n.heartbeatSubject(), encodeFrame(opHello, n.id, "", nil, nil), func(b []byte) bool {
		if f, err := decodeFrame(b); err == nil && f.op == opHeartbeat {
			n.sawPeer(f.origin)
		}
		return true
	})
}

func (n *Node) heartbeat() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	beat := encodeFrame(opHeartbeat, n.id, "", nil, nil)
	down := false
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		err := n.bus.Publish(n.heartbeatSubject(), "", beat)
		switch {
		case err != nil:
			down = true
		case down:
			// Back after an outage, during which every peer expired:
			// learn them again now rather than one heartbeat at a time.
			down = false
			n.hello()
		}
		n.mu.Lock()
		now := time.Now()
		for p, seen := range n.peers {
			if now.Sub(seen) > n.cfg.PeerTimeout {
				n.dropPeerLocked(p)
			}
		}
		n.mu.Unlock()
	}
}

func (n *Node) sawPeer(id string) {
	if id == n.id || !validNodeID(id) {
		return
	}
	n.mu.Lock()
	n.peers[id] = time.Now()
	n.mu.Unlock()
}

func (n *Node) dropPeerLocked(p string) {
	if _, ok := n.peers[p]; !ok {
		return
	}
	delete(n.peers, p)
	close(n.peerGone)
	n.peerGone = make(chan struct{})
}

// Peers returns the ids of the other nodes this node expects answers from.
func (n *Node) Peers() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ps := make([]string, 0, len(n.peers))
	for p := range n.peers {
		ps = append(ps, p)
	}
	return ps
}
