package text_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

var _ core.Protocol = (*text.Text)(nil)
var _ core.ProtocolNamer = (*text.Text)(nil)

func TestTextName(t *testing.T) {
	if got := text.New().Name(); got != "text" {
		t.Fatalf("Name() = %q, want text", got)
	}
}

func TestTextInput(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		in      string
		want    int
		tooLong bool
	}{
		{name: "empty buffer", in: "", want: 0},
		{name: "no newline yet", in: "abc", want: 0},
		{name: "lone CR", in: "abc\r", want: 0},
		{name: "empty line", in: "\n", want: 1},
		{name: "empty CRLF line", in: "\r\n", want: 2},
		{name: "one line", in: "abc\n", want: 4},
		{name: "CRLF line", in: "abc\r\n", want: 5},
		{name: "first of several", in: "a\nbb\nccc\n", want: 2},
		{name: "line then partial", in: "abc\nde", want: 4},
		{name: "CR inside line", in: "a\rb\n", want: 4},
		{name: "max: line fits exactly", max: 4, in: "abc\n", want: 4},
		{name: "max: short partial", max: 4, in: "abc", want: 0},
		{name: "max: full without newline", max: 4, in: "abcd", tooLong: true},
		{name: "max: newline one past limit", max: 4, in: "abcd\n", tooLong: true},
		{name: "max: short line in long buffer", max: 4, in: "ab\ncdefgh", want: 3},
		{name: "max: 1 allows only empty lines", max: 1, in: "\nx", want: 1},
		{name: "max: 1 refuses text", max: 1, in: "x", tooLong: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &text.Text{MaxLineSize: tt.max}
			n, err := p.Input(nil, []byte(tt.in))
			if tt.tooLong {
				if !errors.Is(err, core.ErrPackageTooLarge) {
					t.Fatalf("Input(%q) error = %v, want ErrPackageTooLarge", tt.in, err)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("Input(%q) = %d, %v; want %d, nil", tt.in, n, err, tt.want)
			}
		})
	}
}

func TestTextDecode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc\n", "abc"},
		{"abc\r\n", "abc"},
		{"\n", ""},
		{"\r\n", ""},
		{"a\r\r\n", "a\r"},
		{"a\rb\n", "a\rb"},
		{"no newline", "no newline"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(tt.in), func(t *testing.T) {
			got, err := text.New().Decode(nil, []byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Decode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestTextEncode(t *testing.T) {
	tests := []struct{ dst, data, want string }{
		{"", "", "\n"},
		{"", "hello, goer", "hello, goer\n"},
		{"prefix|", "x", "prefix|x\n"},
		{"", "two\nlines", "two\nlines\n"},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			got, err := text.New().Encode(nil, []byte(tt.dst), []byte(tt.data))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Encode(%q, %q) = %q, %v; want %q", tt.dst, tt.data, got, err, tt.want)
			}
		})
	}
}

func TestTextStream(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []string
		rest   string
	}{
		{name: "nc style", stream: "hello\nworld\n", want: []string{"hello", "world"}},
		{name: "telnet style", stream: "hello\r\nworld\r\n", want: []string{"hello", "world"}},
		{name: "mixed endings", stream: "a\r\nb\nc\r\n", want: []string{"a", "b", "c"}},
		{name: "empty lines", stream: "\n\r\n\nx\n", want: []string{"", "", "", "x"}},
		{name: "trailing partial line", stream: "one\ntwo", want: []string{"one"}, rest: "two"},
		{name: "nothing whole", stream: "partial\r", rest: "partial\r"},
	}
	for _, tt := range tests {
		// The split into reads must not change what is decoded.
		for _, step := range []int{0, 1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s/step=%d", tt.name, step), func(t *testing.T) {
				msgs, rest, err := splitAll(text.New(), []byte(tt.stream), step)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if !reflect.DeepEqual(msgs, tt.want) || string(rest) != tt.rest {
					t.Fatalf("step %d: messages %q rest %q; want %q rest %q", step, msgs, rest, tt.want, tt.rest)
				}
			})
		}
	}
}

func TestTextMaxLineSizeStream(t *testing.T) {
	p := &text.Text{MaxLineSize: 8}
	// Fed byte by byte, the long line is refused once 8 bytes are buffered,
	// not when (if ever) its newline arrives.
	f := &framer{p: p}
	stream := []byte("short\n" + strings.Repeat("x", 100) + "\n")
	var err error
	fed := 0
	for fed < len(stream) && err == nil {
		err = f.feed(stream[fed : fed+1])
		fed++
	}
	if !errors.Is(err, core.ErrPackageTooLarge) {
		t.Fatalf("error = %v, want ErrPackageTooLarge", err)
	}
	if want := len("short\n") + 8; fed != want {
		t.Fatalf("refused after %d bytes, want %d", fed, want)
	}
	if !reflect.DeepEqual(f.msgs, []string{"short"}) {
		t.Fatalf("messages %q, want [short]", f.msgs)
	}
}

func TestTextNoAllocs(t *testing.T) {
	p := text.New()
	line := []byte("GET something useful\r\n")
	dst := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		n, _ := p.Input(nil, line)
		msg, _ := p.Decode(nil, line[:n])
		dst, _ = p.Encode(nil, dst[:0], msg)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per line, want 0", allocs)
	}
}
