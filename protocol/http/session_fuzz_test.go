package http

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzSessionCookie sends arbitrary Cookie headers to a handler that uses
// its session. One that parses is answered 200, and a session cookie is
// set only with a new id of 32 hex digits, never the one sent.
func FuzzSessionCookie(f *testing.F) {
	known := "0123456789abcdef0123456789abcdef"
	for _, s := range []string{
		"GOESSESSID=" + known,
		"GOESSESSID=" + strings.ToUpper(known),
		"a=1; GOESSESSID=\"" + known + "\"; b",
		"GOESSESSID=; GOESSESSID==; =GOESSESSID",
		strings.Repeat("GOESSESSID=ffffffffffffffffffffffffffffffff; ", 10),
		"GOESSESSID=" + known + "0",
		"\x00\x7f\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		if strings.ContainsAny(cookie, "\r\n") {
			return // another request, or a folded line
		}
		p := New()
		store := &MemoryStore{}
		p.Sessions = &Sessions{Store: store}
		now := time.Now()
		store.Save(nil, known, Change{Created: now, Expires: now.Add(time.Hour), Set: map[string]any{"visits": 7}})
		fc := newFake(p, visitsHandler)
		fc.feed([]byte("GET / HTTP/1.1\r\nHost: h\r\nCookie: " + cookie + "\r\n\r\n"))
		out := fc.output()
		if !bytes.HasPrefix(out, []byte("HTTP/1.1 200 ")) {
			if bytes.HasPrefix(out, []byte("HTTP/1.1 400 ")) || bytes.HasPrefix(out, []byte("HTTP/1.1 431 ")) {
				return
			}
			t.Fatalf("response %q", out)
		}
		m := sessionCookieRe.FindSubmatch(out)
		reused := bytes.HasSuffix(out, []byte("\r\n\r\n8"))
		switch {
		case reused && m != nil:
			t.Fatalf("known session given a new cookie: %q", out)
		case reused && !strings.Contains(cookie, known):
			t.Fatalf("session %s found without its id in %q", known, cookie)
		case !reused && (m == nil || string(m[1]) == known || !bytes.HasSuffix(out, []byte("\r\n\r\n1"))):
			t.Fatalf("no fresh session: %q", out)
		case !reused && bytes.Contains([]byte(cookie), m[1]):
			t.Fatalf("id taken from the cookie: %q", out)
		}
	})
}

// FuzzSessionFile decodes arbitrary bytes as a FileStore file: an error
// or a record that encodes and decodes to the same.
func FuzzSessionFile(f *testing.F) {
	now := time.Unix(1700000000, 0)
	for _, v := range []map[string]any{
		{}, {"visits": 3, "user": "ann"}, {"b": []byte{0, 1}, "f": 1.5, "ok": true, "l": []string{"x"}},
	} {
		b, err := encodeSessionFile(Record{Values: v, Created: now, Expires: now.Add(time.Hour)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("GSS1"))
	f.Add([]byte("GSS1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeSessionFile(b)
		if err != nil {
			return
		}
		again, err := encodeSessionFile(rec)
		if err != nil {
			return // a value gob decodes but will not encode again (a nil interface in a map, say)
		}
		rec2, err := decodeSessionFile(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !rec2.Created.Equal(rec.Created) || !rec2.Expires.Equal(rec.Expires) || len(rec2.Values) != len(rec.Values) {
			t.Fatalf("round trip changed the record: %v / %v", rec, rec2)
		}
	})
}
