package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/core/timer"
)

// Defaults applied where a Sessions field is zero.
const (
	DefaultSessionCookie  = "GOESSESSID"
	DefaultSessionLife    = 24 * time.Hour
	DefaultSessionIdle    = 30 * time.Minute
	DefaultSessionMaxSize = 64 << 10
	DefaultSessionSweep   = time.Minute
	DefaultStoreTimeout   = 5 * time.Second
)

// maxSessionCookies bounds how many session cookies of one request are
// looked up: a client may send several (left by an older Domain, say).
const maxSessionCookies = 3

// Sessions configures the sessions of a Protocol (Protocol.Sessions; nil
// means the defaults, with a MemoryStore). Set the fields before the Goer
// starts and do not change them afterwards; one Sessions may serve several
// Protocols and Goers. Its methods are safe for concurrent use.
//
// The cookie is HttpOnly, SameSite=Lax, Path=/, Secure on a TLS Goer (or
// when Secure is set), with Max-Age of the Lifetime. Ids are 128 random
// bits from crypto/rand; an id the store does not hold is never adopted:
// the request gets a new session with a new id (no session fixation). A
// new session that stays empty is neither stored nor given a cookie.
type Sessions struct {
	// Store keeps the sessions (a MemoryStore with its defaults when nil).
	Store Store
	// CookieName is the cookie's name (DefaultSessionCookie when empty).
	CookieName string
	// Lifetime ends a session this long after it was made, however much
	// it is used (DefaultSessionLife when zero).
	Lifetime time.Duration
	// IdleTimeout ends a session not used for this long (DefaultSessionIdle
	// when zero, none when negative). A session that is only read is
	// written back, to move its expiry, once an eighth of IdleTimeout has
	// passed since it was last written.
	IdleTimeout time.Duration
	// Domain is the cookie's Domain attribute (none when empty: the
	// cookie goes back to this host only).
	Domain string
	// Secure marks the cookie Secure on a Goer without TLS too (behind a
	// proxy that terminates TLS). It is always Secure on a TLS Goer.
	Secure bool
	// MaxSize bounds the bytes one session takes in its store
	// (DefaultSessionMaxSize when zero, none when negative): a save that
	// would pass it fails, is logged, and leaves the session as it was;
	// the response is not affected.
	MaxSize int
	// SweepInterval is how often the Goer's timer asks the store to remove
	// expired sessions (DefaultSessionSweep when zero).
	SweepInterval time.Duration
	// StoreTimeout bounds every call to a store but MemoryStore
	// (DefaultStoreTimeout when zero).
	StoreTimeout time.Duration

	once     sync.Once
	store    Store
	inline   bool // the store saves in memory: no goroutine, no timeout
	mu       sync.Mutex
	sweeps   map[*core.Goer]*timer.Timer
	pending  map[string]*pendingSave // ids with a save under way
	saving   int                     // saves under way
	saved    chan struct{}           // closed when saving drops to 0; made by a waiter
	sweeping atomic.Bool
}

// Wait waits for the saves under way: a store other than MemoryStore
// saves on a goroutine after the response. A Goer's stop waits for them
// already (at most StoreTimeout, see Protocol.OnGoerStop); call Wait
// before the program exits when m serves no Goer, or to wait without a
// bound. Safe for concurrent use.
func (m *Sessions) Wait() { m.waitSaves(nil) }

// waitSaves waits for the saves under way, or until timeout fires (never
// when nil), and reports whether they ended.
func (m *Sessions) waitSaves(timeout <-chan time.Time) bool {
	m.mu.Lock()
	if m.saving == 0 {
		m.mu.Unlock()
		return true
	}
	if m.saved == nil {
		m.saved = make(chan struct{})
	}
	saved := m.saved
	m.mu.Unlock()
	select {
	case <-saved:
		return true
	case <-timeout:
		return false
	}
}

// OnGoerStop implements core.GoerStopper: a stopping Goer (Stop,
// GracefulStop, the old process of a reload) waits, once its connections
// have ended, for the session saves under way, at most the Sessions'
// StoreTimeout (DefaultStoreTimeout when zero), so that a change answered
// before the stop is in the store after it. A save still under way then
// is logged and left to finish or fail by itself.
func (p *Protocol) OnGoerStop(g *core.Goer) {
	m := p.Sessions
	if m == nil {
		m = p.defSessions.Load()
	}
	if m == nil {
		return // no request asked for a session
	}
	m.init()
	if m.inline {
		return
	}
	d := orDur(m.StoreTimeout, DefaultStoreTimeout)
	t := time.NewTimer(d)
	defer t.Stop()
	if !m.waitSaves(t.C) {
		m.mu.Lock()
		n := m.saving
		m.mu.Unlock()
		g.Log().Warn("http: session saves still under way after StoreTimeout; stopping without them", "goer", g.GetName(), "saves", n, "timeout", d)
	}
}

