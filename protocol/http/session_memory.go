package http

import (
	"container/list"
	"context"
	"maps"
	"reflect"
	"sync"
	"time"
)

// DefaultMaxSessions bounds a MemoryStore whose MaxSessions is zero.
const DefaultMaxSessions = 100_000

// MemoryStore keeps sessions in the process's memory: the default store.
// Sessions are lost when the process ends (and not shared with the
// process a reload starts). Values are kept as they are, not copied or
// encoded: any Go value may be stored, and a map or slice stored is the
// very one later requests read, so never change one after Set (Set a new
// one instead). The size of a session, for Sessions.MaxSize, is estimated
// from its keys and values (strings, byte slices, numbers, and what
// slices, maps, pointers and structs hold).
//
// The zero value is ready to use; its methods are safe for concurrent use.
type MemoryStore struct {
	// MaxSessions bounds how many sessions are kept (DefaultMaxSessions
	// when zero): beyond it the least recently used one is dropped.
	MaxSessions int

	mu   sync.Mutex
	byID map[string]*list.Element // of *memRecord
	lru  list.List                // front: most recently used
}

type memRecord struct {
	id   string
	rec  Record
	size int
}

var (
	_ Store   = (*MemoryStore)(nil)
	_ Sweeper = (*MemoryStore)(nil)
)

func (s *MemoryStore) savesInline() {}

// Len returns the number of sessions held, expired ones not yet swept
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Load implements Store. The values map returned is the store's own: it
// is replaced, never changed, by a save.
func (s *MemoryStore) Load(_ context.Context, id string) (Record, bool, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return Record{}, false, nil
	}
	r := e.Value.(*memRecord)
	if !now.Before(r.rec.Expires) {
		s.remove(e)
		return Record{}, false, nil
	}
	s.lru.MoveToFront(e)
	return r.rec, true, nil
}

// Save implements Store.
func (s *MemoryStore) Save(_ context.Context, id string, ch Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = make(map[string]*list.Element)
	}
	e := s.byID[id]
	var r *memRecord
	if e != nil {
		r = e.Value.(*memRecord)
	}
	values, created := map[string]any(nil), ch.Created
	if r != nil && !ch.Flush {
		values = maps.Clone(r.rec.Values)
		created = r.rec.Created
	}
	if values == nil {
		values = make(map[string]any, len(ch.Set))
	}
	size := 0
	if r != nil && !ch.Flush {
		size = r.size // less what the change replaces, plus what it sets
		ch.touched(func(k string) {
			if v, ok := values[k]; ok {
				size -= entrySize(k, v)
			}
		})
	}
	ch.apply(values)
	if ch.Flush || r == nil {
		for k, v := range values {
			size += entrySize(k, v)
		}
	} else {
		ch.touched(func(k string) {
			if v, ok := values[k]; ok {
				size += entrySize(k, v)
			}
		})
	}
	if ch.MaxSize > 0 && size > ch.MaxSize {
		return ErrSessionTooLarge
	}
	rec := Record{Values: values, Created: created, Expires: ch.Expires}
	if r != nil {
		r.rec, r.size = rec, size
		s.lru.MoveToFront(e)
		return nil
	}
	limit := orInt(s.MaxSessions, DefaultMaxSessions)
	for len(s.byID) >= limit {
		s.remove(s.lru.Back())
	}
	s.byID[id] = s.lru.PushFront(&memRecord{id: id, rec: rec, size: size})
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byID[id]; e != nil {
		s.remove(e)
	}
	return nil
}

// Sweep implements Sweeper: it drops the sessions expired at now.
func (s *MemoryStore) Sweep(_ context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.lru.Back(); e != nil; {
		prev := e.Prev()
		if !now.Before(e.Value.(*memRecord).rec.Expires) {
			s.remove(e)
		}
		e = prev
	}
	return nil
}

func (s *MemoryStore) remove(e *list.Element) {
	delete(s.byID, e.Value.(*memRecord).id)
	s.lru.Remove(e)
}

func entrySize(k string, v any) int {
	switch v := v.(type) {
	case int, int64, uint64, float64, bool:
		return len(k) + 8
	case string:
		return len(k) + 16 + len(v)
	}
	return len(k) + valueSize(reflect.ValueOf(v), 0)
}

// valueSize estimates the bytes v holds, following slices, maps,
// pointers, interfaces and structs a few levels deep.
func valueSize(v reflect.Value, depth int) int {
	const word = 8
	if !v.IsValid() {
		return word
	}
	if depth > 8 {
		return int(v.Type().Size())
	}
	switch v.Kind() {
	case reflect.String:
		return 2*word + v.Len()
	case reflect.Slice:
		n := 3 * word
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return n + v.Len()
		}
		for i := 0; i < v.Len(); i++ {
			n += valueSize(v.Index(i), depth+1)
		}
		return n
	case reflect.Array:
		n := 0
		for i := 0; i < v.Len(); i++ {
			n += valueSize(v.Index(i), depth+1)
		}
		return n
	case reflect.Map:
		n := word
		it := v.MapRange()
		for it.Next() {
			n += valueSize(it.Key(), depth+1) + valueSize(it.Value(), depth+1)
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return word
		}
		return word + valueSize(v.Elem(), depth+1)
	case reflect.Struct:
		n := 0
		for i := 0; i < v.NumField(); i++ {
			n += valueSize(v.Field(i), depth+1)
		}
		return n
	}
	return int(v.Type().Size())
}
