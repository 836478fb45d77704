package text_test

import (
	"bytes"
	"fmt"

	"github.com/shunhui19/goes/protocol/text"
)

// A line from telnet ends in "\r\n"; the message is the text alone, and the
// answer goes out with "\n".
func ExampleText() {
	p := text.New()
	buf := []byte("hello, goer\r\nsecond li")

	n, _ := p.Input(nil, buf) // length of the first whole line
	msg, _ := p.Decode(nil, buf[:n])
	fmt.Printf("%d %q\n", n, msg)

	n, _ = p.Input(nil, buf[n:]) // the second line is not whole yet
	fmt.Println(n)

	out, _ := p.Encode(nil, nil, []byte("hello, goes"))
	fmt.Printf("%q\n", out)
	// Output:
	// 13 "hello, goer"
	// 0
	// "hello, goes\n"
}

func ExampleFrame() {
	p := text.NewFrame()
	out, _ := p.Encode(nil, nil, []byte("hi"))
	fmt.Printf("% x\n", out)

	n, _ := p.Input(nil, out[:4]) // the header alone tells the length
	msg, _ := p.Decode(nil, out[:n])
	fmt.Printf("%d %q\n", n, msg)
	// Output:
	// 00 00 00 06 68 69
	// 6 "hi"
}

func ExampleReadFrame() {
	var conn bytes.Buffer // a net.Conn in a real client
	_ = text.WriteFrame(&conn, []byte("ping"))
	_ = text.WriteFrame(&conn, []byte("a payload far too long for the limit"))

	msg, err := text.ReadFrame(&conn, 16)
	fmt.Printf("%q %v\n", msg, err)
	_, err = text.ReadFrame(&conn, 16)
	fmt.Println(err)
	// Output:
	// "ping" <nil>
	// goes: package too large: frame payload of 36 bytes over the limit of 16
}
