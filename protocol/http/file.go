package http

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shunhui19/goes/core"
)

// senderFrom is implemented by connections that stream a reader
// (*core.TCPConnection).
type senderFrom interface {
	SendFrom(r io.Reader) error
}

// maxInMemoryFile bounds a file sent without SendFrom.
const maxInMemoryFile = 4 << 20

// SendFile answers with the content of the file name without reading it
// into memory: Content-Type from the extension, Last-Modified and ETag,
// 304 for a matching If-None-Match or If-Modified-Since, and single byte
// ranges (206, or 416 when unsatisfiable). If-Match and
// If-Unmodified-Since are honoured: 412 when they fail. HEAD gets the
// headers only.
// A missing file is answered 404, an unreadable one 403; the error is
// returned too.
func (w *Response) SendFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		w.sendError(statusForOpenError(err))
		return err
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		w.sendError(404)
		if err == nil {
			err = &fs.PathError{Op: "send", Path: name, Err: errors.New("is a directory")}
		}
		return err
	}
	return w.sendOpenFile(f, fi, name)
}

func statusForOpenError(err error) int {
	if errors.Is(err, fs.ErrPermission) {
		return 403
	}
	return 404
}

// sendError answers code with a short text body.
func (w *Response) sendError(code int) error {
	w.clearHeaders()
	w.err = nil
	return w.Status(code).Header("Content-Type", "text/plain; charset=utf-8").
		SendString(strconv.Itoa(code) + " " + StatusText(code) + "\n")
}

// fileETag is a validator from the size and modification time.
func fileETag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36) + `"`
}

