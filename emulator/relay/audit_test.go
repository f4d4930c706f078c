package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/emulator/cloud"
	"iapterm/tunnel"
)

// A client's PING (legal WebSocket, whatever the Google clients do) must
// not put a deadline on the server's later DATA writes: the PONG reply
// once left the connection's write deadline a second ahead, and every
// batched DATA frame written after that second failed, dropping the
// WebSocket.
func TestPingLeavesNoWriteDeadline(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": func(c net.Conn) {
		var b [1]byte
		io.ReadFull(c, b[:])
		<-gate
		c.Write(pattern(0, 64<<10))
		io.Copy(io.Discard, c)
	}})
	e.allowPong = true
	c := e.connect("vm", 22, tokA)
	// DATA and its ACK first: the server writes an ACK through the
	// WebSocket library, which clears the deadline again.
	c.send([]byte("a"))
	c.waitAck()
	pong := make(chan struct{}, 1)
	c.ws.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Past the second the reply's deadline lasted, the backend sends.
	time.Sleep(1500 * time.Millisecond)
	close(gate)
	for c.recv.Len() < 64<<10 {
		if _, err := c.tryRead(); err != nil {
			t.Fatalf("after a PING the server dropped the WebSocket at %d bytes: %v", c.recv.Len(), err)
		}
		c.ack()
	}
	if len(pong) == 0 {
		t.Fatal("the PING was not answered")
	}
}

// A client that closes normally while the server streams to it gets the
// server's CLOSE reply, not a dropped connection: the reply could sit in
// the writer's batch when the writer gave up on the closed WebSocket.
func TestClientCloseDuringStreamGetsReply(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": func(c net.Conn) {
		buf := pattern(0, 1<<20)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}})
	for i := range 10 {
		c := e.connect("vm", 22, tokA)
		c.readData(256 << 10)
		c.ack()
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _, err := c.ws.NextReader()
			if err == nil {
				continue
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("round %d: want the server's CLOSE 1000 reply, got %v", i, err)
			}
			break
		}
		c.ws.Close()
	}
	waitFor(t, "the sessions to end", func() bool { return e.h.Sessions() == 0 })
}

// A session whose reconnect timer fires while a reconnect is being set up,
// and whose reconnect then fails, must still expire: the timer once
// stayed set (fired) and was never started again, so the session and its
// backend connection lived for ever.
func TestDetachTimerFiringDuringResumeStillExpires(t *testing.T) {
	e := newEnv(t, Options{DetachTimeout: time.Millisecond}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	e.h.mu.Lock()
	s := e.h.sessions[c.sid]
	e.h.mu.Unlock()
	// The SID goes out before the WebSocket is attached.
	waitFor(t, "the WebSocket to be attached", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.conn != nil
	})
	// Hold the session as a reconnect does between its handshake and its
	// RECONNECT_SUCCESS_ACK, with the WebSocket already gone.
	s.mu.Lock()
	a := s.conn
	s.resuming = true
	s.mu.Unlock()
	s.detach(a, "test: dropped")
	// The timer fires meanwhile (it finds the session resuming) ...
	waitFor(t, "the reconnect timer to fire", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.detachTimer == nil || timerFired(s.detachTimer)
	})
	// ... then the RECONNECT_SUCCESS_ACK write fails.
	s.release()
	waitFor(t, "the session to expire", func() bool { return e.h.Sessions() == 0 })
}

// timerFired reports whether t already ran (Stop on a fired AfterFunc
// timer reports false; on a pending one it stops it, so restart it).
func timerFired(t *time.Timer) bool {
	if t.Stop() {
		t.Reset(time.Millisecond)
		return false
	}
	return true
}

// Both directions at full speed through an echoing backend, with a client
// that bounds its unacknowledged data as the tunnel package does. The
// relay once acknowledged client data on receipt, so the bound never
// applied: it then stopped reading the WebSocket once the backend lagged,
// the client's ACKs waited behind the unread DATA, the server's window
// never reopened, the echo stopped, and both directions stalled for good.
func TestBoundedClientEchoBothWaysNeverStalls(t *testing.T) {
	const (
		n     = 8 << 20
		bound = 2<<20 + tunnel.MaxDataPayload
	)
	e := newEnv(t, Options{Window: 64 << 10}, nil)
	// The echo sits behind an unbuffered pipe, so no kernel buffer hides
	// the stall.
	e.cloud.RegisterBuiltin("pipe-echo.invalid:22", func(context.Context, cloud.Instance, int) (net.Conn, error) {
		relaySide, echoSide := net.Pipe()
		go func() {
			defer echoSide.Close()
			echo(echoSide)
		}()
		return relaySide, nil
	})
	if err := e.cloud.SetBackend("p/us-east1-b/vm:22", "pipe-echo.invalid:22"); err != nil {
		t.Fatal(err)
	}
	c := e.connect("vm", 22, tokA)
	data := pattern(0, n)
	for off := 0; off < n; off += tunnel.MaxDataPayload {
		c.sent = append(c.sent, data[off:off+tunnel.MaxDataPayload]...)
		c.bounds[uint64(len(c.sent))] = true
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		lastAck uint64
		stop    bool
	)
	go func() {
		for off := 0; off < n; off += tunnel.MaxDataPayload {
			mu.Lock()
			for !stop && uint64(off)+tunnel.MaxDataPayload-lastAck > bound {
				cond.Wait()
			}
			if stop {
				mu.Unlock()
				return
			}
			err := c.write(tunnel.AppendData(nil, c.sent[off:off+tunnel.MaxDataPayload]))
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		mu.Lock()
		stop = true
		cond.Broadcast()
		mu.Unlock()
	}()
	for c.recv.Len() < n {
		_, err := c.tryRead()
		mu.Lock()
		if err != nil {
			mu.Unlock()
			t.Fatalf("at %d of %d bytes echoed: %v", c.recv.Len(), n, err)
		}
		lastAck = c.lastAck
		cond.Broadcast()
		if uint64(c.recv.Len())-c.ackedOut >= 32<<10 {
			c.ack()
		}
		mu.Unlock()
	}
	if !bytes.Equal(c.recv.Bytes(), data) {
		t.Fatal("echo differs")
	}
}
