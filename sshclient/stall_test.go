package sshclient

import (
	"net"
	"sync"
)

type netConn = net.Conn

// stallConn stops delivering reads once stalled, like a tunnel whose far
// side vanished without closing.
type stallConn struct {
	net.Conn
	once    sync.Once
	stalled chan struct{}
	mu      sync.Mutex
}

func (c *stallConn) ch() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stalled == nil {
		c.stalled = make(chan struct{})
	}
	return c.stalled
}

func (c *stallConn) stall() { c.once.Do(func() { close(c.ch()) }) }

func (c *stallConn) Read(b []byte) (int, error) {
	select {
	case <-c.ch():
		// Block until closed.
		buf := make([]byte, 1)
		for {
			if _, err := c.Conn.Read(buf); err != nil {
				return 0, err
			}
		}
	default:
	}
	return c.Conn.Read(b)
}