func (w *Response) sendOpenFile(f *os.File, fi fs.FileInfo, name string) error {
	st := w.st
	req := w.r
	size, mod := fi.Size(), fi.ModTime()
	etag := fileETag(fi)
	if !w.hasKind(kindContentType) {
		ct := mime.TypeByExtension(filepath.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header("Content-Type", ct)
	}
	if !mod.IsZero() && mod.Unix() > 0 {
		w.Header("Last-Modified", mod.UTC().Format(TimeFormat))
	}
	w.Header("ETag", etag)
	w.Header("Accept-Ranges", "bytes")

	getOrHead := req.method == "GET" || req.method == "HEAD"
	switch preconditions(req, etag, mod) {
	case 304:
		f.Close()
		w.DelHeader("Content-Type")
		return w.Status(304).Send(nil)
	case 412:
		f.Close()
		return w.sendError(412)
	}
	offset, length := int64(0), size
	if rng := req.HeaderBytes("Range"); getOrHead && rng != nil && ifRangeHolds(req, etag, mod) {
		start, end, valid, satisfiable := parseRange(rng, size)
		switch {
		case valid && !satisfiable:
			f.Close()
			w.Header("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			w.Header("Content-Type", "text/plain; charset=utf-8")
			return w.Status(416).SendString("416 Range Not Satisfiable\n")
		case valid:
			offset, length = start, end-start+1
			w.Header("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
			w.Status(206)
		}
	}

	closing, err := st.beginRaw()
	if err != nil {
		f.Close()
		return err
	}
	head := w.appendHead(w.scratch[:0], monoNow(), length, false, closing)
	w.scratch = head
	if err := st.c.SendBytes(head, true); err != nil {
		f.Close()
		st.abortRaw()
		if errors.Is(err, core.ErrSendBufferFull) {
			st.unanswerable(err)
		}
		return err
	}
	if !w.bodyAllowed() || length == 0 {
		f.Close()
		st.finishRaw(closing)
		return nil
	}
	body := io.NewSectionReader(f, offset, length)
	if sf, ok := st.c.(senderFrom); ok {
		err = sf.SendFrom(readCloser{body, f})
	} else if length <= maxInMemoryFile {
		var b []byte
		b, err = io.ReadAll(body)
		f.Close()
		if err == nil {
			err = st.c.SendBytes(b, true)
		}
	} else {
		f.Close()
		err = ErrNoSendFrom
		closing = true // the head promised a body that will not come
	}
	st.finishRaw(closing || err != nil)
	return err
}

type readCloser struct {
	io.Reader
	io.Closer
}

// preconditions evaluates the conditional headers of a request for a file
// in the order of RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since
// (412 when false), then If-None-Match (304 for GET and HEAD, 412 for
// other methods, when an entity tag matches), else If-Modified-Since
// (304 for GET and HEAD). It returns 0 when the request goes on; If-Range
// is left to the range code.
func preconditions(req *Request, etag string, mod time.Time) int {
	if im := req.HeaderBytes("If-Match"); im != nil {
		if !etagListMatches(im, etag, false) {
			return 412
		}
	} else if t, ok := dateHeader(req, "If-Unmodified-Since", mod); ok && mod.Truncate(time.Second).After(t) {
		return 412
	}
	getOrHead := req.method == "GET" || req.method == "HEAD"
	if inm := req.HeaderBytes("If-None-Match"); inm != nil {
		switch {
		case !etagListMatches(inm, etag, true):
			return 0
		case getOrHead:
			return 304
		default:
			return 412
		}
	}
	if t, ok := dateHeader(req, "If-Modified-Since", mod); ok && getOrHead && !mod.Truncate(time.Second).After(t) {
		return 304
	}
	return 0
}

// etagListMatches reports whether the If-Match or If-None-Match list has
// "*" or etag: by weak comparison ("W/" ignored) or strong comparison (a
// weak tag never matches) (RFC 9110 §8.8.3.2).
func etagListMatches(list []byte, etag string, weak bool) bool {
	match := false
	eachToken(list, func(tok []byte) {
		if weak {
			tok = bytes.TrimPrefix(tok, []byte("W/"))
		}
		if string(tok) == "*" || string(tok) == etag {
			match = true
		}
	})
	return match
}

// dateHeader reads the date in header name; ok is false when it is
// missing or invalid (then ignored, RFC 9110 §13.1.3, §13.1.4) or the file
// has no modification time to compare with.
func dateHeader(req *Request, name string, mod time.Time) (time.Time, bool) {
	v := req.Header(name)
	if v == "" || mod.IsZero() || mod.Unix() <= 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(TimeFormat, v)
	return t, err == nil
}

// ifRangeHolds reports whether a Range may be honoured under If-Range.
func ifRangeHolds(req *Request, etag string, mod time.Time) bool {
	ir := req.Header("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return ir == etag
	}
	t, err := time.Parse(TimeFormat, ir)
	return err == nil && mod.Truncate(time.Second).Equal(t)
}

// parseRange reads a single "bytes=" range. valid is false for a header to
// ignore (unknown unit, several ranges, syntax errors); satisfiable is false
// when the range starts past the end.
func parseRange(h []byte, size int64) (start, end int64, valid, satisfiable bool) {
	s := strings.TrimSpace(string(h))
	if len(s) < 6 || !strings.EqualFold(s[:6], "bytes=") {
		return 0, 0, false, false
	}
	s = strings.TrimSpace(s[6:])
	if strings.Contains(s, ",") {
		return 0, 0, false, false // several ranges: the whole file is fine
	}
	dash := strings.IndexByte(s, '-')
	if dash < 0 {
		return 0, 0, false, false
	}
	a, b := strings.TrimSpace(s[:dash]), strings.TrimSpace(s[dash+1:])
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		n = min(n, size)
		return size - n, size - 1, true, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, false
	}
	end = size - 1
	if b != "" {
		end, err = strconv.ParseInt(b, 10, 64)
		if err != nil || end < start {
			return 0, 0, false, false
		}
		end = min(end, size-1)
	}
	if start >= size {
		return 0, 0, true, false
	}
	return start, end, true, true
}

// Static serves the files under Root for GET and HEAD requests whose path
// starts with Prefix, before OnMessage sees them. Paths that try to leave
// Root ("..", encoded or not, backslashes, NUL bytes, symbolic links that
// point outside) are answered 403; directories are served through their
// Index file and never listed. A directory asked for without its trailing
// slash (the prefix itself too) is redirected (301) to it, so that relative
// links in its index work.
type Static struct {
	// Prefix is the URL path prefix, such as "/static/" or "/".
	Prefix string
	// Root is the directory the files come from.
	Root string
	// Index is the file served for a directory ("index.html" when empty).
	Index string
	// Fallthrough hands requests for missing files to OnMessage instead of
	// answering 404.
	Fallthrough bool

	once     sync.Once
	realRoot string
	rootErr  error
}

// ServeDir mounts the directory root at the URL path prefix and returns the
// mount for further settings. Call it before the Goer starts.
func (p *Protocol) ServeDir(prefix, root string) *Static {
	s := &Static{Prefix: prefix, Root: root}
	p.mu.Lock()
	var mounts []*Static
	if old := p.mounts.Load(); old != nil {
		mounts = append(mounts, *old...)
	}
	mounts = append(mounts, s)
	p.mounts.Store(&mounts)
	p.mu.Unlock()
	return s
}

func (p *Protocol) mountsSnapshot() []*Static {
	if m := p.mounts.Load(); m != nil {
		return *m
	}
	return nil
}

// serveStatic answers the request from a static mount; it reports whether
// it did.
func (p *Protocol) serveStatic(x *exchange) bool {
	req := &x.req
	if req.method != "GET" && req.method != "HEAD" {
		return false
	}
	mounts := p.mountsSnapshot()
	if len(mounts) == 0 {
		return false
	}
	raw := req.RawPath()
	for _, m := range mounts {
		if len(m.Prefix) > 1 && m.Prefix[len(m.Prefix)-1] == '/' && string(raw) == m.Prefix[:len(m.Prefix)-1] {
			_ = x.resp.Redirect(m.Prefix+queryPart(req), 301) // "/static" to "/static/"
			return true
		}
		if !bytes.HasPrefix(raw, []byte(m.Prefix)) {
			continue
		}
		name, code, dir := m.resolve(raw[len(m.Prefix):])
		if code == 404 && m.Fallthrough {
			return false
		}
		w := &x.resp
		if code != 0 {
			_ = w.sendError(code)
			return true
		}
		if dir && !bytes.HasSuffix(raw, []byte("/")) && !bytes.HasPrefix(raw, []byte("//")) {
			// relative links in the index resolve against the directory
			_ = w.Redirect(string(raw)+"/"+queryPart(req), 301)
			return true
		}
		f, err := os.Open(name)
		if err != nil {
			if m.Fallthrough {
				return false
			}
			_ = w.sendError(statusForOpenError(err))
			return true
		}
		fi, err := f.Stat()
		if err != nil || fi.IsDir() {
			f.Close()
			_ = w.sendError(404)
			return true
		}
		_ = w.sendOpenFile(f, fi, name)
		return true
	}
	return false
}

// queryPart is "?query" when the request has one.
func queryPart(req *Request) string {
	if !req.hasQuery {
		return ""
	}
	return "?" + string(req.RawQuery())
}

// resolve maps the encoded path below the prefix to a file inside Root. It
// returns a status when the path is refused or the file is missing, and
// whether the path named a directory (and the file is its index).
func (m *Static) resolve(rel []byte) (name string, code int, dir bool) {
	m.once.Do(func() {
		m.realRoot, m.rootErr = filepath.EvalSymlinks(m.Root)
		if m.rootErr == nil {
			m.realRoot, m.rootErr = filepath.Abs(m.realRoot)
		}
	})
	if m.rootErr != nil {
		return "", 404, false
	}
	dec, err := url.PathUnescape(string(rel))
	if err != nil {
		return "", 400, false
	}
	if strings.ContainsAny(dec, "\\\x00") || strings.ContainsAny(string(rel), "\\") {
		return "", 403, false
	}
	for _, seg := range strings.Split(dec, "/") {
		if seg == ".." {
			return "", 403, false
		}
	}
	name = filepath.Join(m.realRoot, filepath.FromSlash(dec))
	fi, err := os.Stat(name)
	if err != nil {
		return "", statusForOpenError(err), false
	}
	dir = fi.IsDir()
	if dir {
		index := m.Index
		if index == "" {
			index = "index.html"
		}
		name = filepath.Join(name, index)
	}
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", statusForOpenError(err), false
	}
	if real != m.realRoot && !strings.HasPrefix(real, m.realRoot+string(filepath.Separator)) {
		return "", 403, false // a link that leads out of the root
	}
	return real, 0, dir
}