// pendingSave lets the next request of a session wait for the saves of
// the requests before it.
type pendingSave struct {
	n    int
	done chan struct{}
}

// inlineStore is implemented by stores that save at once, in memory.
type inlineStore interface{ savesInline() }

func (m *Sessions) init() {
	m.once.Do(func() {
		m.store = m.Store
		if m.store == nil {
			m.store = &MemoryStore{}
		}
		_, m.inline = m.store.(inlineStore)
	})
}

func (m *Sessions) cookieName() string {
	if m.CookieName != "" {
		return m.CookieName
	}
	return DefaultSessionCookie
}

func (m *Sessions) lifetime() time.Duration { return orDur(m.Lifetime, DefaultSessionLife) }

func (m *Sessions) idle() time.Duration {
	if m.IdleTimeout < 0 {
		return 0
	}
	return orDur(m.IdleTimeout, DefaultSessionIdle)
}

func (m *Sessions) maxSize() int {
	if m.MaxSize < 0 {
		return 0
	}
	return orInt(m.MaxSize, DefaultSessionMaxSize)
}

// expiry is when a session made at created and used at now ends.
func (m *Sessions) expiry(created, now time.Time) time.Time {
	end := created.Add(m.lifetime())
	if idle := m.idle(); idle > 0 {
		if e := now.Add(idle); e.Before(end) {
			return e
		}
	}
	return end
}

func (m *Sessions) context() (context.Context, context.CancelFunc) {
	if m.inline {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), orDur(m.StoreTimeout, DefaultStoreTimeout))
}

// sessions returns the protocol's Sessions.
func (p *Protocol) sessions() *Sessions {
	if p.Sessions != nil {
		return p.Sessions
	}
	if m := p.defSessions.Load(); m != nil {
		return m
	}
	p.defSessions.CompareAndSwap(nil, &Sessions{})
	return p.defSessions.Load()
}

// Session returns the request's session, loading it on the first call
// (a request that never calls it costs nothing). A request without a
// valid session cookie, or whose cookie names a session the store does not
// hold (expired, destroyed, or made up), gets a new empty session with a
// new id. When the store fails, the error (wrapping ErrSessionStore) is
// logged and returned with an empty session that is never saved, so a
// handler may go on without it.
func (r *Request) Session() (*Session, error) {
	if r.sess == nil {
		r.sess = r.sessBuf
		r.sessErr = r.st.p.sessions().open(r, r.sess)
	}
	return r.sess, r.sessErr
}

// open loads the session of r or makes a new one.
// s is the request's Session, recycled.
func (m *Sessions) open(r *Request, s *Session) error {
	m.init()
	c := r.st.c
	if g := c.Goer(); g != nil {
		m.ensureSweep(g)
	}
	name := m.cookieName()
	var (
		err   error
		tried int
		found bool
	)
	now := time.Now()
	r.eachCookie(func(n, v []byte) bool {
		if string(n) != name || !validSessionID(v) {
			return true
		}
		tried++
		id := s.lastID
		if id != string(v) {
			id = string(v)
		}
		m.waitSave(id)
		ctx, cancel := m.context()
		rec, ok, e := m.store.Load(ctx, id)
		cancel()
		switch {
		case e != nil:
			err = e
			return false
		case ok && now.Before(rec.Expires) && now.Before(rec.Created.Add(m.lifetime())):
			*s = Session{m: m, id: id, base: rec.Values, created: rec.Created, expires: rec.Expires, ops: s.ops, lastID: id}
			found = true
			return false
		}
		return tried < maxSessionCookies
	})
	if err != nil {
		err = fmt.Errorf("%w: load: %w", ErrSessionStore, err)
		logger(c).Error("http: session not loaded", "err", err)
		s.m, s.broken = m, true
		return err
	}
	if found {
		return nil
	}
	id, err := newSessionID()
	if err != nil {
		s.m, s.broken = m, true
		return fmt.Errorf("%w: %w", ErrSessionStore, err)
	}
	s.m, s.id, s.issued = m, id, true
	return nil
}

// recycle makes s ready for the next request of its exchange, keeping its
// buffer and its id (a keep-alive client's next request has the same).
func (s *Session) recycle() {
	ops := s.ops
	clear(ops)
	*s = Session{ops: ops[:0], lastID: s.id}
}

