package tunnel_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/gorilla/websocket"

	"iapterm/tunnel"
)

// TestPoolCloseDuringAcquire: a pool closed (or a tunnel force-closed)
// while Acquire is still opening the listener must not hand out a handle on
// a listener that is already closed.
func TestPoolCloseDuringAcquire(t *testing.T) {
	for _, how := range []string{"Close", "CloseTunnel"} {
		t.Run(how, func(t *testing.T) {
			f := newFakeRelay(t)
			connected := make(chan struct{}, 1)
			release := make(chan struct{})
			f.script = func(c *websocket.Conn, _ *http.Request) {
				connected <- struct{}{}
				<-release
				send(c, tunnel.AppendConnectSuccessSID(nil, "probe"))
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}
			p := tunnel.NewPool(f.dialer(), tunnel.WithListenOptions(tunnel.ListenOptions{TestConnection: true}))
			type result struct {
				tn  *tunnel.Tunnel
				err error
			}
			got := make(chan result, 1)
			go func() {
				tn, err := p.Acquire(context.Background(), testTarget, 0)
				got <- result{tn, err}
			}()
			<-connected // Acquire is in the connection test
			closed := make(chan struct{})
			go func() {
				if how == "Close" {
					p.Close()
				} else {
					p.CloseTunnel(testTarget.Key())
				}
				close(closed)
			}()
			// Wait until the close took the pending entry: until then a
			// second Acquire with a cancelled context joins it and returns
			// the bare context error.
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			for {
				_, err := p.Acquire(cancelled, testTarget, 0)
				if err != context.Canceled {
					break
				}
				runtime.Gosched()
			}
			close(release)
			r := <-got
			<-closed
			if r.err == nil {
				defer r.tn.Release()
				if c, err := net.Dial("tcp", r.tn.LocalAddr().String()); err == nil {
					c.Close()
				} else {
					t.Errorf("Acquire succeeded with a closed listener (%v)", err)
				}
				return
			}
			if !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("Acquire during %s: %v, want net.ErrClosed", how, r.err)
			}
			p.Close()
		})
	}
}
