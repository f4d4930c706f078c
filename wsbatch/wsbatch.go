// Package wsbatch is a net.Conn to put under gorilla/websocket so that one
// writer can gather several WebSocket messages into one system call. The
// relay client (tunnel) and the emulator's relay server both use it: with
// 16 KiB relay messages, one write per message made system calls the
// largest cost of a tunnel.
package wsbatch

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Limit is the most a Conn gathers before it writes: several relay
// messages per system call, few enough that a slow link still sees data
// move steadily.
const Limit = 512 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, 0, Limit); return &b }}

// Conn sits under the WebSocket library (and under TLS, on a client):
// between Hold and Flush every write is buffered, in order, whoever makes
// it; outside, writes go straight through. A writer holds only while it has
// more to send and flushes before it waits, so a lone small write is never
// delayed.
type Conn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  *[]byte // pooled while held, so an idle connection holds none
	// framing: the WebSocket is open and every write is one whole frame
	// (the library writes a frame at a time); closeSent: one of them was a
	// CLOSE, after which no data frame may follow.
	framing   bool
	closeSent bool
}

// New wraps c.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Of finds the Conn under ws, directly or under TLS; nil when there is
// none (a proxy that dialled by other means, say).
func Of(ws *websocket.Conn) *Conn {
	type netConner interface{ NetConn() net.Conn }
	nc := ws.NetConn()
	if t, ok := nc.(netConner); ok {
		nc = t.NetConn()
	}
	c, _ := nc.(*Conn)
	return c
}

// Write buffers p while held (writing the buffer first when p does not
// fit). An error of a buffered write surfaces at the next write or Flush,
// which is as good for a stream that is then closed.
func (c *Conn) Write(p []byte) (int, error) {
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
func (c *Conn) Hold() {
	c.mu.Lock()
	if !c.held {
		c.held = true
		c.buf = pool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// Flush writes what was buffered and stops buffering.
func (c *Conn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		return nil
	}
	err := c.writeOutLocked()
	c.held = false
	*c.buf = (*c.buf)[:0]
	pool.Put(c.buf)
	c.buf = nil
	return err
}

// Abandon writes out what was buffered, waiting at most a second, and
// stops buffering: for a connection about to be closed (a control frame
// the library wrote meanwhile, say the reply to a CLOSE, must still go
// out).
func (c *Conn) Abandon() {
	c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.Flush()
}

func (c *Conn) writeOutLocked() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

// FramesFor reports whether WriteFrame may be used for ws: when c is
// directly under it (no TLS between). From then on, writes are watched for
// a CLOSE frame.
func (c *Conn) FramesFor(ws *websocket.Conn) bool {
	if c == nil || ws.NetConn() != net.Conn(c) {
		return false
	}
	c.mu.Lock()
	c.framing = true
	c.mu.Unlock()
	return true
}

// WriteFrame buffers one binary WebSocket message holding hdr and p: the
// frame the WebSocket library would write, minus its copy into its own
// buffer. mask is true for a client, whose frames must be masked. Only
// while held, and only after FramesFor.
func (c *Conn) WriteFrame(hdr, p []byte, mask bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return websocket.ErrCloseSent
	}
	n := len(hdr) + len(p)
	switch {
	case !c.held || !c.framing:
		return errors.New("internal error: frame written outside a batch")
	case n > 0xffff:
		return errors.New("internal error: frame too large for a batch")
	}
	if len(*c.buf)+8+n > cap(*c.buf) {
		if err := c.writeOutLocked(); err != nil {
			return err
		}
	}
	var maskBit byte
	if mask {
		maskBit = 0x80
	}
	b := append(*c.buf, 0x80|websocket.BinaryMessage) // FIN, binary
	if n > 125 {
		b = append(b, maskBit|126, byte(n>>8), byte(n)) // 16-bit length
	} else {
		b = append(b, maskBit|byte(n))
	}
	if !mask {
		b = append(b, hdr...)
		*c.buf = append(b, p...)
		return nil
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = b[:start+n]
	pos := maskCopy(b[start:], hdr, key, 0)
	maskCopy(b[start+len(hdr):], p, key, pos)
	*c.buf = b
	return nil
}

// maskCopy copies src to dst XORed with the WebSocket mask key, starting at
// key position pos, and returns the position after it. Fixed-size 32-byte
// blocks let the compiler drop the bounds checks (three times the speed of
// an 8-byte loop).
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	var k [8]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	kw := binary.LittleEndian.Uint64(k[:])
	n := len(src)
	dst = dst[:n]
	for len(src) >= 32 {
		s, d := src[:32:32], dst[:32:32]
		binary.LittleEndian.PutUint64(d[0:8], binary.LittleEndian.Uint64(s[0:8])^kw)
		binary.LittleEndian.PutUint64(d[8:16], binary.LittleEndian.Uint64(s[8:16])^kw)
		binary.LittleEndian.PutUint64(d[16:24], binary.LittleEndian.Uint64(s[16:24])^kw)
		binary.LittleEndian.PutUint64(d[24:32], binary.LittleEndian.Uint64(s[24:32])^kw)
		src, dst = src[32:], dst[32:]
	}
	for i := range src {
		dst[i] = src[i] ^ k[i&7]
	}
	return (pos + n) & 3
}
