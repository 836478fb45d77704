package core

import "sync"

// CStore is the store of a Goer's open stream connections, keyed by ID.
// Implementations are safe for concurrent use.
type CStore interface {
	// Set stores c under c.ID. core calls it when a connection is accepted.
	Set(c *TCPConnection)
	// Get returns the connection with id, or nil.
	Get(id int) *TCPConnection
	// Del removes id. core calls it when a connection closes.
	Del(id int)
	// Range calls f for every connection until f returns false. f may Send,
	// Close and use the store (Set, Del) without deadlock.
	Range(f func(id int, c *TCPConnection) bool)
	// Len returns the number of connections.
	Len() int
}

const storeShards = 32

// ConnStore is the default CStore: a sharded map, so that accepting and
// closing connections on many goroutines do not contend on one lock.
type ConnStore struct {
	shards [storeShards]storeShard
}

type storeShard struct {
	mu sync.RWMutex
	m  map[int]*TCPConnection
}

// NewConnStore returns an empty store.
func NewConnStore() *ConnStore {
	s := &ConnStore{}
	for i := range s.shards {
		s.shards[i].m = make(map[int]*TCPConnection)
	}
	return s
}

func (s *ConnStore) shard(id int) *storeShard {
	return &s.shards[uint(id)%storeShards]
}

// Set implements CStore.
func (s *ConnStore) Set(c *TCPConnection) {
	sh := s.shard(c.ID)
	sh.mu.Lock()
	sh.m[c.ID] = c
	sh.mu.Unlock()
}

// Get implements CStore.
func (s *ConnStore) Get(id int) *TCPConnection {
	sh := s.shard(id)
	sh.mu.RLock()
	c := sh.m[id]
	sh.mu.RUnlock()
	return c
}

// Del implements CStore.
func (s *ConnStore) Del(id int) {
	sh := s.shard(id)
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

// Range implements CStore. It visits a snapshot of each shard, so f may
// change the store; a connection added or removed meanwhile may or may not
// be visited.
func (s *ConnStore) Range(f func(id int, c *TCPConnection) bool) {
	var buf []*TCPConnection
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		buf = buf[:0]
		for _, c := range sh.m {
			buf = append(buf, c)
		}
		sh.mu.RUnlock()
		for _, c := range buf {
			if !f(c.ID, c) {
				return
			}
		}
	}
}

// Len implements CStore.
func (s *ConnStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
