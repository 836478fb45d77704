//go:build linux && (amd64 || arm64)

package text_test

import (
	"errors"
	"io"
	"math"
	"syscall"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

// TestFrameEncodeOverHeaderLimit hands Encode a payload one byte longer than
// a 4-byte header can announce. The payload is reserved address space that is
// never touched, so the test needs no 4 GiB of memory.
func TestFrameEncodeOverHeaderLimit(t *testing.T) {
	size := math.MaxUint32 - text.HeaderSize + 1
	huge, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot reserve %d bytes of address space: %v", size, err)
	}
	defer syscall.Munmap(huge)

	dst := []byte("kept")
	got, err := text.NewFrame().Encode(nil, dst, huge)
	if !errors.Is(err, core.ErrPackageTooLarge) || string(got) != "kept" {
		t.Fatalf("Encode of %d bytes = %q, %v; want dst unchanged and ErrPackageTooLarge", size, got, err)
	}
	if err := text.WriteFrame(io.Discard, huge); !errors.Is(err, core.ErrPackageTooLarge) {
		t.Fatalf("WriteFrame of %d bytes: %v, want ErrPackageTooLarge", size, err)
	}
	// One byte less is the largest frame there is.
	if n, err := text.NewFrame().Input(nil, []byte{0xff, 0xff, 0xff, 0xff}); err != nil || n != math.MaxUint32 {
		t.Fatalf("Input of the largest header = %d, %v", n, err)
	}
}
