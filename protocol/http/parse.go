package http

import (
	"bytes"
	"encoding/binary"
)

// span is raw[a:b] of the buffer it belongs to.
type span struct{ a, b int32 }

func (s span) of(b []byte) []byte { return b[s.a:s.b] }

// field is one header (or trailer) line.
type field struct{ name, value span }

// tchar reports whether b may appear in a token (method, header name).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// Classes of the bytes of a request target.
const (
	targetPlain uint8 = iota
	targetBad         // a control byte or a space
	targetMark        // '?', '#' or '%'
)

var targetByte = func() (t [256]uint8) {
	for c := 0; c <= ' '; c++ {
		t[c] = targetBad
	}
	t[0x7f] = targetBad
	t['?'], t['#'], t['%'] = targetMark, targetMark, targetMark
	return t
}()

// hostByte reports whether b may appear in a reg-name (RFC 3986 §3.2.2:
// unreserved, sub-delims, and '%' of a pct-encoded byte).
var hostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~!$&'()*+,;=%" {
		t[c] = true
	}
	return t
}()

// validHost reports whether v is a Host field value: uri-host [":" port]
// (RFC 9112 §3.2, RFC 3986 §3.2.2), or empty. An IP literal in brackets
// may hold what an IPv6 address, a zone identifier (RFC 6874) or an
// IPvFuture address needs.
func validHost(v []byte) bool {
	host, port := v, []byte(nil)
	if len(v) > 0 && v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 0 {
			return false
		}
		for _, c := range v[1:end] {
			if !hostByte[c] && c != ':' {
				return false
			}
		}
		switch rest := v[end+1:]; {
		case len(rest) == 0:
		case rest[0] == ':':
			port = rest[1:]
		default:
			return false
		}
	} else {
		if i := bytes.IndexByte(v, ':'); i >= 0 {
			host, port = v[:i], v[i+1:]
		}
		if !validEscapes(host) {
			return false
		}
		for _, c := range host {
			if !hostByte[c] {
				return false
			}
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validEscapes reports whether every '%' in b starts a pct-encoded byte.
func validEscapes(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '%')
		if i < 0 {
			return true
		}
		if i+2 >= len(b) || unhex(b[i+1]) < 0 || unhex(b[i+2]) < 0 {
			return false
		}
		b = b[i+3:]
	}
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// lineTo returns the line of raw from start to end (past its LF), without
// its CRLF or LF.
func lineTo(raw []byte, start int, end int32) []byte {
	line := raw[start : end-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line
}

// validFieldValue refuses control bytes other than HT. It tests eight
// bytes at a time for one below 0x20 or equal to 0x7f, and looks at the
// bytes one by one only where it finds one (usually an HT).
func validFieldValue(v []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		y := x ^ 0x7f*ones
		if ((x-0x20*ones)&^x|(y-ones)&^y)&highs != 0 && !validFieldBytes(v[:8]) {
			return false
		}
		v = v[8:]
	}
	return validFieldBytes(v)
}

func validFieldBytes(v []byte) bool {
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// parseFields parses the header lines of raw that start at start and end
// at ends (found by scanFields), appending to dst.
func parseFields(raw []byte, start int, ends []int32, dst []field) ([]field, bool) {
	for _, end := range ends {
		line := lineTo(raw, start, end)
		// The name is a token up to the colon: this also refuses obsolete
		// line folding (a leading space) and whitespace before the colon.
		colon := -1
		for k, c := range line {
			if !tchar[c] {
				if c == ':' && k > 0 {
					colon = k
				}
				break
			}
		}
		if colon < 0 {
			return dst, false
		}
		vs, ve := colon+1, len(line)
		for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		if !validFieldValue(line[vs:ve]) {
			return dst, false
		}
		dst = append(dst, field{
			name:  span{int32(start), int32(start + colon)},
			value: span{int32(start + vs), int32(start + ve)},
		})
		start = int(end)
	}
	return dst, true
}

// internMethod returns a constant string for the common methods, so that
// they cost no allocation.
func internMethod(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	}
	return string(b)
}

// requestLine is the shape of a request line.
type requestLine struct {
	sp1, sp2 int  // the spaces after the method and after the target
	minor    int8 // the HTTP/1 minor version, 0 or 1
}

// splitRequestLine checks the method, the two spaces and the version of a
// request line. The scanner calls it as soon as the line is complete, so
// that a request line without a version is refused at once rather than
// after HeaderTimeout.
func splitRequestLine(line []byte) (requestLine, int, string) {
	var rl requestLine
	rl.sp1 = -1 // the space after the method, a token
	for k, c := range line {
		if !tchar[c] {
			if c == ' ' {
				rl.sp1 = k
			}
			break
		}
	}
	rl.sp2 = bytes.LastIndexByte(line, ' ')
	if rl.sp1 <= 0 { // no space, or something else than a token before it
		if first := bytes.IndexByte(line, ' '); first > 0 && rl.sp2 != first {
			return rl, 400, "malformed method"
		}
		return rl, 400, "malformed request line"
	}
	if rl.sp2 == rl.sp1 {
		return rl, 400, "malformed request line"
	}
	version := line[rl.sp2+1:]
	switch {
	case len(version) == 8 && string(version[:7]) == "HTTP/1." && version[7] >= '0' && version[7] <= '9':
		if version[7] != '0' {
			rl.minor = 1
		}
	case len(version) == 8 && string(version[:5]) == "HTTP/" && version[5] >= '0' && version[5] <= '9' &&
		version[6] == '.' && version[7] >= '0' && version[7] <= '9':
		return rl, 505, "HTTP version not supported"
	default:
		return rl, 400, "malformed HTTP version"
	}
	return rl, 0, ""
}

// parseHead parses r.raw, whose lines end at ends (found by scanFields):
// the request line and the header fields, then the fields that frame the
// message. It returns a status (400, 414, 417, 431, 501, 505) and a reason
// when the request must be refused.
func (r *Request) parseHead(p *Protocol, ends []int32) (int, string) {
	raw := r.raw
	if len(ends) == 0 {
		return 400, "malformed request line"
	}
	line, next := lineTo(raw, 0, ends[0]), int(ends[0])
	rl, status, reason := splitRequestLine(line)
	if status != 0 {
		return status, reason
	}
	sp1, sp2 := rl.sp1, rl.sp2
	r.method = internMethod(line[:sp1])
	target := line[sp1+1 : sp2]
	if len(target) == 0 {
		return 400, "empty request target"
	}
	query, fragment := -1, -1 // the first '?' and '#' in target
	for k, c := range target {
		if t := targetByte[c]; t != targetPlain {
			switch {
			case t == targetBad:
				return 400, "malformed request target"
			case c == '%':
				// The path must decode (a query is the handler's to read).
				if query < 0 && fragment < 0 && !validEscapes(target[k:min(k+3, len(target))]) {
					return 400, "malformed escape in request target"
				}
			case c == '?' && query < 0:
				query = k
			case c == '#' && fragment < 0:
				fragment = k
			}
		}
	}
	r.target = span{int32(sp1 + 1), int32(sp2)}
	r.minor = rl.minor
	if target[0] == '/' { // origin form, the usual one
		r.splitOrigin(sp1+1, len(target), query, fragment)
	} else if status, reason := r.splitTarget(target, sp1+1); status != 0 {
		return status, reason
	}

	var ok bool
	r.fields, ok = parseFields(raw, next, ends[1:], r.fields[:0])
	if !ok {
		return 400, "malformed header field"
	}
	if len(r.fields) > p.maxHeaders() {
		return 431, "too many header fields"
	}
	return r.frame()
}

// splitTarget finds the path and query of the request target, which starts
// at off in raw.
func (r *Request) splitTarget(t []byte, off int) (int, string) {
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		if r.method != "OPTIONS" {
			return 400, "asterisk target without OPTIONS"
		}
		r.path = span{int32(off), int32(off + 1)}
		return 0, ""
	case hasSchemePrefix(t):
		// absolute form: the path starts after scheme://authority
		i := bytes.Index(t, []byte("://")) + 3
		j := bytes.IndexAny(t[i:], "/?")
		if j < 0 {
			r.path = span{int32(off + len(t)), int32(off + len(t))}
			return 0, ""
		}
		t, off = t[i+j:], off+i+j
		if t[0] == '?' {
			r.path = span{int32(off), int32(off)}
			r.query = span{int32(off + 1), int32(off + len(t))}
			r.hasQuery = true
			return 0, ""
		}
	default:
		if r.method != "CONNECT" {
			return 400, "malformed request target"
		}
		r.path = span{int32(off), int32(off)} // authority form: no path
		return 0, ""
	}
	r.splitOrigin(off, len(t), bytes.IndexByte(t, '?'), bytes.IndexByte(t, '#'))
	return 0, ""
}

