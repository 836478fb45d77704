package http

import (
	"context"
	"time"
)

// Store keeps sessions. MemoryStore (the default) and FileStore come with
// this package, a Redis store with the module
// github.com/shunhui19/goes/protocol/http/redisstore; a user's own store
// implements these three methods. Every method must be safe for
// concurrent use.
//
// Session ids reaching a store are always 32 lower-case hex digits.
type Store interface {
	// Load returns the session id. ok is false, with a nil error, when
	// the store does not hold it or it has expired. The caller does not
	// change rec.Values, so a store may return a map it shares.
	Load(ctx context.Context, id string) (rec Record, ok bool, err error)
	// Save applies ch to the session id atomically, creating it if the
	// store does not hold it: first Flush, then Delete, then Set. Keys the
	// change does not name keep the values the store holds, which may
	// have been written by another request since this one loaded them.
	// A session that would pass ch.MaxSize (when positive) is left as it
	// was and ErrSessionTooLarge is returned.
	Save(ctx context.Context, id string, ch Change) error
	// Delete removes the session id; a missing one is no error.
	Delete(ctx context.Context, id string) error
}

// Sweeper is implemented by stores that remove expired sessions in
// batches rather than (or as well as) on Load. Sessions calls Sweep from
// the Goer's timer every SweepInterval, on a goroutine of its own, never
// twice at once for one store.
type Sweeper interface {
	Sweep(ctx context.Context, now time.Time) error
}

// Record is a session as a store holds it.
type Record struct {
	Values  map[string]any
	Created time.Time // when the session was made; it ends at Created + Lifetime
	Expires time.Time // when the store forgets it
}

// Change is what a request did to its session, to be applied to what the
// store holds.
type Change struct {
	Created time.Time // kept by the store from the first save of a session
	Expires time.Time // the new expiry of the whole session
	Flush   bool      // remove every value first
	Delete  []string
	Set     map[string]any
	MaxSize int // bytes the session may take in the store after the change; 0: no limit

	ops []sessionOp // for MemoryStore, in place of Delete and Set
}

// apply applies ch to values in place.
func (ch *Change) apply(values map[string]any) {
	if ch.Flush {
		clear(values)
	}
	for _, k := range ch.Delete {
		delete(values, k)
	}
	for k, v := range ch.Set {
		values[k] = v
	}
	for _, o := range ch.ops {
		if o.set {
			values[o.key] = o.val
		} else {
			delete(values, o.key)
		}
	}
}

// touched calls f with every key ch sets or deletes (not those a Flush
// removes).
func (ch *Change) touched(f func(key string)) {
	for _, k := range ch.Delete {
		f(k)
	}
	for k := range ch.Set {
		f(k)
	}
	for _, o := range ch.ops {
		f(o.key)
	}
}
