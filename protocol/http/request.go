package http

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/shunhui19/goes/core"
)

// Request is a parsed HTTP request. The protocol reuses Requests, for the
// connection's next request or another connection's: a Request (and
// everything returned as []byte, the body handed to OnMessage too) is
// valid from OnMessage until its response has been sent. Copy what you
// keep longer. Methods must not be called concurrently with each other.
type Request struct {
	st *conn
	w  *Response // of the same exchange

	raw      []byte // the head, copied out of core's buffer
	method   string
	target   span
	path     span
	query    span
	hasQuery bool
	minor    int8
	host     span
	fields   []field

	trailerRaw []byte
	trailers   []field
	body       []byte

	contentLength  int64 // -1 while parsing: none seen
	chunked        bool
	afterChunked   bool
	keepAlive      bool
	expectContinue bool

	// parsed on first use
	queryValues url.Values
	form        url.Values
	formErr     error
	formDone    bool
	mform       *multipart.Form
	mformErr    error
	mformDone   bool

	sess    *Session // loaded by Session: sessBuf
	sessErr error
	sessBuf *Session // the exchange's, reused
}

// maxKeptBody is the body buffer size kept for the next request.
const maxKeptBody = 64 << 10

// reset makes r ready for the next request, keeping its buffers. It sets
// field by field what a request may have set: most of a Request is parsed
// on first use only, and rewriting all of it for every request costs.
func (r *Request) reset() {
	r.raw = r.raw[:0]
	r.method = ""
	r.target, r.path, r.query, r.host = span{}, span{}, span{}, span{}
	r.hasQuery = false
	r.minor = 0
	r.fields = r.fields[:0]
	r.trailerRaw = r.trailerRaw[:0]
	r.trailers = r.trailers[:0]
	if cap(r.body) > maxKeptBody {
		r.body = nil
	} else {
		r.body = r.body[:0]
	}
	r.contentLength = -1
	r.chunked, r.afterChunked, r.keepAlive, r.expectContinue = false, false, false, false
	if r.sess != nil { // the response was never sent
		r.sess.recycle()
		r.sess, r.sessErr = nil, nil
	}
	if r.queryValues != nil || r.formDone || r.mformDone {
		r.queryValues = nil
		r.form, r.formErr, r.formDone = nil, nil, false
		r.mform, r.mformErr, r.mformDone = nil, nil, false
	}
}

// release removes the temporary files of the request's multipart form.
func (r *Request) release() {
	if r.mform != nil {
		_ = r.mform.RemoveAll()
		r.mform = nil
	}
}

// RequestOf returns the request c is handling, or nil when c is not an HTTP
// connection or has no request awaiting a response. Call it in OnMessage.
func RequestOf(c core.Connection) *Request {
	st, ok := c.Context().(*conn)
	if !ok {
		return nil
	}
	if !st.pending.Load() {
		return nil
	}
	return &st.x.Load().req
}

// ResponseOf returns the response builder for the request c is handling,
// or nil like RequestOf.
func ResponseOf(c core.Connection) *Response {
	r := RequestOf(c)
	if r == nil {
		return nil
	}
	return r.w
}

// Response returns the request's response builder.
func (r *Request) Response() *Response { return r.w }

// Conn returns the connection the request arrived on.
func (r *Request) Conn() core.Connection { return r.st.c }

// Method returns the method: "GET", "POST", ...
func (r *Request) Method() string { return r.method }

// Target returns the request target as sent: "/a/b?x=1".
func (r *Request) Target() string { return string(r.target.of(r.raw)) }

// RawPath returns the path of the target, still percent-encoded.
func (r *Request) RawPath() []byte { return r.path.of(r.raw) }

// Path returns the decoded path ("/a b" for "/a%20b"). A path that does not
// decode is returned as sent.
func (r *Request) Path() string {
	raw := r.path.of(r.raw)
	if bytes.IndexByte(raw, '%') < 0 {
		return string(raw)
	}
	p, err := url.PathUnescape(string(raw))
	if err != nil {
		return string(raw)
	}
	return p
}

// RawQuery returns the query string without '?', still encoded.
func (r *Request) RawQuery() []byte { return r.query.of(r.raw) }

// Query returns the first value of the query parameter key, or "".
func (r *Request) Query(key string) string { return r.QueryValues().Get(key) }

// QueryValues returns all query parameters. Parsed on first use.
func (r *Request) QueryValues() url.Values {
	if r.queryValues == nil {
		r.queryValues, _ = url.ParseQuery(string(r.query.of(r.raw)))
	}
	return r.queryValues
}

