package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shunhui19/goes/core"
)

// BindUid binds c to uid (adding c). A uid may have several connections,
// on several nodes; a connection may have several uids. The node subscribes
// to the uid's subject while it holds at least one of its connections.
//
// BindUid returns once the binding is in effect across the cluster: a
// SendToUid from any node after that reaches c. With a Bus that is a
// SubscribeWaiter (natsbus) the first binding of a uid on a node waits for
// a round trip to the bus (NATS) for that, at most QueryTimeout; joins at
// the same time share the round trip. Past QueryTimeout the binding holds
// on this node and BindUid returns an error wrapping ErrTimeout: sends
// from other nodes may miss c until the bus catches up.
func (n *Node) BindUid(c core.Connection, uid string) error { return n.put(c, uids, uid) }

// UnbindUid undoes BindUid. Unbinding what is not bound does nothing.
func (n *Node) UnbindUid(c core.Connection, uid string) error { return n.take(c, uids, uid) }

// JoinGroup puts c in group (adding c). The node subscribes to the group's
// subject while it holds at least one member. Like BindUid, it returns once
// the membership is in effect across the cluster: a SendToGroup from any
// node after that reaches c (the first member of a group on a node waits
// for a round trip to the bus).
func (n *Node) JoinGroup(c core.Connection, group string) error { return n.put(c, groups, group) }

// LeaveGroup takes c out of group. Leaving a group c is not in does nothing.
func (n *Node) LeaveGroup(c core.Connection, group string) error { return n.take(c, groups, group) }

// kind is what uids and groups have in common: a name per connection, an
// index of the connections by name, a subject per name.
type kind struct {
	what    string
	index   func(n *Node) map[string]map[int]*entry
	subject func(n *Node, name string) string
	names   func(e *entry) *map[string]struct{}
}

var (
	uids = kind{"uid", func(n *Node) map[string]map[int]*entry { return n.uids },
		(*Node).uidSubject, func(e *entry) *map[string]struct{} { return &e.uids }}
	groups = kind{"group", func(n *Node) map[string]map[int]*entry { return n.groups },
		(*Node).groupSubject, func(e *entry) *map[string]struct{} { return &e.groups }}
)

func (n *Node) put(c core.Connection, k kind, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %s %.40q", ErrBadName, k.what, name)
	}
	subject := k.subject(n, name)
	n.mu.Lock()
	e := n.entryLocked(c)
	names := k.names(e)
	if *names == nil {
		*names = map[string]struct{}{}
	}
	(*names)[name] = struct{}{}
	err := n.joinLocked(k.index(n), name, c.GetID(), e, subject)
	n.mu.Unlock()
	if err != nil {
		return err
	}
	// Every join waits, not only the one that subscribed: the
	// subscription may still be on its way for a join at the same time.
	return n.waitSubscribed(subject)
}

// waitSubscribed waits until the bus has the subscriptions to subjects in
// effect, if the bus says when that is.
func (n *Node) waitSubscribed(subjects ...string) error {
	w, ok := n.bus.(SubscribeWaiter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.QueryTimeout)
	defer cancel()
	for _, s := range subjects {
		err := w.WaitSubscribed(ctx, s)
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("goes: cluster: subscribe: %w: the bus did not confirm %s within %v", ErrTimeout, s, n.cfg.QueryTimeout)
		}
		if err != nil {
			return fmt.Errorf("goes: cluster: subscribe: %w", err)
		}
	}
	return nil
}

func (n *Node) take(c core.Connection, k kind, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %s %.40q", ErrBadName, k.what, name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.conns[c.GetID()]
	if e == nil || e.c != c {
		return nil
	}
	names := k.names(e)
	if _, ok := (*names)[name]; !ok {
		return nil
	}
	delete(*names, name)
	return n.leaveLocked(k.index(n), name, c.GetID(), k.subject(n, name))
}

func (n *Node) joinLocked(index map[string]map[int]*entry, name string, id int, e *entry, subject string) error {
	set := index[name]
	if set == nil {
		set = map[int]*entry{}
		index[name] = set
	}
	set[id] = e
	if len(set) == 1 && n.bus != nil && !n.closed {
		if err := n.bus.Subscribe(subject); err != nil {
			return fmt.Errorf("goes: cluster: subscribe: %w", err)
		}
	}
	return nil
}

func (n *Node) leaveLocked(index map[string]map[int]*entry, name string, id int, subject string) error {
	set := index[name]
	if _, ok := set[id]; !ok {
		return nil
	}
	delete(set, id)
	if len(set) > 0 {
		return nil
	}
	delete(index, name)
	if n.bus != nil && !n.closed {
		if err := n.bus.Unsubscribe(subject); err != nil {
			return fmt.Errorf("goes: cluster: unsubscribe: %w", err)
		}
	}
	return nil
}

// members returns the connections of index[name] not in skip, into buf.
func (n *Node) members(buf []core.Connection, index map[string]map[int]*entry, name string, skip []int) []core.Connection {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, e := range index[name] {
		if !slices.Contains(skip, id) {
			buf = append(buf, e.c)
		}
	}
	return buf
}

func (n *Node) all(buf []core.Connection, skip []int) []core.Connection {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, e := range n.conns {
		if !slices.Contains(skip, id) {
			buf = append(buf, e.c)
		}
	}
	return buf
}

// localSkip returns the connection ids in skip that are this node's.
func (n *Node) localSkip(skip []ClientID) []int {
	var ids []int
	for _, s := range skip {
		if node, conn, ok := s.split(); ok && node == n.id {
			ids = append(ids, conn)
		}
	}
	return ids
}

func (n *Node) local(conn int) core.Connection {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.conns[conn]; e != nil {
		return e.c
	}
	return nil
}

// deliver sends msg to every connection in cs; a connection that is closed
// is forgotten. It returns how many accepted the message.
func (n *Node) deliver(cs []core.Connection, msg []byte) int {
	ok := 0
	for _, c := range cs {
		if n.sendOne(c, msg) == nil {
			ok++
		}
	}
	return ok
}

func (n *Node) sendOne(c core.Connection, msg []byte) error {
	err := c.SendBytes(msg, false)
	if errors.Is(err, core.ErrClosed) {
		n.Remove(c)
	}
	return err
}
