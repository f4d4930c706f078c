package relay

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// batchLimit is the most a batchConn gathers before it writes.
const batchLimit = 256 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchLimit); return &b }}

// batchConn sits under the WebSocket library so a session's writer can
// gather several relay messages into one system call: between Hold and
// Flush every write is buffered, in order, whoever makes it; outside, writes
// go straight through. The writer flushes before it waits, so nothing sits
// in the buffer while there is nothing more to send.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  *[]byte // pooled while held
	// framing: the WebSocket is open and every write is one whole frame
	// (the library writes a frame at a time); closeSent: one of them was a
	// CLOSE, after which no data frame may follow.
	framing   bool
	closeSent bool
}

// Write buffers p while held (writing the buffer first when p does not
// fit). An error of a buffered write surfaces at the next write or Flush.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.framing && len(p) > 0 && p[0]&0x0f == websocket.CloseMessage {
		c.closeSent = true
	}
	if !c.held {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > cap(*c.buf) {
		if err := c.writeOutLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(*c.buf) {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// Hold starts buffering writes.
func (c *batchConn) Hold() {
	c.mu.Lock()
	if !c.held {
		c.held = true
		c.buf = batchPool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// Flush writes what was buffered and stops buffering.
func (c *batchConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		return nil
	}
	err := c.writeOutLocked()
	c.release()
	return err
}

// Abandon writes out what was buffered, waiting at most a second, and
// stops buffering: for a connection about to be closed.
func (c *batchConn) Abandon() {
	c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.Flush()
}

func (c *batchConn) release() {
	c.held = false
	*c.buf = (*c.buf)[:0]
	batchPool.Put(c.buf)
	c.buf = nil
}

func (c *batchConn) writeOutLocked() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

// startFraming marks the WebSocket open: from now on every write is a
// whole frame, watched for a CLOSE.
func (c *batchConn) startFraming() {
	c.mu.Lock()
	c.framing = true
	c.mu.Unlock()
}

// writeFrame buffers one binary WebSocket message holding hdr and p: the
// frame the WebSocket library would write, minus its copy into its own
// buffer. Only while held.
func (c *batchConn) writeFrame(hdr, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return websocket.ErrCloseSent
	}
	if !c.held {
		return errors.New("internal error: frame written outside a batch")
	}
	n := len(hdr) + len(p)
	if len(*c.buf)+4+n > cap(*c.buf) {
		if err := c.writeOutLocked(); err != nil {
			return err
		}
	}
	b := append(*c.buf, 0x80|websocket.BinaryMessage) // FIN, binary
	if n > 125 {
		b = append(b, 126, byte(n>>8), byte(n)) // 16-bit length
	} else {
		b = append(b, byte(n))
	}
	b = append(b, hdr...)
	*c.buf = append(b, p...)
	return nil
}

// hijacker hands the WebSocket upgrader a batchConn instead of the bare
// connection.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the HTTP server cannot hand over the connection")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: c}, brw, nil
}

// batcherOf is the batchConn under ws, or nil.
func batcherOf(ws *websocket.Conn) *batchConn {
	bc, _ := ws.NetConn().(*batchConn)
	return bc
}
