package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Queries ask every node and add up the answers, waiting at most
// QueryTimeout (or until ctx ends). A node that does not answer in time
// makes the answer partial: the value counts the others, and the error is a
// *PartialError (errors.Is(err, ErrPartial)) naming the silent nodes. A
// query never waits longer than that.
//
// A node knows the others from their heartbeats and their answers to its
// hello. Until one Heartbeat has passed since it started it may not have
// heard from every one, so a query then takes every answer until that
// moment; one whose wait ends sooner is partial (ErrJoining).

type query struct {
	Kind string `json:"k"`
	Name string `json:"n,omitempty"`
}

const (
	qCount         = "count"
	qGroup         = "group"    // count and ids of a group's members
	qGroupSessions = "gsession" // sessions of a group's members
	qGroups        = "groups"   // every group and its count
	qUid           = "uid"      // ids bound to a uid
)

type answer struct {
	Node     string                       `json:"node"`
	Count    int                          `json:"n,omitempty"`
	IDs      []int                        `json:"ids,omitempty"`
	Groups   map[string]int               `json:"groups,omitempty"`
	Sessions map[string]map[string]string `json:"s,omitempty"`
}

// answer is this node's part of the answer to q.
func (n *Node) answer(q query) answer {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := answer{Node: n.id}
	switch q.Kind {
	case qCount:
		a.Count = len(n.conns)
	case qGroup, qUid:
		index := n.groups
		if q.Kind == qUid {
			index = n.uids
		}
		set := index[q.Name]
		a.Count = len(set)
		a.IDs = slices.Collect(maps.Keys(set))
	case qGroupSessions:
		a.Sessions = map[string]map[string]string{}
		for id, e := range n.groups[q.Name] {
			a.Sessions[strconv.Itoa(id)] = maps.Clone(e.session)
		}
	case qGroups:
		a.Groups = make(map[string]int, len(n.groups))
		for g, set := range n.groups {
			a.Groups[g] = len(set)
		}
	}
	return a
}

// gather asks every node q and returns their answers, this node's first.
func (n *Node) gather(ctx context.Context, q query) ([]answer, error) {
	if n.isClosed() {
		return nil, ErrClosed
	}
	answers := []answer{n.answer(q)}
	if n.bus == nil {
		return answers, nil
	}
	// missing: the nodes still expected. A node that leaves the peer list
	// meanwhile (goodbye, or silent past PeerTimeout) is not waited for.
	var mu sync.Mutex
	missing := map[string]bool{}
	n.mu.Lock()
	for p := range n.peers {
		missing[p] = true
	}
	gone := n.peerGone
	n.mu.Unlock()
	seen := map[string]bool{n.id: true}
	data, _ := json.Marshal(q)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.QueryTimeout)
	defer cancel()
	watching := make(chan struct{})
	defer close(watching)
	go n.watchPeers(ctx, watching, gone, &mu, missing, cancel)
	joined := n.started.Add(n.cfg.Heartbeat) // every node alive has been heard from
	if wait := time.Until(joined); wait > 0 {
		t := time.AfterFunc(wait, func() {
			mu.Lock()
			empty := len(missing) == 0
			mu.Unlock()
			if empty {
				cancel() // every answer expected is in
			}
		})
		defer t.Stop()
	}
	err := n.bus.Gather(ctx, n.querySubject(), encodeFrame(opQuery, n.id, "", nil, data), func(b []byte) bool {
		var a answer
		if json.Unmarshal(b, &a) != nil || !validNodeID(a.Node) || seen[a.Node] {
			return true
		}
		seen[a.Node] = true
		n.sawPeer(a.Node)
		answers = append(answers, a)
		mu.Lock()
		defer mu.Unlock()
		delete(missing, a.Node)
		return len(missing) > 0 || time.Now().Before(joined)
	})
	mu.Lock()
	defer mu.Unlock()
	if errors.Is(err, ErrNoResponders) {
		// Nobody else listens: the nodes still expected are gone.
		n.forgetPeers(missing)
		return answers, nil
	}
	early := time.Now().Before(joined) // a node not heard from yet may be missing
	if (err == nil || len(missing) == 0) && !early {
		return answers, nil
	}
	switch {
	case len(missing) == 0 && !errors.Is(err, ErrUnavailable):
		err = ErrJoining
	case ctx.Err() != nil && !errors.Is(err, ErrUnavailable):
		err = ErrTimeout
	}
	pe := &PartialError{Err: err}
	for p := range missing {
		pe.Missing = append(pe.Missing, p)
	}
	sort.Strings(pe.Missing)
	return answers, pe
}

