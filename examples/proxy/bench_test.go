package main

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// serveEach listens on a free loopback port and runs handle for every
// connection on a goroutine of its own until the benchmark ends.
func serveEach(b *testing.B, handle func(c net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// echoBackend serves io.Copy echoes until the benchmark ends.
func echoBackend(b *testing.B) string {
	return serveEach(b, func(c net.Conn) { io.Copy(c, c); c.Close() })
}

// copyProxy is the plain proxy to compare with: two io.Copy goroutines
// per connection.
func copyProxy(b *testing.B, backend string) string {
	return serveEach(b, func(c net.Conn) {
		d, err := net.Dial("tcp", backend)
		if err != nil {
			c.Close()
			return
		}
		go func() { io.Copy(d, c); d.Close() }()
		io.Copy(c, d)
		c.Close()
	})
}

// BenchmarkProxy streams through an echo backend: direct, through this
// proxy, and through the io.Copy proxy; 8 connections, 64 KiB writes.
func BenchmarkProxy(b *testing.B) {
	backend := echoBackend(b)
	for _, tc := range []struct {
		name string
		addr func() string
	}{
		{"direct", func() string { return backend }},
		{"goes", func() string {
			g := newGoer("127.0.0.1:0", backend)
			g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := g.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(g.Stop)
			return g.Addr().String()
		}},
		{"iocopy", func() string { return copyProxy(b, backend) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr := tc.addr()
			const conns, chunk = 8, 64 << 10
			b.SetBytes(chunk)
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/conns + 1
			for range conns {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Minute))
				wg.Add(2)
				go func() {
					defer wg.Done()
					buf := make([]byte, chunk)
					for range per {
						if _, err := c.Write(buf); err != nil {
							return
						}
					}
				}()
				go func() {
					defer wg.Done()
					io.CopyN(io.Discard, c, int64(per*chunk))
					c.Close()
				}()
			}
			wg.Wait()
		})
	}
}
