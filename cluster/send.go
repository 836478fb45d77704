package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/shunhui19/goes/core"
)

// Sends take the message as the receiving connection's protocol encodes it
// (a WebSocket connection sends it as one text frame). A connection whose
// send buffer is full is skipped by the sends to many (its OnError says
// so); SendToClient returns its error.

// Answers to the sends and closes that ask for one.
const (
	ansOK       byte = iota // done
	ansNotFound             // no such connection here
	ansFailed               // the connection refused it; the text follows
	ansTooLarge             // the session would grow too large
)

func (n *Node) checkSend(msg []byte) error {
	if n.isClosed() {
		return ErrClosed
	}
	if len(msg) > n.cfg.MaxMessage {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(msg), n.cfg.MaxMessage)
	}
	return nil
}

// SendToClient sends msg to one client. ErrNotFound: no node holds it.
func (n *Node) SendToClient(ctx context.Context, id ClientID, msg []byte) error {
	if err := n.checkSend(msg); err != nil {
		return err
	}
	return n.atClient(ctx, id, opClient, msg, func(c core.Connection) error { return n.sendOne(c, msg) })
}

// CloseClient closes one client wherever it is, after sending farewell
// (encoded by its protocol, if not empty). ErrNotFound: no node holds it.
func (n *Node) CloseClient(ctx context.Context, id ClientID, farewell string) error {
	if err := n.checkSend([]byte(farewell)); err != nil {
		return err
	}
	return n.atClient(ctx, id, opClose, []byte(farewell), func(c core.Connection) error {
		c.Close(farewell)
		return nil
	})
}

// atClient does op to one client: with local if this node holds it, else
// by asking its node.
func (n *Node) atClient(ctx context.Context, id ClientID, op byte, payload []byte, local func(core.Connection) error) error {
	node, conn, ok := id.split()
	if !ok {
		return fmt.Errorf("%w: %.80q", ErrBadClientID, id)
	}
	if node != n.id {
		return n.askNode(ctx, op, node, conn, payload)
	}
	c := n.local(conn)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return local(c)
}

// askNode asks node to do op to its connection conn and waits for its answer.
func (n *Node) askNode(ctx context.Context, op byte, node string, conn int, payload []byte) error {
	if n.bus == nil {
		return fmt.Errorf("%w: node %s", ErrNotFound, node)
	}
	ans, err := n.request(ctx, n.nodeSubject(node), encodeFrame(op, n.id, strconv.Itoa(conn), nil, payload))
	if errors.Is(err, ErrNoResponders) {
		return fmt.Errorf("%w: node %s is gone", ErrNotFound, node)
	}
	if err != nil {
		return err
	}
	return answerError(ans, node, conn)
}

func answerError(ans []byte, node string, conn int) error {
	if len(ans) == 0 {
		return fmt.Errorf("%w: empty answer from node %s", errFrame, node)
	}
	switch ans[0] {
	case ansOK:
		return nil
	case ansNotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, makeClientID(node, conn))
	case ansTooLarge:
		return fmt.Errorf("%w: session of %s on node %s", ErrTooLarge, makeClientID(node, conn), node)
	default:
		return fmt.Errorf("goes: cluster: node %s: %s", node, ans[1:])
	}
}

// request is Bus.Request bounded by QueryTimeout, its errors made ours.
func (n *Node) request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.QueryTimeout)
	defer cancel()
	ans, err := n.bus.Request(ctx, subject, data)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrUnavailable) {
		return nil, fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return ans, err
}

// SendToUid sends msg to every connection bound to uid, on every node.
// ErrNotFound: no connection is bound to uid. With an error wrapping
// ErrUnavailable or ErrTimeout, only this node's connections got it.
func (n *Node) SendToUid(ctx context.Context, uid string, msg []byte) error {
	if err := n.checkSend(msg); err != nil {
		return err
	}
	if !validName(uid) {
		return fmt.Errorf("%w: uid %.40q", ErrBadName, uid)
	}
	local := n.members(nil, n.uids, uid, nil)
	n.deliver(local, msg)
	if n.bus == nil {
		if len(local) == 0 {
			return fmt.Errorf("%w: uid %.40q", ErrNotFound, uid)
		}
		return nil
	}
	// Every node holding uid gets the message; the first answer tells that
	// at least one did, no responders that none did.
	_, err := n.request(ctx, n.uidSubject(uid), encodeFrame(opUid, n.id, uid, nil, msg))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoResponders):
		if len(local) > 0 {
			return nil
		}
		return fmt.Errorf("%w: uid %.40q", ErrNotFound, uid)
	default:
		return fmt.Errorf("goes: cluster: sent to %d local connection(s) of uid %.40q only: %w", len(local), uid, err)
	}
}

// SendToGroup sends msg to the members of group on every node, but not to
// the clients in skip. Only the nodes holding members get it. A group
// without members is not an error.
func (n *Node) SendToGroup(ctx context.Context, group string, msg []byte, skip ...ClientID) error {
	if err := n.checkSend(msg); err != nil {
		return err
	}
	if !validName(group) {
		return fmt.Errorf("%w: group %.40q", ErrBadName, group)
	}
	n.deliver(n.members(nil, n.groups, group, n.localSkip(skip)), msg)
	return n.publish(n.groupSubject(group), opGroup, group, skip, msg)
}

// SendToAll sends msg to every client of every node, but not to the clients
// in skip.
func (n *Node) SendToAll(ctx context.Context, msg []byte, skip ...ClientID) error {
	if err := n.checkSend(msg); err != nil {
		return err
	}
	n.deliver(n.all(nil, n.localSkip(skip)), msg)
	return n.publish(n.allSubject(), opAll, "", skip, msg)
}

func (n *Node) publish(subject string, op byte, key string, skip []ClientID, msg []byte) error {
	if n.bus == nil {
		return nil
	}
	if err := n.bus.Publish(subject, "", encodeFrame(op, n.id, key, skip, msg)); err != nil {
		return fmt.Errorf("goes: cluster: sent to local connections only: %w", err)
	}
	return nil
}
