package tcp

import (
	"sync"
	"sync/atomic"
)

// fdTable finds the connection of a descriptor for every loop of an engine.
// Descriptors are small and dense (the kernel hands out the lowest free
// number), so a table of pages of fdPageSize slots takes 8 bytes per open
// connection where a map took three to four times that, and a lookup is an
// index. A slot is set by the loop that accepted its descriptor and cleared,
// only if it still holds that connection, by the loop that closed it: the
// number may have gone to a connection of another loop meanwhile.
type fdTable struct {
	mu    sync.Mutex                // growing
	pages atomic.Pointer[[]*fdPage] // never shrinks; pages never move
}

const fdPageSize = 1024

type fdPage [fdPageSize]atomic.Pointer[econn]

// slot returns fd's slot, or nil when fd is beyond the table (grow: make it).
func (t *fdTable) slot(fd int, grow bool) *atomic.Pointer[econn] {
	if fd < 0 {
		return nil
	}
	i := fd / fdPageSize
	if ps := t.pages.Load(); ps != nil && i < len(*ps) {
		return &(*ps)[i][fd%fdPageSize]
	}
	if !grow {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []*fdPage
	if ps := t.pages.Load(); ps != nil {
		old = *ps
	}
	if i >= len(old) {
		ps := make([]*fdPage, i+1, max(i+1, 2*len(old)))
		copy(ps, old)
		for j := len(old); j <= i; j++ {
			ps[j] = new(fdPage)
		}
		t.pages.Store(&ps)
		old = ps
	}
	return &old[i][fd%fdPageSize]
}

func (t *fdTable) get(fd int) *econn {
	if s := t.slot(fd, false); s != nil {
		return s.Load()
	}
	return nil
}

func (t *fdTable) set(fd int, c *econn) { t.slot(fd, true).Store(c) }

// clear empties fd's slot if it still holds c.
func (t *fdTable) clear(fd int, c *econn) {
	if s := t.slot(fd, false); s != nil {
		s.CompareAndSwap(c, nil)
	}
}
