package cluster

import (
	"bytes"
	"slices"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	skip := []ClientID{"a-1", "bb-22"}
	b := encodeFrame(opGroup, "node1", "room", skip, []byte("hello"))
	f, err := decodeFrame(b)
	if err != nil || f.op != opGroup || f.origin != "node1" || f.key != "room" || !slices.Equal(f.skip, skip) || string(f.payload) != "hello" {
		t.Fatalf("decode = %+v, %v", f, err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeFrame(opAll, "n", "", nil, []byte("x")))
	f.Add(encodeFrame(opGroup, "node", "g", []ClientID{"n-1", "m-2"}, []byte("payload")))
	f.Add(encodeFrame(opQuery, "n", "", nil, []byte(`{"k":"count"}`)))
	f.Add([]byte{opUid, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{opGroup, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		again := encodeFrame(fr.op, fr.origin, fr.key, fr.skip, fr.payload)
		fr2, err := decodeFrame(again)
		if err != nil || fr2.op != fr.op || fr2.origin != fr.origin || fr2.key != fr.key ||
			!slices.Equal(fr2.skip, fr.skip) || !bytes.Equal(fr2.payload, fr.payload) {
			t.Fatalf("re-encoded frame differs: %+v vs %+v (%v)", fr, fr2, err)
		}
	})
}

func TestClientIDSplit(t *testing.T) {
	for _, c := range []struct {
		id   ClientID
		node string
		conn int
		ok   bool
	}{
		{"abc-12", "abc", 12, true},
		{"a_b-0", "a_b", 0, true},
		{"-1", "", 0, false},
		{"abc-", "", 0, false},
		{"abc-+1", "", 0, false},
		{"abc-01", "", 0, false},
		{"a.b-1", "", 0, false},
		{"a-b-1", "", 0, false},
	} {
		node, conn, ok := c.id.split()
		if node != c.node || conn != c.conn || ok != c.ok {
			t.Errorf("%q.split() = %q, %d, %v", c.id, node, conn, ok)
		}
	}
}
