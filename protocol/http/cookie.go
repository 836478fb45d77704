package http

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SameSite is a cookie's SameSite attribute.
type SameSite int

// SameSite values; SameSiteDefault writes no attribute.
const (
	SameSiteDefault SameSite = iota
	SameSiteLax
	SameSiteStrict
	SameSiteNone
)

// Cookie is a cookie to set with Response.SetCookie, or one read from a
// request (then only Name and Value are filled).
type Cookie struct {
	Name  string
	Value string

	Path    string
	Domain  string
	Expires time.Time // zero: not written
	// MaxAge > 0 writes Max-Age=MaxAge; MaxAge < 0 writes Max-Age=0 (delete
	// now); 0 writes nothing.
	MaxAge      int
	Secure      bool
	HttpOnly    bool
	SameSite    SameSite
	Partitioned bool
}

// String returns the Set-Cookie value, or "" for an invalid cookie.
func (ck Cookie) String() string {
	s, _ := ck.headerValue()
	return s
}

func (ck Cookie) headerValue() (string, error) {
	if !isToken([]byte(ck.Name)) {
		return "", fmt.Errorf("%w: cookie name %q", ErrBadHeader, ck.Name)
	}
	for i := 0; i < len(ck.Value); i++ {
		if !cookieOctet(ck.Value[i]) {
			return "", fmt.Errorf("%w: cookie %s has a byte %q not allowed in a value", ErrBadHeader, ck.Name, ck.Value[i])
		}
	}
	for _, a := range []string{ck.Path, ck.Domain} {
		if strings.ContainsAny(a, ";\r\n\x00") {
			return "", fmt.Errorf("%w: cookie %s attribute %q", ErrBadHeader, ck.Name, a)
		}
	}
	var b strings.Builder
	b.WriteString(ck.Name)
	b.WriteByte('=')
	b.WriteString(ck.Value)
	if ck.Path != "" {
		b.WriteString("; Path=")
		b.WriteString(ck.Path)
	}
	if ck.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(strings.TrimPrefix(ck.Domain, "."))
	}
	if !ck.Expires.IsZero() {
		b.WriteString("; Expires=")
		b.WriteString(ck.Expires.UTC().Format(TimeFormat))
	}
	switch {
	case ck.MaxAge > 0:
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(ck.MaxAge))
	case ck.MaxAge < 0:
		b.WriteString("; Max-Age=0")
	}
	if ck.HttpOnly {
		b.WriteString("; HttpOnly")
	}
	if ck.Secure || ck.SameSite == SameSiteNone || ck.Partitioned {
		b.WriteString("; Secure") // browsers drop SameSite=None and Partitioned without it
	}
	switch ck.SameSite {
	case SameSiteLax:
		b.WriteString("; SameSite=Lax")
	case SameSiteStrict:
		b.WriteString("; SameSite=Strict")
	case SameSiteNone:
		b.WriteString("; SameSite=None")
	}
	if ck.Partitioned {
		b.WriteString("; Partitioned")
	}
	return b.String(), nil
}

// cookieOctet: RFC 6265 cookie-octet.
func cookieOctet(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
		(c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)
}
