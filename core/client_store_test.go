package core

import "testing"

// An AsyncConnection's Goer keeps its one connection in a connSlot: a CStore
// like any other, that forgets a connection only by its own id.
func TestConnSlot(t *testing.T) {
	s := &connSlot{}
	if s.Len() != 0 || s.Get(1) != nil {
		t.Fatal("an empty slot has a connection")
	}
	s.Range(func(int, *TCPConnection) bool { t.Fatal("Range visited an empty slot"); return true })
	a, b := &TCPConnection{ID: 1}, &TCPConnection{ID: 2}
	s.Set(a)
	if s.Len() != 1 || s.Get(1) != a || s.Get(2) != nil {
		t.Fatal("Set(a) not kept")
	}
	s.Set(b) // a reconnect: the next connection replaces the last
	s.Del(1) // the last one's late Del leaves the new one
	visited := 0
	s.Range(func(id int, c *TCPConnection) bool {
		visited++
		if id != 2 || c != b {
			t.Errorf("Range gave %d %p", id, c)
		}
		return true
	})
	if visited != 1 || s.Get(2) != b {
		t.Fatalf("visited %d; Get(2) = %p", visited, s.Get(2))
	}
	s.Del(2)
	if s.Len() != 0 {
		t.Fatal("Del(2) left a connection")
	}
}
