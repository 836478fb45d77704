package core

import (
	"errors"
	"testing"
)

// Sends, refusals, errors by code and recovered panics are counted where
// they happen, whether or not a callback is set.
func TestStatsCountSendsErrorsAndPanics(t *testing.T) {
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	c := newTCPConnection(g, &sinkSocket{})
	for i := 0; i < 3; i++ {
		if err := c.Send("hello", false); err != nil {
			t.Fatal(err)
		}
	}
	c.laneMu.Lock()
	c.callError(ErrCodeProtocol, "bad bytes")
	c.callError(99, "a code of the user's")
	g.OnMessage = func(Connection, []byte) { panic("boom") }
	c.deliver([]byte("x"))
	c.unlockLane()
	if err := c.Send("late", false); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after the panic closed the connection: %v", err)
	}
	s := g.Stats()
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"Sent", s.Sent.Load(), 3},
		{"SendFailures", s.SendFailures.Load(), 1},
		{"Requests", s.Requests.Load(), 1},
		{"Panics", s.Panics.Load(), 1},
		{"Errors(protocol)", s.Errors(ErrCodeProtocol), 1},
		{"Errors(panic)", s.Errors(ErrCodePanic), 1},
		{"Errors(other)", s.Errors(0), 1},
		{"Errors(io)", s.Errors(ErrCodeIO), 0},
		{"Errors(-1)", s.Errors(-1), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	for _, code := range ErrorCodes() {
		if ErrorName(code) == "other" {
			t.Errorf("code %d has no name", code)
		}
	}
}
