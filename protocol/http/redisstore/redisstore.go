// Package redisstore keeps the sessions of goes' HTTP protocol in Redis,
// through github.com/redis/go-redis/v9. It is a module of its own so that
// a program that keeps its sessions elsewhere carries no Redis client.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	p := http.New()
//	p.Sessions = &http.Sessions{Store: redisstore.New(rdb)}
//
// A session is a Redis hash under Prefix + id that expires with the
// session (PEXPIREAT), so Redis removes it and no sweep is needed. Each
// value is a field encoded with encoding/gob: basic types and slices and
// maps of them work as they are; a struct type, or a map or slice holding
// interface values, must be registered with gob.Register. A save is one
// Lua script, so it is atomic: it merges the request's changes into what
// Redis holds and refuses (leaving the session as it was) a session past
// the size limit. When Redis cannot be reached, loads and saves fail with
// an error that the protocol logs; requests go on being answered.
package redisstore

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/gob"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shunhui19/goes/protocol/http"
)

// DefaultPrefix is the key prefix when Store.Prefix is empty.
const DefaultPrefix = "goes:sess:"

// Store is an http.Store in Redis. Its methods are safe for concurrent
// use. Set the fields before first use.
type Store struct {
	// Client is the connection to Redis (a client, a cluster or a ring).
	Client redis.UniversalClient
	// Prefix starts every key (DefaultPrefix when empty).
	Prefix string
}

// New returns a Store on client with the default prefix.
func New(client redis.UniversalClient) *Store { return &Store{Client: client} }

var _ http.Store = (*Store)(nil)

// The hash's fields: the creation and expiry times, and a field per value.
const (
	fieldCreated = "c"
	fieldExpires = "e"
	valuePrefix  = "v:"
)

//go:embed save.lua
var saveSource string

var saveScript = redis.NewScript(saveSource)

func (s *Store) key(id string) string {
	if s.Prefix != "" {
		return s.Prefix + id
	}
	return DefaultPrefix + id
}

// Load implements http.Store.
func (s *Store) Load(ctx context.Context, id string) (http.Record, bool, error) {
	m, err := s.Client.HGetAll(ctx, s.key(id)).Result()
	if err != nil {
		return http.Record{}, false, fmt.Errorf("redis: %w", err)
	}
	if len(m) == 0 {
		return http.Record{}, false, nil
	}
	rec := http.Record{Values: make(map[string]any, len(m))}
	for f, raw := range m {
		switch {
		case f == fieldCreated:
			rec.Created = unixNano(raw)
		case f == fieldExpires:
			rec.Expires = unixNano(raw)
		case strings.HasPrefix(f, valuePrefix):
			var v any
			if err := gob.NewDecoder(strings.NewReader(raw)).Decode(&v); err != nil {
				return http.Record{}, false, fmt.Errorf("redis: session value %q: %w", f[len(valuePrefix):], err)
			}
			rec.Values[f[len(valuePrefix):]] = v
		}
	}
	if rec.Expires.IsZero() || !time.Now().Before(rec.Expires) {
		return http.Record{}, false, nil
	}
	return rec, true, nil
}

func unixNano(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(0, n)
}

// Save implements http.Store.
func (s *Store) Save(ctx context.Context, id string, ch http.Change) error {
	flush := "0"
	if ch.Flush {
		flush = "1"
	}
	args := make([]any, 0, 6+len(ch.Delete)+2*len(ch.Set))
	args = append(args, flush, ch.Expires.UnixMilli(), ch.MaxSize,
		strconv.FormatInt(ch.Created.UnixNano(), 10), strconv.FormatInt(ch.Expires.UnixNano(), 10), len(ch.Delete))
	for _, k := range ch.Delete {
		args = append(args, valuePrefix+k)
	}
	var buf bytes.Buffer
	for k, v := range ch.Set {
		buf.Reset()
		if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
			return fmt.Errorf("redis: session value %q: %w", k, err)
		}
		args = append(args, valuePrefix+k, buf.String())
	}
	err := saveScript.Run(ctx, s.Client, []string{s.key(id)}, args...).Err()
	if err != nil && strings.Contains(err.Error(), "session too large") {
		return http.ErrSessionTooLarge
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Delete implements http.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.Client.Del(ctx, s.key(id)).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}
