package metrics

import (
	"testing"
	"unsafe"
)

// The structs read on every response fill two cache lines exactly (see
// goerList).
func TestReadStructsFillTwoLines(t *testing.T) {
	for name, size := range map[string]uintptr{
		"Metrics":     unsafe.Sizeof(Metrics{}),
		"goerList":    unsafe.Sizeof(goerList{}),
		"goerMetrics": unsafe.Sizeof(goerMetrics{}),
		"httpCounts":  unsafe.Sizeof(httpCounts{}),
	} {
		if size != 128 {
			t.Errorf("%s is %d bytes, want 128", name, size)
		}
	}
}