// Proto returns "HTTP/1.1" or "HTTP/1.0".
func (r *Request) Proto() string {
	if r.minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// ProtoMinor returns 1 for HTTP/1.1 and 0 for HTTP/1.0.
func (r *Request) ProtoMinor() int { return int(r.minor) }

// Host returns the Host header.
func (r *Request) Host() string { return string(r.host.of(r.raw)) }

// KeepAlive reports whether the connection stays open after the response.
func (r *Request) KeepAlive() bool { return r.keepAlive }

// Chunked reports whether the body came with chunked transfer coding.
func (r *Request) Chunked() bool { return r.chunked }

// ContentLength returns the body length (for chunked bodies, once read).
func (r *Request) ContentLength() int64 { return int64(len(r.body)) }

// Body returns the body (the same bytes OnMessage gets).
func (r *Request) Body() []byte { return r.body }

// RemoteAddr returns the peer's address, "ip:port".
func (r *Request) RemoteAddr() string { return r.st.c.GetRemoteAddress() }

// HeaderBytes returns the first value of the header name (any case), or
// nil. It does not allocate.
func (r *Request) HeaderBytes(name string) []byte {
	return lookup(r.raw, r.fields, name)
}

// Header returns the first value of the header name (any case), or "".
func (r *Request) Header(name string) string { return string(r.HeaderBytes(name)) }

// HeaderValues returns every value of the header name, in order.
func (r *Request) HeaderValues(name string) []string { return lookupAll(r.raw, r.fields, name) }

// VisitHeaders calls f for each header field in order until f returns false.
func (r *Request) VisitHeaders(f func(name, value []byte) bool) {
	for _, h := range r.fields {
		if !f(h.name.of(r.raw), h.value.of(r.raw)) {
			return
		}
	}
}

// Trailer returns the first value of the trailer field name of a chunked
// body, or "".
func (r *Request) Trailer(name string) string {
	return string(lookup(r.trailerRaw, r.trailers, name))
}

func lookup(raw []byte, fields []field, name string) []byte {
	for _, f := range fields {
		if equalFold(f.name.of(raw), name) {
			return f.value.of(raw)
		}
	}
	return nil
}

func lookupAll(raw []byte, fields []field, name string) []string {
	var out []string
	for _, f := range fields {
		if equalFold(f.name.of(raw), name) {
			out = append(out, string(f.value.of(raw)))
		}
	}
	return out
}

// equalFold compares ASCII case-insensitively.
func equalFold[B ~[]byte | ~string](b B, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// Cookie returns the value of the request cookie name, or "".
func (r *Request) Cookie(name string) string {
	var found []byte
	r.eachCookie(func(n, v []byte) bool {
		if string(n) == name {
			found = v
			return false
		}
		return true
	})
	return string(found)
}

// Cookies returns every request cookie (name and value only).
func (r *Request) Cookies() []Cookie {
	var out []Cookie
	r.eachCookie(func(n, v []byte) bool {
		out = append(out, Cookie{Name: string(n), Value: string(v)})
		return true
	})
	return out
}

func (r *Request) eachCookie(f func(name, value []byte) bool) {
	for _, h := range r.fields {
		if !equalFold(h.name.of(r.raw), "Cookie") {
			continue
		}
		v := h.value.of(r.raw)
		for len(v) > 0 {
			var part []byte
			if i := bytes.IndexByte(v, ';'); i >= 0 {
				part, v = v[:i], v[i+1:]
			} else {
				part, v = v, nil
			}
			part = bytes.TrimSpace(part)
			eq := bytes.IndexByte(part, '=')
			if eq <= 0 {
				continue
			}
			val := part[eq+1:]
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if !f(bytes.TrimSpace(part[:eq]), val) {
				return
			}
		}
	}
}

// mediaType returns the lower-cased media type of Content-Type and its
// parameters.
func (r *Request) mediaType() (string, map[string]string) {
	ct := r.HeaderBytes("Content-Type")
	if len(ct) == 0 {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(string(ct))
	if err != nil {
		return "", nil
	}
	return mt, params
}

// PostForm returns the fields of an application/x-www-form-urlencoded body
// (or of the non-file parts of a multipart form). Parsed on first use.
func (r *Request) PostForm() (url.Values, error) {
	if r.formDone {
		return r.form, r.formErr
	}
	r.formDone = true
	mt, _ := r.mediaType()
	switch mt {
	case "application/x-www-form-urlencoded":
		r.form, r.formErr = url.ParseQuery(string(r.body))
	case "multipart/form-data":
		f, err := r.MultipartForm()
		if err != nil {
			r.formErr = err
			break
		}
		r.form = url.Values(f.Value)
	default:
		r.form = url.Values{}
	}
	return r.form, r.formErr
}

// FormValue returns the first value of key in the body's form, else in the
// query, else "".
func (r *Request) FormValue(key string) string {
	if f, err := r.PostForm(); err == nil {
		if vs := f[key]; len(vs) > 0 {
			return vs[0]
		}
	}
	return r.Query(key)
}

// MultipartForm parses a multipart/form-data body. Files larger than the
// protocol's MaxMemory are spooled to temporary files, which are removed
// when the next request starts or the connection closes.
func (r *Request) MultipartForm() (*multipart.Form, error) {
	if r.mformDone {
		return r.mform, r.mformErr
	}
	r.mformDone = true
	mt, params := r.mediaType()
	if mt != "multipart/form-data" || params["boundary"] == "" {
		r.mformErr = ErrNotMultipart
		return nil, r.mformErr
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	r.mform, r.mformErr = mr.ReadForm(r.st.p.maxMemory())
	return r.mform, r.mformErr
}

// FormFile returns the first uploaded file under name.
func (r *Request) FormFile(name string) (*multipart.FileHeader, error) {
	f, err := r.MultipartForm()
	if err != nil {
		return nil, err
	}
	if fhs := f.File[name]; len(fhs) > 0 {
		return fhs[0], nil
	}
	return nil, ErrNoFile
}

// String returns "METHOD target PROTO", for logs.
func (r *Request) String() string {
	var b strings.Builder
	b.WriteString(r.method)
	b.WriteByte(' ')
	b.Write(r.target.of(r.raw))
	b.WriteByte(' ')
	b.WriteString(r.Proto())
	return b.String()
}
