// Command delayproxy forwards TCP connections and holds every byte for a
// fixed time in each direction, without limiting throughput: a stand-in
// for the round trip between a client and a distant relay, where the
// kernel's netem is not available. scripts/bench-tunnel-rtt.sh puts it
// between `iapterm tunnel` and the emulator.
//
// Usage: delayproxy -delay 10ms LISTEN TARGET (host:port each)
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

// chunk is data read at one time, due for writing at another.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each read held until delay after it arrived.
// The queue between the two holds at most 256 chunks of 256 KiB (64 MiB),
// more than a bandwidth-delay product on loopback at tens of milliseconds.
func pipe(dst, src net.Conn, delay time.Duration) {
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 256<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	for range q {
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func main() {
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay added in each direction")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: delayproxy -delay 10ms LISTEN TARGET")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "delayproxy:", err)
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			d, err := net.Dial("tcp", flag.Arg(1))
			if err != nil {
				fmt.Fprintln(os.Stderr, "delayproxy:", err)
				return
			}
			defer d.Close()
			done := make(chan struct{})
			go func() { pipe(d, c, *delay); close(done) }()
			pipe(c, d, *delay)
			<-done
		}()
	}
}
