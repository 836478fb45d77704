// Package chatui is the chat examples' browser side: the page (HTML, CSS,
// JavaScript and icons, embedded) and the JSON messages it exchanges over
// its WebSocket, so that every example serving the chat shows the same page
// and speaks the same messages.
//
// The page connects to /ws on the host it was loaded from, with wss:// when
// it was loaded over https. It sends
//
//	{"type":"join","nick":"alice","room":"lobby"}   join, or move to another room
//	{"type":"say","text":"hello"}                   talk in the current room
//
// and shows what the server sends: "welcome" (nick and room accepted, with the
// presence fields), "join" and "leave" notices, "say", "presence" (online
// count, rooms with their member counts, members of the reader's room;
// "partial" when some server of a cluster did not answer in time, so the
// counts are lower bounds) and "error".
package chatui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

//go:embed static
var static embed.FS

// Limits of what a user may send; the page enforces them too.
const (
	DefaultRoom = "lobby"
	MaxNick     = 24   // runes in a nickname
	MaxRoom     = 32   // runes in a room name
	MaxText     = 2000 // runes in a message
)

// Message is every frame of the chat's JSON protocol, both ways.
type Message struct {
	Type    string         `json:"type"`
	Nick    string         `json:"nick,omitempty"`
	Room    string         `json:"room,omitempty"`
	Text    string         `json:"text,omitempty"`
	Time    string         `json:"time,omitempty"`
	Online  int            `json:"online,omitempty"`
	Rooms   map[string]int `json:"rooms,omitempty"`
	Members []string       `json:"members,omitempty"`
	// Partial: the presence fields leave out servers that did not answer
	// in time; the page shows the count as a lower bound.
	Partial bool `json:"partial,omitempty"`
}

// Handler serves the page: index.html at /, its assets, and the icon at
// /favicon.ico (browsers ask for it whatever the page says). It is safe for
// concurrent use.
func Handler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".ico") {
			// Go's MIME table has no .ico entry.
			w.Header().Set("Content-Type", "image/x-icon")
		}
		files.ServeHTTP(w, r)
	})
}

// CleanNick keeps printable characters, trimmed, at most MaxNick of them.
// An empty result means the nickname is unusable.
func CleanNick(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > MaxNick {
		s = string([]rune(s)[:MaxNick])
	}
	return strings.TrimSpace(s)
}

// CleanRoom lower-cases and keeps letters, digits, '-' and '_', at most
// MaxRoom of them; nothing left means DefaultRoom.
func CleanRoom(s string) string {
	s = strings.Map(func(r rune) rune {
		r = unicode.ToLower(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
	if utf8.RuneCountInString(s) > MaxRoom {
		s = string([]rune(s)[:MaxRoom])
	}
	if s == "" {
		return DefaultRoom
	}
	return s
}
