package http

// Finding the end of what a package is on the wire: a request head, a
// chunk-size line, a trailer section, checked line by line as the bytes
// come, and decoding them once whole.

import (
	"bytes"

	"github.com/shunhui19/goes/core"
)

func isBlankLine(b []byte) bool {
	return (len(b) == 1 && b[0] == '\n') || (len(b) == 2 && b[0] == '\r' && b[1] == '\n')
}

// section is what scanFields looks for: a request head (the request
// line, then header fields) or the trailer section of a chunked body.
type section struct {
	startLine bool // the first line is the request line
	tooLarge  string
	tooMany   string
}

var (
	headSection    = section{startLine: true, tooLarge: "request header fields too large", tooMany: "too many header fields"}
	trailerSection = section{tooLarge: "trailer fields too large", tooMany: "too many trailer fields"}
)

// scanFields finds the blank line that ends section s in buf, resuming
// where the last call stopped, and enforces the limits. It keeps the end
// of every line before the blank one in x.ends, so that the decoder does
// not look for them again. A head that is only a blank line (one before a
// request line) ends at once.
func (st *conn) scanFields(buf []byte, s *section) (int, error) {
	p := st.p
	x := st.exchange()
	i := x.scanned
	if i == 0 {
		x.ends = x.ends[:0]
	}
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			x.scanned = i
			if k := bytes.IndexByte(buf[i:], '\r'); k >= 0 && i+k+1 < len(buf) {
				return 0, st.reject(400, "bare CR") // no LF will end this line
			}
			if s.startLine && i == 0 && len(buf) > p.maxRequestLine() {
				return 0, st.reject(414, "request line too long")
			}
			if len(buf) > p.maxHeaderBytes() {
				return 0, st.reject(431, s.tooLarge)
			}
			return 0, nil
		}
		end := i + j + 1
		fields := len(x.ends) + 1 // with this line
		if s.startLine {
			fields--
		}
		switch {
		case fields == 0: // the request line
			if j > p.maxRequestLine() {
				return 0, st.reject(414, "request line too long")
			}
		case end > p.maxHeaderBytes():
			return 0, st.reject(431, s.tooLarge)
		}
		if isBlankLine(buf[i:end]) {
			x.scanned, x.scannedLen = 0, end
			return end, nil
		}
		if status, reason := checkLine(buf, i, end, fields == 0); status != 0 {
			return 0, st.reject(status, reason)
		}
		if fields > p.maxHeaders() {
			return 0, st.reject(431, s.tooMany)
		}
		x.ends = append(x.ends, int32(end))
		i = end
	}
}

// checkLine refuses at once, before the rest of the head arrives, a line
// of buf (from start to end, past its LF) that holds a bare CR or, for a
// request line, lacks a valid method, spaces or version.
func checkLine(buf []byte, start, end int, requestLine bool) (int, string) {
	line := lineTo(buf, start, int32(end))
	if bytes.IndexByte(line, '\r') >= 0 {
		return 400, "bare CR"
	}
	if requestLine {
		_, status, reason := splitRequestLine(line)
		return status, reason
	}
	return 0, ""
}

// lineEnds returns the line ends scanFields found in pkg.
func (x *exchange) lineEnds(pkg []byte) ([]int32, bool) {
	return x.ends, x.scannedLen == len(pkg)
}

// decodeHead parses a complete request head.
func (st *conn) decodeHead(pkg []byte) ([]byte, error) {
	p := st.p
	x := st.x.Load()
	ends, ok := x.lineEnds(pkg)
	if !ok {
		return nil, protoErr(500, "bad parser state")
	}
	req := &x.req
	req.release()
	req.reset()
	req.raw = append(req.raw[:0], pkg...)
	if status, reason := req.parseHead(p, ends); status != 0 {
		return nil, st.reject(status, reason)
	}
	switch {
	case req.chunked:
		st.phase = phaseChunkSize
	case req.contentLength > 0:
		if req.contentLength > p.maxBody(st.c) {
			return nil, st.reject(413, "request body too large")
		}
		st.phase = phaseBody
		x.bodyLeft = req.contentLength
	default:
		return st.deliver()
	}
	if st.reqEnd == 0 {
		st.startRequestClock() // the head came whole: its first byte is now
	}
	st.setDeadline(p.bodyTimeoutDur())
	if req.expectContinue {
		_ = st.c.SendBytes(continueResponse, true)
	}
	return nil, core.ErrSkip
}

var continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// scanChunkSize measures a chunk-size line; errors in it are found here so
// that core never waits for a bogus length.
func (st *conn) scanChunkSize(buf []byte) (int, error) {
	j := bytes.IndexByte(buf, '\n')
	if j < 0 {
		if len(buf) > maxChunkLine {
			return 0, st.reject(400, "chunk size line too long")
		}
		return 0, nil
	}
	if j+1 > maxChunkLine {
		return 0, st.reject(400, "chunk size line too long")
	}
	if _, ok := parseChunkSize(buf[:j+1]); !ok {
		return 0, st.reject(400, "malformed chunk size")
	}
	return j + 1, nil
}

// parseChunkSize parses "HEX[;ext...]\r\n".
func parseChunkSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' || line[len(line)-1] != '\n' {
		return 0, false
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if n >= 1<<59 {
			return 0, false // past int64: no body is that large
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != ';' {
			return 0, false
		}
		for _, b := range rest {
			if (b < 0x20 && b != '\t') || b == 0x7f {
				return 0, false
			}
		}
	}
	return n, true
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b - 'a' + 10)
	case 'A' <= b && b <= 'F':
		return int(b - 'A' + 10)
	}
	return -1
}

func (st *conn) decodeChunkSize(pkg []byte) ([]byte, error) {
	n, ok := parseChunkSize(pkg)
	if !ok {
		return nil, st.reject(400, "malformed chunk size")
	}
	if n == 0 {
		st.phase = phaseTrailer
		return nil, core.ErrSkip
	}
	x := st.x.Load()
	if int64(len(x.req.body))+n > st.p.maxBody(st.c) {
		return nil, st.reject(413, "request body too large")
	}
	st.phase = phaseChunkData
	x.bodyLeft = n
	return nil, core.ErrSkip
}

func (st *conn) decodeTrailer(pkg []byte) ([]byte, error) {
	x := st.x.Load()
	ends, ok := x.lineEnds(pkg)
	if !ok {
		return nil, protoErr(500, "bad parser state")
	}
	req := &x.req
	req.trailerRaw = append(req.trailerRaw[:0], pkg...)
	req.trailers, ok = parseFields(req.trailerRaw, 0, ends, req.trailers[:0])
	if !ok {
		return nil, st.reject(400, "malformed trailer field")
	}
	return st.deliver()
}
