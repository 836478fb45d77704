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
	base    map[string]any // as loaded: never changed (a store may share it)
	ops     []sessionOp    // what changed since, one entry per key
	flush   bool           // base is dropped
	created time.Time
	expires time.Time // as loaded; zero for a new session

	issued  bool // the id is new: the cookie must be set when the session is kept
	oldID   string
	dropOld bool // RegenerateID(true): delete oldID
	gone    bool // Destroy
	broken  bool // the store failed to load it: nothing is saved

	cookieDone bool   // Set-Cookie was added to the response
	lastID     string // the id of the exchange's last session, reused when the next has it
}

// sessionOp is a value set (or, when !set, deleted) by the request.
type sessionOp struct {
	key string
	val any
	set bool
}

// ID returns the session id (32 hex digits), the cookie's value.
func (s *Session) ID() string { return s.id }

func (s *Session) lookup(key string) (any, bool) {
	for i := range s.ops {
		if s.ops[i].key == key {
			return s.ops[i].val, s.ops[i].set
		}
	}
	if s.flush {
		return nil, false
	}
	v, ok := s.base[key]
	return v, ok
}

// Get returns the value of key, or def when the session has none.
func (s *Session) Get(key string, def any) any {
	if v, ok := s.lookup(key); ok {
		return v
	}
	return def
}

// GetString returns the value of key if it is a string, else "".
func (s *Session) GetString(key string) string {
	v, _ := s.lookup(key)
	str, _ := v.(string)
	return str
}

// GetInt returns the value of key if it is an int, else 0.
func (s *Session) GetInt(key string) int {
	v, _ := s.lookup(key)
	n, _ := v.(int)
	return n
}

// Set sets key to v.
func (s *Session) Set(key string, v any) { s.change1(key, v, true) }

// Put sets every key of kv.
func (s *Session) Put(kv map[string]any) {
	for k, v := range kv {
		s.Set(k, v)
	}
}

// Delete removes the keys.
func (s *Session) Delete(keys ...string) {
	for _, k := range keys {
		s.change1(k, nil, false)
	}
}

func (s *Session) change1(key string, v any, set bool) {
	if s.gone {
		return
	}
	for i := range s.ops {
		if s.ops[i].key == key {
			s.ops[i].val, s.ops[i].set = v, set
			return
		}
	}
	s.ops = append(s.ops, sessionOp{key, v, set})
}

// Has reports whether the session holds key.
func (s *Session) Has(key string) bool {
	_, ok := s.lookup(key)
	return ok
}

// Pull returns the value of key (def if none) and removes it.
func (s *Session) Pull(key string, def any) any {
	v, ok := s.lookup(key)
	if !ok {
		return def
	}
	s.Delete(key)
	return v
}

// All returns a copy of the session's values (the values themselves are
// not copied).
func (s *Session) All() map[string]any {
	out := make(map[string]any, len(s.base)+len(s.ops))
	if !s.flush {
		maps.Copy(out, s.base)
	}
	for _, o := range s.ops {
		if o.set {
			out[o.key] = o.val
		} else {
			delete(out, o.key)
		}
	}
	return out
}

// Len returns the number of values.
func (s *Session) Len() int {
	n := 0
	if !s.flush {
		n = len(s.base)
	}
	for _, o := range s.ops {
		_, in := s.base[o.key]
		in = in && !s.flush
		switch {
		case o.set && !in:
			n++
		case !o.set && in:
			n--
		}
	}
	return n
}

// Flush removes every value; the session (and its id) stays.
func (s *Session) Flush() {
	s.flush = true
	clear(s.ops)
	s.ops = s.ops[:0]
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
	s.issued = true // the new id gets the whole session
	s.created = time.Time{}
	return nil
}

// Destroy removes the session from the store and tells the client to
// forget its cookie. The Session is empty afterwards; a later Set in the
// same request is not saved.
func (s *Session) Destroy() {
	s.Flush()
	s.gone = true
}

// dirty reports whether the session must be written to its store.
func (s *Session) dirty() bool {
	if s.broken {
		return false
	}
	if s.issued {
		return s.Len() > 0 || s.oldID != ""
	}
	return s.flush || len(s.ops) > 0
}

// change returns what to save, at now.
func (s *Session) change(now time.Time, cfg *Sessions) Change {
	created := s.created
	if created.IsZero() {
		created = now
	}
	ch := Change{Created: created, Expires: cfg.expiry(created, now), MaxSize: cfg.maxSize()}
	if s.issued {
		ch.Flush = true
		ch.Set = s.All()
		return ch
	}
	ch.Flush = s.flush
	if cfg.inline {
		ch.ops = s.ops // applied before the request's Session is recycled
		return ch
	}
	for _, o := range s.ops {
		if o.set {
			if ch.Set == nil {
				ch.Set = make(map[string]any, len(s.ops))
			}
			ch.Set[o.key] = o.val
		} else {
			ch.Delete = append(ch.Delete, o.key)
		}
	}
	return ch
}
