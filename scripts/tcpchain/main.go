// Command tcpchain is the yardstick of scripts/bench-tunnel.sh: two plain
// TCP forwarders in a row, so data crosses the same three loopback
// connections as through `iapterm tunnel` and the emulator's relay, with no
// framing, WebSocket or acknowledgements. What it reaches is the most any
// relay built that way can do on the machine.
//
// Usage: tcpchain [-splice] LISTEN MIDDLE TARGET (host:port each, loopback)
//
// By default it copies through user space, as the relay must (it frames and
// masks the bytes); -splice lets the kernel move them with splice(2), with
// no copy into the process at all.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

// Hiding ReadFrom/WriteTo keeps io.CopyBuffer from using splice(2).
type reader struct{ io.Reader }
type writer struct{ io.Writer }

func forward(l net.Listener, to string, splice bool) {
	copyOne := func(dst, src net.Conn) {
		if splice {
			io.Copy(dst, src)
			return
		}
		io.CopyBuffer(writer{dst}, reader{src}, make([]byte, 256<<10))
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			d, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer d.Close()
			done := make(chan struct{})
			go func() {
				copyOne(d, c)
				d.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			copyOne(c, d)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

func main() {
	splice := flag.Bool("splice", false, "move the bytes with splice(2) instead of copying them through the process")
	flag.Parse()
	if flag.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: tcpchain [-splice] LISTEN MIDDLE TARGET")
		os.Exit(2)
	}
	first, err := net.Listen("tcp", flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpchain:", err)
		os.Exit(1)
	}
	middle, err := net.Listen("tcp", flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpchain:", err)
		os.Exit(1)
	}
	go forward(middle, flag.Arg(2), *splice)
	forward(first, flag.Arg(1), *splice)
}
