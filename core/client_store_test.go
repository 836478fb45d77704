package core

import "testing"

// A client connection's Connections is its AsyncConnection seen as a
// CStore: it holds the open connection alone, and forgets it once the
// connection ends, whatever Set and Del are told (every connect of an
// AsyncConnection has the same ID, so a late Del of the last one must not
// drop the next).
func TestClientStore(t *testing.T) {
	a := NewAsyncConnection("tcp://127.0.0.1:1", nil)
	s := (*clientStore)(a)
	if s.Len() != 0 || s.Get(0) != nil {
		t.Fatal("the store of a connection never connected is not empty")
	}
	s.Range(func(int, *TCPConnection) bool { t.Fatal("Range visited an empty store"); return true })
	c := &TCPConnection{ID: 7}
	a.conn, a.state = c, acOpen
	s.Del(7) // the last connection's late Del
	if s.Len() != 1 || s.Get(7) != c || s.Get(8) != nil {
		t.Fatal("the open connection is not in the store")
	}
	visited := 0
	s.Range(func(id int, got *TCPConnection) bool {
		visited++
		if id != 7 || got != c {
			t.Errorf("Range gave %d %p", id, got)
		}
		return true
	})
	if visited != 1 {
		t.Fatalf("visited %d", visited)
	}
	a.state = acClosing // OnClose runs
	if s.Len() != 0 || s.Get(7) != nil {
		t.Fatal("a closed connection stayed in the store")
	}
}