// newSessionID returns 128 random bits as 32 hex digits.
func newSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validSessionID reports whether v has the shape of an id this package
// makes: 32 lower-case hex digits. Anything else is never looked up.
func validSessionID[B ~[]byte | ~string](v B) bool {
	if len(v) != 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func logger(c core.Connection) *slog.Logger {
	if g := c.Goer(); g != nil {
		return g.Log()
	}
	return slog.Default()
}

// cookieLocked adds the session's Set-Cookie to w before its head is
// written. The conn's mu is held.
func (s *Session) cookieLocked(w *Response) {
	if s.cookieDone || s.broken {
		return
	}
	m := s.m
	ck := Cookie{Name: m.cookieName(), Path: "/", Domain: m.Domain, HttpOnly: true, SameSite: SameSiteLax}
	ck.Secure = m.Secure
	if g := w.st.c.Goer(); g != nil && (g.Transport == "ssl" || g.Transport == "tls") {
		ck.Secure = true
	}
	switch {
	case s.gone:
		if s.issued && s.oldID == "" {
			return // the client has no cookie for it
		}
		ck.MaxAge = -1
	case s.issued && s.dirty():
		ck.Value = s.id
		ck.MaxAge = int(m.lifetime() / time.Second)
	default:
		return
	}
	s.cookieDone = true
	v, _ := ck.headerValue()
	w.add("Set-Cookie", kindOther, v)
}

// commitSession hands the request's session, if it changed, to its store
// once the response has been queued: at once for MemoryStore, else on a
// goroutine of its own (a later request of the session waits for it).
// The conn's mu is held.
func (r *Request) commitSession() {
	s := r.sess
	if s == nil {
		return
	}
	r.sess, r.sessErr = nil, nil
	defer s.recycle()
	m := s.m
	if s.broken || !(s.gone || s.dirty() || m.needsTouch(s)) {
		return
	}
	if s.gone && s.issued && s.oldID == "" {
		return
	}
	c := r.st.c
	if m.inline {
		m.write(s, c)
		return
	}
	cp := *s // s is the request's, which is reused
	cp.ops = slices.Clone(s.ops)
	s = &cp
	ids := []string{s.id, s.oldID}
	m.mu.Lock()
	if m.pending == nil {
		m.pending = make(map[string]*pendingSave)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		ps := m.pending[id]
		if ps == nil {
			ps = &pendingSave{done: make(chan struct{})}
			m.pending[id] = ps
		}
		ps.n++
	}
	m.saving++
	m.mu.Unlock()
	go func() {
		m.write(s, c)
		m.mu.Lock()
		if m.saving--; m.saving == 0 && m.saved != nil {
			close(m.saved)
			m.saved = nil
		}
		for _, id := range ids {
			if ps := m.pending[id]; id != "" && ps != nil {
				if ps.n--; ps.n == 0 {
					close(ps.done)
					delete(m.pending, id)
				}
			}
		}
		m.mu.Unlock()
	}()
}

// waitSave waits, at most StoreTimeout, for the saves of session id under
// way.
func (m *Sessions) waitSave(id string) {
	if m.inline {
		return
	}
	m.mu.Lock()
	ps := m.pending[id]
	m.mu.Unlock()
	if ps == nil {
		return
	}
	t := time.NewTimer(orDur(m.StoreTimeout, DefaultStoreTimeout))
	defer t.Stop()
	select {
	case <-ps.done:
	case <-t.C:
	}
}

// needsTouch reports whether a session read but not changed must be
// written back to move its idle expiry.
func (m *Sessions) needsTouch(s *Session) bool {
	idle := m.idle()
	if idle <= 0 || s.issued || s.expires.IsZero() {
		return false
	}
	now := time.Now()
	return m.expiry(s.created, now).Sub(s.expires) > idle/8
}

// write saves (or deletes) s in the store and logs what fails.
func (m *Sessions) write(s *Session, c core.Connection) {
	ctx, cancel := m.context()
	defer cancel()
	var err error
	if s.gone {
		if !s.issued {
			err = m.store.Delete(ctx, s.id)
		}
		if s.oldID != "" {
			err = errors.Join(err, m.store.Delete(ctx, s.oldID))
		}
	} else {
		err = m.store.Save(ctx, s.id, s.change(time.Now(), m))
		if err == nil && s.dropOld && s.oldID != "" {
			err = m.store.Delete(ctx, s.oldID)
		}
	}
	if err != nil {
		logger(c).Error("http: session not saved", "session", s.id[:6], "err", fmt.Errorf("%w: save: %w", ErrSessionStore, err))
	}
}

// ensureSweep starts, once per Goer (and per start of its timer), the
// task that sweeps expired sessions from the store.
func (m *Sessions) ensureSweep(g *core.Goer) {
	sw, ok := m.store.(Sweeper)
	if !ok {
		return
	}
	t := g.Timer()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sweeps == nil {
		m.sweeps = make(map[*core.Goer]*timer.Timer)
	}
	if m.sweeps[g] == t {
		return
	}
	m.sweeps[g] = t
	t.Add(orDur(m.SweepInterval, DefaultSessionSweep), func(...any) {
		if !m.sweeping.CompareAndSwap(false, true) {
			return
		}
		go func() {
			defer m.sweeping.Store(false)
			ctx, cancel := m.context()
			defer cancel()
			if err := sw.Sweep(ctx, time.Now()); err != nil {
				g.Log().Error("http: session sweep", "err", fmt.Errorf("%w: sweep: %w", ErrSessionStore, err))
			}
		}()
	}, nil, true)
}
