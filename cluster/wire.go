package cluster

import (
	"encoding/binary"
	"errors"
)

// Operations carried between nodes. Every message starts with one of
// these, then the sender's node id, a key (uid, group, connection id or
// nothing), the client ids to skip, and the payload.
const (
	opClient    byte = iota + 1 // send payload to connection key (asks for an answer)
	opUid                       // send payload to the clients bound to uid key (asks)
	opGroup                     // send payload to group key's members but skip
	opAll                       // send payload to every client but skip
	opClose                     // close connection key, payload as farewell (asks)
	opOnline                    // is connection key open? (asks)
	opUidPing                   // is uid key bound here? (asks)
	opSession                   // session of connection key: payload is a sessionOp (asks)
	opQuery                     // payload is a query (asks)
	opHello                     // a node starts: answer with opHeartbeat
	opHeartbeat                 // a node is alive
	opBye                       // a node stops
	opLast
)

var errFrame = errors.New("goes: cluster: malformed message")

type frame struct {
	op      byte
	origin  string
	key     string
	skip    []ClientID
	payload []byte
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeFrame(op byte, origin, key string, skip []ClientID, payload []byte) []byte {
	n := 1 + 2*binary.MaxVarintLen16 + len(origin) + len(key) + binary.MaxVarintLen32 + len(payload)
	for _, s := range skip {
		n += binary.MaxVarintLen16 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, op)
	b = appendString(b, origin)
	b = appendString(b, key)
	b = binary.AppendUvarint(b, uint64(len(skip)))
	for _, s := range skip {
		b = appendString(b, string(s))
	}
	return append(b, payload...)
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// decodeFrame parses a message from another node. The payload aliases b.
func decodeFrame(b []byte) (frame, error) {
	var f frame
	if len(b) == 0 || b[0] == 0 || b[0] >= opLast {
		return f, errFrame
	}
	f.op = b[0]
	var ok bool
	if f.origin, b, ok = readString(b[1:]); !ok {
		return f, errFrame
	}
	if f.key, b, ok = readString(b); !ok {
		return f, errFrame
	}
	n, k := binary.Uvarint(b)
	// Each skipped id takes at least one byte: a count larger than what is
	// left is a lie, not a reason to allocate.
	if k <= 0 || n > uint64(len(b)-k) {
		return f, errFrame
	}
	b = b[k:]
	if n > 0 {
		f.skip = make([]ClientID, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		var s string
		if s, b, ok = readString(b); !ok {
			return f, errFrame
		}
		f.skip = append(f.skip, ClientID(s))
	}
	f.payload = b
	return f, nil
}
