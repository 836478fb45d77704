package text_test

import (
	"testing"

	"github.com/shunhui19/goes/protocol/text"
)

var benchLine = []byte("PUBLISH news a short line of text, as a chat or a command protocol sends\r\n")

func BenchmarkTextInput(b *testing.B) {
	p := text.New()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for i := 0; i < b.N; i++ {
		if n, err := p.Input(nil, benchLine); n != len(benchLine) || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkTextDecode(b *testing.B) {
	p := text.New()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for i := 0; i < b.N; i++ {
		if _, err := p.Decode(nil, benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTextEncode(b *testing.B) {
	p := text.New()
	msg := benchLine[:len(benchLine)-2]
	dst := make([]byte, 0, len(benchLine))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		dst, _ = p.Encode(nil, dst[:0], msg)
	}
}

func BenchmarkFrameInput(b *testing.B) {
	p := text.NewFrame()
	pkg := frame(uint32(len(benchLine))+4, string(benchLine))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkg)))
	for i := 0; i < b.N; i++ {
		if n, err := p.Input(nil, pkg); n != len(pkg) || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	p := text.NewFrame()
	pkg := frame(uint32(len(benchLine))+4, string(benchLine))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkg)))
	for i := 0; i < b.N; i++ {
		if _, err := p.Decode(nil, pkg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameEncode(b *testing.B) {
	p := text.NewFrame()
	dst := make([]byte, 0, len(benchLine)+4)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for i := 0; i < b.N; i++ {
		dst, _ = p.Encode(nil, dst[:0], benchLine)
	}
}
