package http

import (
	"maps"
	"time"
)

// Session is the session of one request, from Request.Session: values
// kept for a client between its requests, found by a cookie. Its methods
// follow workerman's session (get, set, delete, has, pull, all, flush,
// regenerate id, destroy). What a handler changes is saved once, after
// the response has been sent, and only when something changed.
//
// A Session belongs to its request: use it from one goroutine (methods
// must not be called concurrently with each other) and not after the
// response went out.
//
// Which values a session holds depends on its store: MemoryStore keeps
// them as they are (so treat a map or slice you Set as frozen: later
// requests read that very value); FileStore and the Redis store encode
// them with encoding/gob (basic types and their slices and maps work as
// they are; a struct, or a map or slice holding interface values, must be
// registered with gob.Register by the program before it is stored).
//
// Concurrent requests of one session: each request loads the session when
// it first asks for it and saves only what it changed, key by key (a
// Flush or RegenerateID replaces the whole session). So two requests that
// write different keys keep both writes; for one key the last save wins.
type Session struct {
	m       *Sessions
	id      string
	values  map[string]any
	created time.Time
	expires time.Time // as loaded; zero for a new session

	issued  bool // the id is new: the cookie must be set when the session is kept
	oldID   string
	dropOld bool // RegenerateID(true): delete oldID
	flush   bool
	changed map[string]bool // key: true set, false deleted
	gone    bool            // Destroy
	broken  bool            // the store failed to load it: nothing is saved

	cookieDone bool // Set-Cookie was added to the response
}

// ID returns the session id (32 hex digits), the cookie's value.
func (s *Session) ID() string { return s.id }

// Get returns the value of key, or def when the session has none.
func (s *Session) Get(key string, def any) any {
	if v, ok := s.values[key]; ok {
		return v
	}
	return def
}

// GetString returns the value of key if it is a string, else "".
func (s *Session) GetString(key string) string {
	v, _ := s.values[key].(string)
	return v
}

// GetInt returns the value of key if it is an int, else 0.
func (s *Session) GetInt(key string) int {
	v, _ := s.values[key].(int)
	return v
}

// Set sets key to v.
func (s *Session) Set(key string, v any) {
	if s.values == nil {
		s.values = make(map[string]any)
	}
	s.values[key] = v
	s.mark(key, true)
}

// Put sets every key of kv.
func (s *Session) Put(kv map[string]any) {
	for k, v := range kv {
		s.Set(k, v)
	}
}

// Delete removes the keys.
func (s *Session) Delete(keys ...string) {
	for _, k := range keys {
		delete(s.values, k)
		s.mark(k, false)
	}
}

// Has reports whether the session holds key.
func (s *Session) Has(key string) bool {
	_, ok := s.values[key]
	return ok
}

// Pull returns the value of key (def if none) and removes it.
func (s *Session) Pull(key string, def any) any {
	v, ok := s.values[key]
	if !ok {
		return def
	}
	s.Delete(key)
	return v
}

// All returns a copy of the session's values (the values themselves are
// not copied).
func (s *Session) All() map[string]any {
	out := make(map[string]any, len(s.values))
	maps.Copy(out, s.values)
	return out
}

// Len returns the number of values.
func (s *Session) Len() int { return len(s.values) }

// Flush removes every value; the session (and its id) stays.
func (s *Session) Flush() {
	clear(s.values)
	s.flush = true
	clear(s.changed)
}

// RegenerateID gives the session a new id, keeping its values (do it when
// a user logs in or gains rights, so that an id seen before no longer
// opens the session). With deleteOld the old id is removed from the store;
// without it the old id keeps the session as it was until it expires,
// which lets requests already under way with it finish.
func (s *Session) RegenerateID(deleteOld bool) error {
	id, err := newSessionID()
	if err != nil {
		return err
	}
	if !s.issued {
		s.oldID = s.id // the id the store holds
	}
	s.dropOld = s.dropOld || deleteOld
	s.id = id
	s.issued = true
	s.created = time.Time{}
	s.flush = true // the new id gets the whole session
	return nil
}

// Destroy removes the session from the store and tells the client to
// forget its cookie. The Session is empty afterwards; a later Set in the
// same request is not saved.
func (s *Session) Destroy() {
	s.gone = true
	clear(s.values)
	clear(s.changed)
}

func (s *Session) mark(key string, set bool) {
	if s.flush {
		return // the whole session is saved anyway
	}
	if s.changed == nil {
		s.changed = make(map[string]bool)
	}
	s.changed[key] = set
}

// dirty reports whether the session must be written to its store.
func (s *Session) dirty() bool {
	if s.broken {
		return false
	}
	if s.issued {
		return len(s.values) > 0 || s.oldID != ""
	}
	return s.flush || len(s.changed) > 0
}

// change returns what to save, at now.
func (s *Session) change(now time.Time, cfg *Sessions) Change {
	created := s.created
	if created.IsZero() {
		created = now
	}
	ch := Change{Created: created, Expires: cfg.expiry(created, now), MaxSize: cfg.maxSize()}
	if s.issued || s.flush {
		ch.Flush = true
		ch.Set = s.values
		return ch
	}
	for k, set := range s.changed {
		if set {
			if ch.Set == nil {
				ch.Set = make(map[string]any, len(s.changed))
			}
			ch.Set[k] = s.values[k]
		} else {
			ch.Delete = append(ch.Delete, k)
		}
	}
	return ch
}
