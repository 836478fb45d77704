package cluster

import (
	"encoding/json"
	"errors"
	"strconv"
)

// receive handles a message from another node. The Bus calls it one
// message at a time.
func (n *Node) receive(m Msg) {
	n.stats.Received.Add(1)
	f, err := decodeFrame(m.Data)
	if err != nil {
		n.stats.Bad.Add(1)
		n.log.Warn("cluster: bad message", "subject", m.Subject, "err", err)
		return
	}
	if f.origin == n.id {
		return // our own, echoed by a bus that does not filter
	}
	switch f.op {
	case opClient, opClose, opOnline, opSession:
		n.stats.ToClient.Add(1)
		n.reply(m.Reply, n.toClient(f))
	case opUid:
		n.stats.ToUid.Add(1)
		n.sendBuf = n.members(n.sendBuf[:0], n.uids, f.key, nil)
		ok := n.deliver(n.sendBuf, f.payload) > 0
		clear(n.sendBuf)
		if ok {
			n.reply(m.Reply, []byte{ansOK})
		}
	case opGroup, opAll:
		if f.op == opGroup {
			n.stats.ToGroup.Add(1)
			n.sendBuf = n.members(n.sendBuf[:0], n.groups, f.key, n.localSkip(f.skip))
		} else {
			n.stats.ToAll.Add(1)
			n.sendBuf = n.all(n.sendBuf[:0], n.localSkip(f.skip))
		}
		n.deliver(n.sendBuf, f.payload)
		clear(n.sendBuf)
	case opUidPing:
		n.stats.Queries.Add(1)
		n.mu.Lock()
		here := len(n.uids[f.key]) > 0
		n.mu.Unlock()
		if here {
			n.reply(m.Reply, []byte{ansOK})
		}
	case opQuery:
		n.stats.Queries.Add(1)
		var q query
		if json.Unmarshal(f.payload, &q) != nil {
			n.stats.Bad.Add(1)
			return
		}
		b, _ := json.Marshal(n.answer(q))
		n.reply(m.Reply, b)
	case opHello:
		n.stats.Heartbeat.Add(1)
		n.sawPeer(f.origin)
		beat := encodeFrame(opHeartbeat, n.id, "", nil, nil)
		n.reply(m.Reply, beat)
		// The hello waits for answers only briefly (helloWait); one that
		// comes later, from a node busy meanwhile, would be lost. The new
		// node's own subject takes it however late.
		if validNodeID(f.origin) {
			n.reply(n.nodeSubject(f.origin), beat)
		}
	case opHeartbeat:
		n.stats.Heartbeat.Add(1)
		n.sawPeer(f.origin)
	case opBye:
		n.stats.Heartbeat.Add(1)
		n.mu.Lock()
		n.dropPeerLocked(f.origin)
		n.mu.Unlock()
	}
}

func (n *Node) reply(to string, b []byte) {
	if to == "" {
		return
	}
	if err := n.bus.Publish(to, "", b); err != nil {
		n.log.Debug("cluster: reply failed", "err", err)
	}
}

// toClient does what another node asks of one of this node's connections
// and returns the answer.
func (n *Node) toClient(f frame) []byte {
	conn, err := strconv.Atoi(f.key)
	if err != nil {
		return []byte{ansNotFound}
	}
	if f.op == opSession {
		var op sessionOp
		if json.Unmarshal(f.payload, &op) != nil {
			return append([]byte{ansFailed}, "bad session request"...)
		}
		s, found, err := n.localSession(conn, op)
		switch {
		case !found:
			return []byte{ansNotFound}
		case errors.Is(err, ErrTooLarge):
			return []byte{ansTooLarge}
		}
		b, _ := json.Marshal(s)
		return append([]byte{ansOK}, b...)
	}
	c := n.local(conn)
	if c == nil {
		return []byte{ansNotFound}
	}
	switch f.op {
	case opClose:
		c.Close(string(f.payload))
	case opClient:
		if err := n.sendOne(c, f.payload); err != nil {
			return append([]byte{ansFailed}, err.Error()...)
		}
	}
	return []byte{ansOK}
}
