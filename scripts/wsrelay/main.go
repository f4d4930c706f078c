// Command wsrelay is the second yardstick of scripts/bench-tunnel.sh: the
// least a relay speaking IAP's framing must do. Its client takes local TCP
// connections and sends their bytes as masked WebSocket messages holding
// relay DATA frames of at most 16 KiB; its server unmasks them and writes
// them to a backend, and the other way round. Like `iapterm tunnel` and the
// emulator it runs as two processes with the same three loopback hops, the
// same WebSocket library and the same write batching, but with nothing
// else: no ACKs, no resume, no send buffer, one goroutine per direction.
// What it reaches is about the most a tunnel of that protocol can do on the
// machine.
//
// Usage:
//
//	wsrelay server LISTEN BACKEND   (host:port each)
//	wsrelay client LISTEN SERVER
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"

	"iapterm/tunnel"
	"iapterm/wsbatch"
)

// The buffer sizes of the emulator's relay.
const (
	readBuffer = 256 << 10
	chunk      = 16 * tunnel.MaxDataPayload
)

func main() {
	if len(os.Args) != 4 || (os.Args[1] != "server" && os.Args[1] != "client") {
		fmt.Fprintln(os.Stderr, "usage: wsrelay server LISTEN BACKEND | wsrelay client LISTEN SERVER")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsrelay:", err)
		os.Exit(1)
	}
	if os.Args[1] == "server" {
		err = serve(l, os.Args[3])
	} else {
		err = forward(l, "ws://"+os.Args[3]+"/")
	}
	fmt.Fprintln(os.Stderr, "wsrelay:", err)
	os.Exit(1)
}

func serve(l net.Listener, backend string) error {
	up := websocket.Upgrader{ReadBufferSize: readBuffer, WriteBufferSize: 32 << 10}
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(hijacker{w}, r, nil)
		if err != nil {
			return
		}
		be, err := net.Dial("tcp", backend)
		if err != nil {
			ws.Close()
			return
		}
		relay(ws, be, false)
	}))
}

func forward(l net.Listener, url string) error {
	d := websocket.Dialer{
		ReadBufferSize:  readBuffer,
		WriteBufferSize: 32 << 10,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return wsbatch.New(&hookConn{Conn: c}), nil
		},
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			ws, _, err := d.Dial(url, nil)
			if err != nil {
				c.Close()
				return
			}
			relay(ws, c, true)
		}()
	}
}

// relay copies both ways until either side ends, then closes both.
func relay(ws *websocket.Conn, c net.Conn, mask bool) {
	bc := wsbatch.Of(ws)
	bc.FramesFor(ws)
	var once sync.Once
	end := func() {
		once.Do(func() {
			ws.NetConn().Close()
			c.Close()
		})
	}
	go func() {
		toWebSocket(bc, c, mask)
		end()
	}()
	fromWebSocket(ws, bc.Conn.(*hookConn), c)
	end()
}

// toWebSocket sends what it reads from c as DATA messages, a read's worth
// in one write.
func toWebSocket(bc *wsbatch.Conn, c net.Conn, mask bool) {
	buf := make([]byte, chunk)
	var hdr [6]byte
	for {
		n, err := c.Read(buf)
		if n > 0 {
			bc.Hold()
			for p := buf[:n]; len(p) > 0; {
				m := min(len(p), tunnel.MaxDataPayload)
				if bc.WriteFrame(tunnel.AppendDataHeader(hdr[:0], m), p[:m], mask) != nil {
					bc.Flush()
					return
				}
				p = p[m:]
			}
			if bc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fromWebSocket writes the payloads of the DATA messages it reads to c,
// several messages per write: each time the WebSocket's read buffer is
// used up, and at most 16 at a time.
func fromWebSocket(ws *websocket.Conn, hc *hookConn, c net.Conn) {
	var pending, bufs net.Buffers
	var used, free [][]byte
	var werr error
	flush := func() {
		if len(pending) == 0 || werr != nil {
			return
		}
		bufs = append(bufs[:0], pending...)
		_, werr = bufs.WriteTo(c)
		free = append(free, used...)
		pending, used = pending[:0], used[:0]
	}
	hc.onRead = flush
	defer flush()
	for werr == nil {
		_, r, err := ws.NextReader()
		if err != nil {
			return
		}
		var b []byte
		if k := len(free); k > 0 {
			b, free = free[k-1], free[:k-1]
		} else {
			b = make([]byte, tunnel.MaxFrameSize+1)
		}
		n, err := readMessage(r, b)
		if err != nil {
			return
		}
		f, err := tunnel.Decode(b[:n])
		if err != nil || f.Tag != tunnel.TagData {
			return
		}
		pending = append(pending, f.Data)
		used = append(used, b)
		if len(pending) == 16 {
			flush()
		}
	}
}

// readMessage reads a whole message into b; one longer than b is an error.
func readMessage(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, errors.New("message too long")
}

// hijacker hands the upgrader a wsbatch.Conn, as the emulator does.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := h.ResponseWriter.(http.Hijacker).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return wsbatch.New(&hookConn{Conn: c}), brw, nil
}

// hookConn runs onRead before each read from the connection: the
// WebSocket library has then used up its buffer, so the messages taken so
// far are all there is for now.
type hookConn struct {
	net.Conn
	onRead func()
}

func (h *hookConn) Read(p []byte) (int, error) {
	if h.onRead != nil {
		h.onRead()
	}
	return h.Conn.Read(p)
}
