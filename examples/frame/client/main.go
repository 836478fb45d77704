// Command client sends a few frames to the frame echo server and prints the
// replies.
//
//	go run ./frame/client [-addr 127.0.0.1:8081] [message ...]
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/shunhui19/goes/protocol/text"
)

func main() {
	addr := flag.String("addr", envOr("GOES_ADDR", "127.0.0.1:8081"), "server address")
	flag.Parse()
	msgs := flag.Args()
	if len(msgs) == 0 {
		msgs = []string{"hello, goes", "", "a frame may hold\nnewlines and \x00 bytes"}
	}
	if err := run(*addr, msgs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// run sends msgs as frames to addr and prints each reply to out.
func run(addr string, msgs []string, out io.Writer) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := text.WriteFrame(conn, []byte(m)); err != nil {
			return err
		}
	}
	for range msgs {
		reply, err := text.ReadFrame(conn, 1<<20)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%q\n", reply)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