// splitOrigin sets the path and query of a target of n bytes at off in
// raw, given the first '?' and '#' in it (-1: none).
func (r *Request) splitOrigin(off, n, query, fragment int) {
	end := n
	if fragment >= 0 {
		end = fragment
	}
	if query < 0 || query > end {
		r.path = span{int32(off), int32(off + end)}
		return
	}
	r.path = span{int32(off), int32(off + query)}
	r.query = span{int32(off + query + 1), int32(off + end)}
	r.hasQuery = true
}

func hasSchemePrefix(t []byte) bool {
	return len(t) > 7 && (bytes.EqualFold(t[:7], []byte("http://")) || bytes.EqualFold(t[:8], []byte("https://")))
}

// frame reads the fields that decide how the message is framed and how the
// connection goes on.
func (r *Request) frame() (int, string) {
	raw := r.raw
	hosts := 0
	var closeTok, keepAliveTok, te bool
	for _, f := range r.fields {
		name, value := f.name.of(raw), f.value.of(raw)
		switch len(name) {
		case 4:
			if equalFold(name, "host") {
				if !validHost(value) {
					return 400, "malformed Host"
				}
				hosts++
				r.host = f.value
			}
		case 6:
			if equalFold(name, "expect") {
				if !equalFold(value, "100-continue") {
					return 417, "unsupported expectation"
				}
				r.expectContinue = true
			}
		case 10:
			if equalFold(name, "connection") {
				eachToken(value, func(tok []byte) {
					switch {
					case bytes.EqualFold(tok, []byte("close")):
						closeTok = true
					case bytes.EqualFold(tok, []byte("keep-alive")):
						keepAliveTok = true
					}
				})
			}
		case 14:
			if equalFold(name, "content-length") {
				n, ok := parseContentLength(value)
				if !ok {
					return 400, "malformed Content-Length"
				}
				if r.contentLength >= 0 && r.contentLength != n {
					return 400, "conflicting Content-Length"
				}
				r.contentLength = n
			}
		case 17:
			if equalFold(name, "transfer-encoding") {
				te = true
				status, reason := r.transferCoding(value)
				if status != 0 {
					return status, reason
				}
			}
		}
	}
	if te {
		if r.contentLength >= 0 {
			return 400, "both Content-Length and Transfer-Encoding"
		}
		if r.minor == 0 {
			return 400, "Transfer-Encoding in an HTTP/1.0 request"
		}
		if !r.chunked || r.afterChunked {
			return 400, "chunked is not the final transfer coding"
		}
	}
	if (r.minor == 1 && hosts != 1) || hosts > 1 {
		return 400, "missing or repeated Host"
	}
	if r.minor == 1 {
		r.keepAlive = !closeTok
	} else {
		r.keepAlive = keepAliveTok && !closeTok
	}
	if r.minor == 0 {
		r.expectContinue = false
	}
	if r.contentLength < 0 && !r.chunked {
		r.contentLength = 0 // a request without framing has no body
	}
	return 0, ""
}

