package core

import "sync"

// connSlot is the store of an AsyncConnection's own Goer, which holds one
// connection at a time: a ConnStore's 32 shards would cost every client
// connection more than the rest of it.
type connSlot struct {
	mu sync.Mutex
	c  *TCPConnection
}

// Set implements CStore.
func (s *connSlot) Set(c *TCPConnection) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

// Get implements CStore.
func (s *connSlot) Get(id int) *TCPConnection {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.ID == id {
		return s.c
	}
	return nil
}

// Del implements CStore.
func (s *connSlot) Del(id int) {
	s.mu.Lock()
	if s.c != nil && s.c.ID == id {
		s.c = nil
	}
	s.mu.Unlock()
}

// Range implements CStore.
func (s *connSlot) Range(f func(id int, c *TCPConnection) bool) {
	if c := s.Get(s.id()); c != nil {
		f(c.ID, c)
	}
}

func (s *connSlot) id() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return 0
	}
	return s.c.ID
}

// Len implements CStore.
func (s *connSlot) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return 0
	}
	return 1
}
