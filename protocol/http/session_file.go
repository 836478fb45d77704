package http

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileStore keeps each session in a file of its own in Dir, as workerman
// does by default: sessions outlive the process and are shared by the
// processes of a reload. Values are encoded with encoding/gob: basic
// types (strings, numbers, bools, []byte) and slices and maps of them
// work as they are; a struct type, or a map or slice holding interface
// values, must be registered with gob.Register before it is stored or
// loaded. A save writes a temporary file and renames it over the
// session's file, so a reader never sees half a session (files are not
// synced to disk: a crash may lose the last saves). Saves of one session
// are serialised within a process; two processes saving one session at the
// same moment (during a reload) may lose one of the saves.
//
// Its methods are safe for concurrent use. Set Dir before first use.
type FileStore struct {
	// Dir holds the session files (made, 0700, if missing). Required.
	Dir string

	locks [64]sync.Mutex // by session id
	made  sync.Once
	mkErr error
}

var (
	_ Store   = (*FileStore)(nil)
	_ Sweeper = (*FileStore)(nil)
)

const (
	sessionFilePrefix = "sess_"
	sessionTempPrefix = ".tmp-sess-"
	sessionFileMagic  = "GSS1"
	sessionFileHead   = len(sessionFileMagic) + 16 // magic, created, expires
)

func (s *FileStore) path(id string) string { return filepath.Join(s.Dir, sessionFilePrefix+id) }

func (s *FileStore) lock(id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = io.WriteString(h, id)
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

func (s *FileStore) mkdir() error {
	s.made.Do(func() {
		if s.Dir == "" {
			s.mkErr = errors.New("goes: http: FileStore.Dir is empty")
			return
		}
		s.mkErr = os.MkdirAll(s.Dir, 0o700)
	})
	return s.mkErr
}

// Load implements Store.
func (s *FileStore) Load(_ context.Context, id string) (Record, bool, error) {
	if !validSessionID(id) {
		return Record{}, false, nil
	}
	b, err := os.ReadFile(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	rec, err := decodeSessionFile(b)
	if err != nil {
		return Record{}, false, nil // a damaged session is no session: a new one replaces it
	}
	if !time.Now().Before(rec.Expires) {
		return Record{}, false, nil
	}
	return rec, true, nil
}

// Save implements Store.
func (s *FileStore) Save(ctx context.Context, id string, ch Change) error {
	if !validSessionID(id) {
		return fmt.Errorf("goes: http: bad session id %q", id)
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	values := map[string]any{}
	created := ch.Created
	if !ch.Flush {
		old, ok, err := s.Load(ctx, id)
		if err != nil && !errors.Is(err, ErrBadSessionFile) {
			return err
		}
		if ok {
			values, created = old.Values, old.Created
		}
	}
	ch.apply(values)
	b, err := encodeSessionFile(Record{Values: values, Created: created, Expires: ch.Expires})
	if err != nil {
		return err
	}
	if ch.MaxSize > 0 && len(b) > ch.MaxSize {
		return ErrSessionTooLarge
	}
	f, err := os.CreateTemp(s.Dir, sessionTempPrefix+"*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path(id))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Delete implements Store.
func (s *FileStore) Delete(_ context.Context, id string) error {
	if !validSessionID(id) {
		return nil
	}
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Sweep implements Sweeper: it removes the files of sessions expired at
// now, unreadable ones, and temporary files older than an hour (left by a
// crash).
func (s *FileStore) Sweep(ctx context.Context, now time.Time) error {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if ctx.Err() != nil {
			break
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, sessionTempPrefix):
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > time.Hour {
				os.Remove(filepath.Join(s.Dir, name))
			}
		case strings.HasPrefix(name, sessionFilePrefix):
			id := name[len(sessionFilePrefix):]
			if !validSessionID(id) {
				continue
			}
			if expired, err := s.expired(id, now); err != nil {
				errs = append(errs, err)
			} else if expired {
				if err := s.Delete(ctx, id); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// expired reads the head of a session file; an unreadable one counts as
// expired.
func (s *FileStore) expired(id string, now time.Time) (bool, error) {
	f, err := os.Open(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	var head [sessionFileHead]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || string(head[:4]) != sessionFileMagic {
		return true, nil
	}
	expires := int64(binary.BigEndian.Uint64(head[12:20]))
	return now.UnixNano() >= expires, nil
}

// encodeSessionFile encodes rec: the magic, the creation and expiry times
// (Unix nanoseconds, big-endian), then the values in gob.
func encodeSessionFile(rec Record) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(sessionFileMagic)
	var t [16]byte
	binary.BigEndian.PutUint64(t[:8], uint64(rec.Created.UnixNano()))
	binary.BigEndian.PutUint64(t[8:], uint64(rec.Expires.UnixNano()))
	b.Write(t[:])
	if err := gob.NewEncoder(&b).Encode(rec.Values); err != nil {
		return nil, fmt.Errorf("goes: http: session values: %w", err)
	}
	return b.Bytes(), nil
}

// decodeSessionFile decodes what encodeSessionFile made.
func decodeSessionFile(b []byte) (Record, error) {
	if len(b) < sessionFileHead || string(b[:4]) != sessionFileMagic {
		return Record{}, fmt.Errorf("%w: no header", ErrBadSessionFile)
	}
	rec := Record{
		Created: time.Unix(0, int64(binary.BigEndian.Uint64(b[4:12]))),
		Expires: time.Unix(0, int64(binary.BigEndian.Uint64(b[12:20]))),
	}
	r := bytes.NewReader(b[sessionFileHead:])
	if err := gob.NewDecoder(r).Decode(&rec.Values); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrBadSessionFile, err)
	}
	if r.Len() != 0 {
		return Record{}, fmt.Errorf("%w: %d bytes after the values", ErrBadSessionFile, r.Len())
	}
	if rec.Values == nil {
		rec.Values = map[string]any{}
	}
	return rec, nil
}