// transferCoding reads one Transfer-Encoding field.
func (r *Request) transferCoding(value []byte) (int, string) {
	if hasEmptyElement(value) {
		// A list element that is empty (", chunked") is allowed by the
		// list syntax but read differently by other parsers: refused, as
		// net/http does, so that no proxy in front frames it otherwise.
		return 400, "empty element in Transfer-Encoding"
	}
	status, reason := 0, ""
	n := 0
	eachToken(value, func(tok []byte) {
		n++
		if status != 0 {
			return
		}
		switch {
		case bytes.EqualFold(tok, []byte("chunked")):
			if r.chunked {
				status, reason = 400, "chunked applied twice"
				return
			}
			r.chunked = true
		default:
			if r.chunked {
				r.afterChunked = true
			}
			status, reason = 501, "unsupported transfer coding"
		}
	})
	if status == 0 && n == 0 {
		return 400, "empty Transfer-Encoding"
	}
	return status, reason
}

// hasEmptyElement reports whether a comma-separated list has an element
// that is empty or only whitespace (a value without a comma is one
// element; an empty value has none).
func hasEmptyElement(v []byte) bool {
	if bytes.IndexByte(v, ',') < 0 {
		return false
	}
	for _, el := range bytes.Split(v, []byte(",")) {
		if len(bytes.Trim(el, " \t")) == 0 {
			return true
		}
	}
	return false
}

// eachToken calls f for each comma-separated, trimmed, non-empty element.
func eachToken(v []byte, f func(tok []byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		tok = bytes.Trim(tok, " \t")
		if len(tok) > 0 {
			f(tok)
		}
	}
}

// parseContentLength accepts digits only (no sign, no list).
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
