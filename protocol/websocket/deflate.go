package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws/wsflate"
)

// The deflate helpers: permessage-deflate without context takeover, so each
// message is compressed on its own.

var errInflateLimit = errors.New("goes: websocket: decompressed message too big")

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	w := wsflate.NewWriter(&buf, func(w io.Writer) wsflate.Compressor {
		fw.Reset(w)
		return fw
	})
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// limitWriter collects output up to max bytes.
type limitWriter struct {
	buf []byte
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		return 0, errInflateLimit
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// inflater is a flate reader that wsflate.Reader resets instead of
// replacing.
type inflater struct{ io.ReadCloser }

func (d inflater) Reset(r io.Reader) { d.ReadCloser.(flate.Resetter).Reset(r, nil) }

// inflaters holds decompressors between messages: a connection uses one only
// while it decompresses a message.
var inflaters = sync.Pool{New: func() any {
	return wsflate.NewReader(noInput, func(r io.Reader) wsflate.Decompressor {
		return inflater{flate.NewReader(r)}
	})
}}

// noInput is what a pooled decompressor reads from: nothing, so that it
// keeps no message alive.
var noInput = bytes.NewReader(nil)

func decompress(p []byte, max int) ([]byte, error) {
	zr := inflaters.Get().(*wsflate.Reader)
	defer func() {
		zr.Reset(noInput)
		inflaters.Put(zr)
	}()
	zr.Reset(bytes.NewReader(p))
	w := &limitWriter{max: max}
	if _, err := io.Copy(w, zr); err != nil {
		return nil, err
	}
	if w.buf == nil {
		w.buf = []byte{}
	}
	return w.buf, nil
}
