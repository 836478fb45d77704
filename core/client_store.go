package core

// clientStore is the Connections store of an AsyncConnection's
// connections: it holds the open one (each connect of an AsyncConnection
// has the same ID). It is the AsyncConnection itself seen as a CStore, so
// that it costs a client connection nothing. Set and Del do nothing: the
// AsyncConnection keeps its connection, and forgets it when it ends.
type clientStore AsyncConnection

// Set implements CStore; a's connection is kept by a itself.
func (s *clientStore) Set(*TCPConnection) {}

// Get implements CStore.
func (s *clientStore) Get(id int) *TCPConnection {
	if c := (*AsyncConnection)(s).current(); c != nil && c.ID == id {
		return c
	}
	return nil
}

// Del implements CStore; see Set.
func (s *clientStore) Del(int) {}

// Range implements CStore.
func (s *clientStore) Range(f func(id int, c *TCPConnection) bool) {
	if c := (*AsyncConnection)(s).current(); c != nil {
		f(c.ID, c)
	}
}

// Len implements CStore.
func (s *clientStore) Len() int {
	if (*AsyncConnection)(s).current() != nil {
		return 1
	}
	return 0
}

// noStore is the Connections store of the Goers that serve
// AsyncConnections (clientGoer): each connection's own store is its
// AsyncConnection's (clientStore).
type noStore struct{}

func (noStore) Set(*TCPConnection)                   {}
func (noStore) Get(int) *TCPConnection               { return nil }
func (noStore) Del(int)                              {}
func (noStore) Range(func(int, *TCPConnection) bool) {}
func (noStore) Len() int                             { return 0 }