func (n *Node) forgetPeers(ps map[string]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for p := range ps {
		n.dropPeerLocked(p)
	}
}

// watchPeers takes the nodes that leave the peer list out of missing, and
// ends the wait (cancel) once none is left to wait for.
func (n *Node) watchPeers(ctx context.Context, done <-chan struct{}, gone chan struct{}, mu *sync.Mutex, missing map[string]bool, cancel func()) {
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-gone:
		}
		mu.Lock()
		n.mu.Lock()
		for p := range missing {
			if _, ok := n.peers[p]; !ok {
				delete(missing, p)
			}
		}
		gone = n.peerGone
		n.mu.Unlock()
		empty := len(missing) == 0
		mu.Unlock()
		if empty {
			cancel()
			return
		}
	}
}

// Count returns the number of clients on every node.
func (n *Node) Count(ctx context.Context) (int, error) {
	as, err := n.gather(ctx, query{Kind: qCount})
	total := 0
	for _, a := range as {
		total += a.Count
	}
	return total, err
}

// GroupCount returns the number of members of group on every node.
func (n *Node) GroupCount(ctx context.Context, group string) (int, error) {
	if !validName(group) {
		return 0, fmt.Errorf("%w: group %.40q", ErrBadName, group)
	}
	as, err := n.gather(ctx, query{Kind: qGroup, Name: group})
	total := 0
	for _, a := range as {
		total += a.Count
	}
	return total, err
}

// GroupMembers returns the client ids of group's members on every node.
func (n *Node) GroupMembers(ctx context.Context, group string) ([]ClientID, error) {
	if !validName(group) {
		return nil, fmt.Errorf("%w: group %.40q", ErrBadName, group)
	}
	return n.ids(ctx, query{Kind: qGroup, Name: group})
}

// ClientIDsByUid returns the client ids bound to uid on every node.
func (n *Node) ClientIDsByUid(ctx context.Context, uid string) ([]ClientID, error) {
	if !validName(uid) {
		return nil, fmt.Errorf("%w: uid %.40q", ErrBadName, uid)
	}
	return n.ids(ctx, query{Kind: qUid, Name: uid})
}

func (n *Node) ids(ctx context.Context, q query) ([]ClientID, error) {
	as, err := n.gather(ctx, q)
	var ids []ClientID
	for _, a := range as {
		for _, id := range a.IDs {
			ids = append(ids, makeClientID(a.Node, id))
		}
	}
	return ids, err
}

// GroupSessions returns the session of each member of group, on every node.
func (n *Node) GroupSessions(ctx context.Context, group string) (map[ClientID]map[string]string, error) {
	if !validName(group) {
		return nil, fmt.Errorf("%w: group %.40q", ErrBadName, group)
	}
	as, err := n.gather(ctx, query{Kind: qGroupSessions, Name: group})
	out := map[ClientID]map[string]string{}
	for _, a := range as {
		for id, s := range a.Sessions {
			if s == nil {
				s = map[string]string{}
			}
			out[ClientID(a.Node+"-"+id)] = s
		}
	}
	return out, err
}

// Groups returns every group with members and its number of members.
func (n *Node) Groups(ctx context.Context) (map[string]int, error) {
	as, err := n.gather(ctx, query{Kind: qGroups})
	out := map[string]int{}
	for _, a := range as {
		for g, c := range a.Groups {
			out[g] += c
		}
	}
	return out, err
}

// IsOnline reports whether the client is connected, asking only its node.
func (n *Node) IsOnline(ctx context.Context, id ClientID) (bool, error) {
	node, conn, ok := id.split()
	if !ok {
		return false, fmt.Errorf("%w: %.80q", ErrBadClientID, id)
	}
	if node == n.id {
		return n.local(conn) != nil, nil
	}
	err := n.askNode(ctx, opOnline, node, conn, nil)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// IsUidOnline reports whether any node holds a connection bound to uid.
// Only the nodes holding uid are asked.
func (n *Node) IsUidOnline(ctx context.Context, uid string) (bool, error) {
	if !validName(uid) {
		return false, fmt.Errorf("%w: uid %.40q", ErrBadName, uid)
	}
	n.mu.Lock()
	here := len(n.uids[uid]) > 0
	n.mu.Unlock()
	if here || n.bus == nil {
		return here, nil
	}
	if n.isClosed() {
		return false, ErrClosed
	}
	_, err := n.request(ctx, n.uidSubject(uid), encodeFrame(opUidPing, n.id, uid, nil, nil))
	if errors.Is(err, ErrNoResponders) {
		return false, nil
	}
	return err == nil, err
}
