package text_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

func TestWriteReadFrame(t *testing.T) {
	var buf bytes.Buffer
	payloads := []string{"hello", "", strings.Repeat("x", 1000), "\x00\x00\x00\x04"}
	for _, p := range payloads {
		if err := text.WriteFrame(&buf, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range payloads {
		got, err := text.ReadFrame(&buf, 1000)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := text.ReadFrame(&buf, 1000); err != io.EOF {
		t.Fatalf("ReadFrame at end = %v, want io.EOF", err)
	}
}

// countingReader counts the bytes read from it, to show that ReadFrame stops
// at the header of a frame it refuses.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		max      int
		check    func(error) bool
		consumed int
	}{
		{"cut header", []byte{0, 0}, 10, func(err error) bool { return err == io.ErrUnexpectedEOF }, 2},
		{"cut payload", frame(10, "abc"), 10, func(err error) bool { return err == io.ErrUnexpectedEOF }, 7},
		{"header only", frame(5, ""), 10, func(err error) bool { return err == io.ErrUnexpectedEOF }, 4},
		{"length 0", frame(0, "rest"), 10, isProtocolError, 4},
		{"length 3", frame(3, "rest"), 10, isProtocolError, 4},
		{"payload over max", frame(15, strings.Repeat("x", 11)), 10, isTooLarge, 4},
		{"huge declared length", frame(0xffffffff, "x"), 1 << 20, isTooLarge, 4},
		{"negative max", frame(4, ""), -1, isTooLarge, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(tt.in)}
			got, err := text.ReadFrame(r, tt.max)
			if !tt.check(err) || got != nil {
				t.Fatalf("ReadFrame = %q, %v", got, err)
			}
			if r.n != tt.consumed {
				t.Fatalf("read %d bytes, want %d", r.n, tt.consumed)
			}
		})
	}
	t.Run("payload at max", func(t *testing.T) {
		got, err := text.ReadFrame(bytes.NewReader(frame(14, "0123456789")), 10)
		if err != nil || string(got) != "0123456789" {
			t.Fatalf("ReadFrame = %q, %v", got, err)
		}
	})
}

func TestReadFrameBoundsMemory(t *testing.T) {
	// Headers announcing 1 MiB must not make ReadFrame allocate it when the
	// limit is 1 KiB.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		if _, err := text.ReadFrame(bytes.NewReader(frame(1<<20+4, "")), 1<<10); !isTooLarge(err) {
			t.Fatalf("ReadFrame = %v, want ErrPackageTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("100 refused frames allocated %d bytes", n)
	}
}

type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteFrameError(t *testing.T) {
	if err := text.WriteFrame(failWriter{}, []byte("x")); !errors.Is(err, errWrite) {
		t.Fatalf("WriteFrame = %v, want the writer's error", err)
	}
}

func isProtocolError(err error) bool {
	var perr *core.ProtocolError
	return errors.As(err, &perr)
}

func isTooLarge(err error) bool { return errors.Is(err, core.ErrPackageTooLarge) }
