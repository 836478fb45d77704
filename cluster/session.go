package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
)

// A session is a small map of strings kept with a client on the node that
// holds it, readable and writable from any node (GatewayWorker's
// $_SESSION). It is gone when the client closes.

type sessionOp struct {
	Op string            `json:"op"` // "get", "set" or "update"
	M  map[string]string `json:"m,omitempty"`
}

// Session returns a copy of the client's session (empty, not nil, if none
// was set). ErrNotFound: no node holds the client.
func (n *Node) Session(ctx context.Context, id ClientID) (map[string]string, error) {
	return n.session(ctx, id, sessionOp{Op: "get"})
}

// SetSession replaces the client's session with s. The client must be
// known to its node (Add). ErrTooLarge: s is larger than MaxSession.
func (n *Node) SetSession(ctx context.Context, id ClientID, s map[string]string) error {
	_, err := n.session(ctx, id, sessionOp{Op: "set", M: s})
	return err
}

// UpdateSession merges s into the client's session; a key whose value is
// "" is deleted.
func (n *Node) UpdateSession(ctx context.Context, id ClientID, s map[string]string) error {
	_, err := n.session(ctx, id, sessionOp{Op: "update", M: s})
	return err
}

func (n *Node) session(ctx context.Context, id ClientID, op sessionOp) (map[string]string, error) {
	if n.isClosed() {
		return nil, ErrClosed
	}
	node, conn, ok := id.split()
	if !ok {
		return nil, fmt.Errorf("%w: %.80q", ErrBadClientID, id)
	}
	if sessionSize(op.M) > n.cfg.MaxSession {
		return nil, fmt.Errorf("%w: session of %d bytes, at most %d", ErrTooLarge, sessionSize(op.M), n.cfg.MaxSession)
	}
	if node == n.id {
		s, found, err := n.localSession(conn, op)
		if !found {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return s, err
	}
	if n.bus == nil {
		return nil, fmt.Errorf("%w: node %s", ErrNotFound, node)
	}
	data, _ := json.Marshal(op)
	ans, err := n.request(ctx, n.nodeSubject(node), encodeFrame(opSession, n.id, strconv.Itoa(conn), nil, data))
	if err != nil {
		if errors.Is(err, ErrNoResponders) {
			return nil, fmt.Errorf("%w: node %s is gone", ErrNotFound, node)
		}
		return nil, err
	}
	if err := answerError(ans, node, conn); err != nil {
		return nil, err
	}
	s := map[string]string{}
	if err := json.Unmarshal(ans[1:], &s); err != nil {
		return nil, fmt.Errorf("%w: session from node %s: %v", errFrame, node, err)
	}
	return s, nil
}

// localSession does op on the session of this node's connection conn.
func (n *Node) localSession(conn int, op sessionOp) (s map[string]string, found bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.conns[conn]
	if e == nil {
		return nil, false, nil
	}
	switch op.Op {
	case "set":
		e.session = maps.Clone(op.M)
	case "update":
		next := maps.Clone(e.session)
		if next == nil {
			next = map[string]string{}
		}
		for k, v := range op.M {
			if v == "" {
				delete(next, k)
			} else {
				next[k] = v
			}
		}
		if sessionSize(next) > n.cfg.MaxSession {
			return nil, true, fmt.Errorf("%w: session of %d bytes, at most %d", ErrTooLarge, sessionSize(next), n.cfg.MaxSession)
		}
		e.session = next
	}
	s = maps.Clone(e.session)
	if s == nil {
		s = map[string]string{}
	}
	return s, true, nil
}

func sessionSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}
