package chatui

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestHandlerServesThePage(t *testing.T) {
	for _, tc := range []struct {
		path, ctype, body string
	}{
		{"/", "text/html; charset=utf-8", `<link rel="icon" href="favicon.svg"`},
		{"/app.js", "text/javascript; charset=utf-8", `"wss://"`},
		{"/style.css", "text/css; charset=utf-8", "@media (max-width: 640px)"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		w := get(t, tc.path)
		if w.Code != 200 || w.Header().Get("Content-Type") != tc.ctype || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s: %d %q, body has %q: %v", tc.path, w.Code, w.Header().Get("Content-Type"),
				tc.body, strings.Contains(w.Body.String(), tc.body))
		}
	}
	if w := get(t, "/missing.txt"); w.Code != 404 {
		t.Errorf("/missing.txt: %d", w.Code)
	}
}

// The icon is a real ICO file: its directory points at PNG images of the
// sizes it names, all of them inside the file.
func TestFavicon(t *testing.T) {
	w := get(t, "/favicon.ico")
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/x-icon" {
		t.Fatalf("/favicon.ico: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	b := w.Body.Bytes()
	if len(b) < 6 || binary.LittleEndian.Uint16(b[0:]) != 0 || binary.LittleEndian.Uint16(b[2:]) != 1 {
		t.Fatalf("not an ICO header: % x", b[:min(len(b), 6)])
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	if n == 0 || len(b) < 6+16*n {
		t.Fatalf("%d images in %d bytes", n, len(b))
	}
	for i := range n {
		e := b[6+16*i:]
		size, ln, off := int(e[0]), int(binary.LittleEndian.Uint32(e[8:])), int(binary.LittleEndian.Uint32(e[12:]))
		if off+ln > len(b) {
			t.Fatalf("image %d: %d bytes at %d past the end (%d)", i, ln, off, len(b))
		}
		img, err := png.Decode(bytes.NewReader(b[off : off+ln]))
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			t.Errorf("image %d is %v, the directory says %d", i, r, size)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, nick, room string }{
		{" alice\u0000 ", "alice", "alice"},
		{"Go Lang!", "Go Lang!", "golang"},
		{"\u200bzero\u200dwidth", "zerowidth", "zerowidth"},
		{"", "", DefaultRoom},
		{"!!!", "!!!", DefaultRoom},
		{strings.Repeat("é", 40), strings.Repeat("é", MaxNick), strings.Repeat("é", MaxRoom)},
		{"ab" + strings.Repeat(" ", MaxNick) + "c", "ab", "abc"},
	} {
		if got := CleanNick(tc.in); got != tc.nick {
			t.Errorf("CleanNick(%q) = %q, want %q", tc.in, got, tc.nick)
		}
		if got := CleanRoom(tc.in); got != tc.room {
			t.Errorf("CleanRoom(%q) = %q, want %q", tc.in, got, tc.room)
		}
	}
}

// FuzzClean checks what the server relies on whatever a client sends:
// names are valid UTF-8, short, free of control and format characters,
// and cleaning twice changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"alice", " bob\x00", "Go Lang!", "\xff\xfe", "\u202eevil", strings.Repeat("x", 50), "é\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := CleanNick(s)
		if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNick || n != strings.TrimSpace(n) || CleanNick(n) != n {
			t.Fatalf("CleanNick(%q) = %q", s, n)
		}
		for _, r := range n {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("CleanNick(%q) = %q keeps %U", s, n, r)
			}
		}
		r := CleanRoom(s)
		if r == "" || !utf8.ValidString(r) || utf8.RuneCountInString(r) > MaxRoom || CleanRoom(r) != r {
			t.Fatalf("CleanRoom(%q) = %q", s, r)
		}
		for _, c := range r {
			if !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_') {
				t.Fatalf("CleanRoom(%q) = %q keeps %U", s, r, c)
			}
		}
	})
}
