// Package text provides two stream protocols for goes: newline-delimited
// text lines (Text) and length-prefixed binary frames (Frame).
//
// A text server answers every line a client such as nc or telnet sends:
//
//	g := core.NewGoer("127.0.0.1:8080", text.New(), "tcp")
//	g.OnMessage = func(c core.Connection, line []byte) {
//		c.SendBytes(line, false) // sent back as line + "\n"
//	}
//	g.RunAll()
//
// A frame server is built the same way with text.NewFrame(); its clients can
// use WriteFrame and ReadFrame.
//
// Both protocols keep no per-connection state, so one value may serve any
// number of connections and goroutines. Decode returns a subslice of the
// package and Encode appends to the caller's buffer: neither allocates.
//
// A protocol of one's own is any type with the three methods of
// core.Protocol; the package's examples show one with a 2-byte length header.
package text
