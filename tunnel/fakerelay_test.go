package tunnel_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/oauth2"

	"iapterm/endpoint"
	"iapterm/tunnel"
)

// fakeRelay is a small relay server for cases the emulator cannot produce:
// an echo backend with scripted drops, or a fully scripted misbehaving
// server.
type fakeRelay struct {
	t   testing.TB
	srv *httptest.Server

	// script, when set, runs the whole WebSocket conversation.
	script func(c *websocket.Conn, r *http.Request)
	// status, when set, answers the upgrade with this HTTP status.
	status int
	// dropAfter closes the TCP connection abruptly each time this many more
	// bytes were received from the client (echo mode).
	dropAfter int
	// noAck makes the echo server never acknowledge client data.
	noAck bool

	mu       sync.Mutex
	sessions map[string]*echoSession
	requests []*http.Request
	nextSID  int
}

type echoSession struct {
	mu        sync.Mutex
	recvd     uint64 // bytes received from the client
	out       []byte // everything sent (or to send) to the client
	sinceDrop int
	busy      bool
}

var upgrader = websocket.Upgrader{
	Subprotocols: []string{tunnel.Subprotocol},
	CheckOrigin:  func(*http.Request) bool { return true },
}

func newFakeRelay(t testing.TB) *fakeRelay {
	f := &fakeRelay{t: t, sessions: map[string]*echoSession{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRelay) dialer(opts ...func(*tunnel.Dialer)) *tunnel.Dialer {
	eps, err := endpoint.Parse(f.srv.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	d := &tunnel.Dialer{
		Endpoints:      eps,
		Tokens:         &countingTokens{},
		UserAgent:      "iapterm/test",
		ConnectTimeout: 10 * time.Second,
		Backoff:        func(int) time.Duration { return 10 * time.Millisecond },
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

func (f *fakeRelay) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

// countingTokens hands out a new token on every call.
type countingTokens struct {
	mu sync.Mutex
	n  int
}

func (c *countingTokens) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return &oauth2.Token{AccessToken: "tok-" + strconv.Itoa(c.n)}, nil
}

var testTarget = tunnel.Target{Project: "proj", Zone: "us-central1-a", Instance: "vm-1", Port: 22}

func (f *fakeRelay) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	status := f.status
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "no", status)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if f.script != nil {
		f.script(c, r)
		return
	}
	f.echo(c, r)
}

func send(c *websocket.Conn, msg []byte) error {
	return c.WriteMessage(websocket.BinaryMessage, msg)
}

func closeWith(c *websocket.Conn, code int, reason string) {
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// echo serves /connect and /reconnect, echoing client data back.
func (f *fakeRelay) echo(c *websocket.Conn, r *http.Request) {
	q := r.URL.Query()
	var s *echoSession
	var from uint64
	switch r.URL.Path {
	case "/v4/connect":
		f.mu.Lock()
		f.nextSID++
		sid := fmt.Sprintf("sid-%d", f.nextSID)
		s = &echoSession{busy: true}
		f.sessions[sid] = s
		f.mu.Unlock()
		if send(c, tunnel.AppendConnectSuccessSID(nil, sid)) != nil {
			return
		}
	case "/v4/reconnect":
		f.mu.Lock()
		s = f.sessions[q.Get("sid")]
		f.mu.Unlock()
		if s == nil {
			closeWith(c, tunnel.CloseSIDUnknown, "sid unknown")
			return
		}
		ack, err := strconv.ParseUint(q.Get("ack"), 10, 64)
		s.mu.Lock()
		// The old connection's handler may not have noticed the drop yet.
		for i := 0; s.busy && i < 200; i++ {
			s.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			s.mu.Lock()
		}
		if err != nil || ack > uint64(len(s.out)) || s.busy {
			s.mu.Unlock()
			closeWith(c, tunnel.CloseSIDInUse, "bad reconnect")
			return
		}
		s.busy = true
		from = ack
		recvd := s.recvd
		s.mu.Unlock()
		if send(c, tunnel.AppendReconnectSuccessAck(nil, recvd)) != nil {
			return
		}
	default:
		closeWith(c, tunnel.CloseLookupFailed, "unknown path")
		return
	}
	defer func() { s.mu.Lock(); s.busy = false; s.mu.Unlock() }()
	// Retransmit what the client has not received.
	s.mu.Lock()
	pending := append([]byte(nil), s.out[from:]...)
	s.mu.Unlock()
	for len(pending) > 0 {
		n := min(len(pending), tunnel.MaxDataPayload)
		if send(c, tunnel.AppendData(nil, pending[:n])) != nil {
			return
		}
		pending = pending[n:]
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		fr, err := tunnel.Decode(msg)
		if err != nil {
			closeWith(c, tunnel.CloseInvalidData, "bad")
			return
		}
		if fr.Tag != tunnel.TagData {
			continue
		}
		s.mu.Lock()
		s.recvd += uint64(len(fr.Data))
		s.out = append(s.out, fr.Data...)
		s.sinceDrop += len(fr.Data)
		drop := f.dropAfter > 0 && s.sinceDrop >= f.dropAfter
		if drop {
			s.sinceDrop = 0
		}
		recvd := s.recvd
		s.mu.Unlock()
		if drop {
			c.NetConn().Close()
			return
		}
		if !f.noAck && send(c, tunnel.AppendAck(nil, recvd)) != nil {
			return
		}
		if send(c, tunnel.AppendData(nil, fr.Data)) != nil {
			return
		}
	}
}

// readFrame reads one relay message from the client.
func readFrame(c *websocket.Conn) (tunnel.Frame, error) {
	_, msg, err := c.ReadMessage()
	if err != nil {
		return tunnel.Frame{}, err
	}
	return tunnel.Decode(msg)
}

// readFrameInto reads one relay message into buf without allocating.
func readFrameInto(c *websocket.Conn, buf []byte) (tunnel.Frame, error) {
	_, r, err := c.NextReader()
	if err != nil {
		return tunnel.Frame{}, err
	}
	n, err := io.ReadFull(r, buf)
	if err != io.ErrUnexpectedEOF && err != io.EOF {
		return tunnel.Frame{}, fmt.Errorf("message too long or unreadable: %v", err)
	}
	return tunnel.Decode(buf[:n])
}

func rawFrame(tag uint16, body ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, tag), body...)
}
