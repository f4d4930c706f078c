// Command tcpchain is the yardstick of scripts/bench-tunnel.sh: two plain
// TCP forwarders in a row, so data crosses the same three loopback
// connections as through `iapterm tunnel` and the emulator's relay, with no
// framing, WebSocket or acknowledgements. What it reaches is the most any
// relay built that way can do on the machine.
//
// Usage: tcpchain LISTEN MIDDLE TARGET (host:port each, loopback)
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

// Hiding ReadFrom/WriteTo keeps io.CopyBuffer from using splice(2): the
// relay copies through user space, and so does this yardstick.
type reader struct{ io.Reader }
type writer struct{ io.Writer }

func forward(l net.Listener, to string) {
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
				io.CopyBuffer(writer{d}, reader{c}, make([]byte, 256<<10))
				d.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.CopyBuffer(writer{c}, reader{d}, make([]byte, 256<<10))
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tcpchain LISTEN MIDDLE TARGET")
		os.Exit(2)
	}
	first, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpchain:", err)
		os.Exit(1)
	}
	middle, err := net.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpchain:", err)
		os.Exit(1)
	}
	go forward(middle, os.Args[3])
	forward(first, os.Args[2])
}
