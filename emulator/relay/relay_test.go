package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
	"iapterm/tunnel"
)

// ---- backends ----

// serve runs handle for every connection to a fresh loopback listener.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func echo(c net.Conn) { io.Copy(c, c) }

// pattern is deterministic test data: byte i is a function of i.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		x := uint32(off + i)
		b[i] = byte(x*2654435761>>24) ^ byte(x)
	}
	return b
}

// source writes n pattern bytes and closes.
func source(n int) func(net.Conn) {
	return func(c net.Conn) { c.Write(pattern(0, n)) }
}

// ---- world ----

const (
	tokA = "token-a" // tunnel user on project p
	tokB = "token-b" // port-22-only on instance cond
	tokC = "token-c" // on instance corp, from a device in access level corp
)

const corpLevel = "accessPolicies/1234/accessLevels/corp"

type env struct {
	t     testing.TB
	h     *Handler
	cloud *cloud.Cloud
	url   string // ws://127.0.0.1:PORT
	// allowPong: the test's clients send PINGs, so PONGs are replies.
	allowPong bool
}

func newEnv(t testing.TB, o Options, backends map[string]func(net.Conn)) *env {
	t.Helper()
	w := &world.World{
		Users: []world.User{{Email: "a@example.com", Token: tokA}, {Email: "b@example.com", Token: tokB},
			{Email: "c@example.com", Token: tokC, AccessLevels: []string{corpLevel}}},
		Projects: []world.Project{{
			ID:           "p",
			IAPTunnelIAM: []world.Binding{{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"user:a@example.com"}}},
			Firewalls: []world.Firewall{{Name: "allow-iap", SourceRanges: []string{"35.235.240.0/20"},
				Allowed: []world.Rule{{IPProtocol: "tcp"}}}},
			Instances: []world.Instance{
				{Name: "vm", Zone: "us-east1-b"},
				{Name: "stopped", Zone: "us-east1-b", Status: "TERMINATED", Backends: map[int]string{22: "127.0.0.1:1"}},
				{Name: "nofw", Zone: "us-east1-b", Network: "other", Backends: map[int]string{22: "127.0.0.1:1"}},
				{Name: "cond", Zone: "us-east1-b", IAPTunnelIAM: []world.Binding{{
					Role: "roles/iap.tunnelResourceAccessor", Members: []string{"user:b@example.com"},
					Condition: &world.Condition{Title: "ssh only", Expression: "destination.port == 22"}}}},
				{Name: "corp", Zone: "us-east1-b", IAPTunnelIAM: []world.Binding{{
					Role: "roles/iap.tunnelResourceAccessor", Members: []string{"user:b@example.com", "user:c@example.com"},
					Condition: &world.Condition{Title: "corp devices", Expression: `"` + corpLevel + `" in request.auth.access_levels`}}}},
			},
		}},
	}
	c, err := cloud.New(w, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for key, handle := range backends {
		if err := c.SetBackend(key, serve(t, handle)); err != nil {
			t.Fatal(err)
		}
	}
	o.Cloud = c
	if o.ReattachWait == 0 {
		o.ReattachWait = 200 * time.Millisecond
	}
	if o.CloseLinger == 0 {
		o.CloseLinger = 200 * time.Millisecond
	}
	h := New(o)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &env{t: t, h: h, cloud: c, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// ---- a strict raw client ----

// wireChecker parses the raw bytes the server sends and flags every frame
// that breaks section 6 of the protocol reference.
type wireChecker struct {
	t          testing.TB
	mu         sync.Mutex
	buf        []byte
	headerDone bool
	ignore     bool // the handshake failed: no frames follow
	allowPong  bool // the client sends PINGs: a PONG is a reply
}

func (w *wireChecker) feed(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ignore {
		return
	}
	w.buf = append(w.buf, p...)
	if !w.headerDone {
		i := bytes.Index(w.buf, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		if !bytes.HasPrefix(w.buf, []byte("HTTP/1.1 101 ")) {
			w.ignore = true
			return
		}
		w.buf = w.buf[i+4:]
		w.headerDone = true
	}
	for len(w.buf) >= 2 {
		b0, b1 := w.buf[0], w.buf[1]
		n, hdr := int(b1&0x7f), 2
		switch n {
		case 126:
			if len(w.buf) < 4 {
				return
			}
			n, hdr = int(binary.BigEndian.Uint16(w.buf[2:])), 4
		case 127:
			if len(w.buf) < 10 {
				return
			}
			n, hdr = int(binary.BigEndian.Uint64(w.buf[2:])), 10
		}
		if b1&0x80 != 0 {
			w.t.Errorf("server frame is masked")
			hdr += 4
		}
		if len(w.buf) < hdr+n {
			return
		}
		op := b0 & 0x0f
		switch {
		case b0&0x80 == 0:
			w.t.Errorf("server fragmented a message (FIN not set, opcode %d)", op)
		case b0&0x70 != 0:
			w.t.Errorf("server set RSV bits: %08b", b0)
		case op == websocket.PongMessage && w.allowPong:
		case op != websocket.BinaryMessage && op != websocket.CloseMessage:
			w.t.Errorf("server sent opcode %d (only BINARY and CLOSE are allowed)", op)
		case op == websocket.BinaryMessage && n > tunnel.MaxFrameSize:
			w.t.Errorf("server message of %d bytes exceeds %d", n, tunnel.MaxFrameSize)
		}
		w.buf = w.buf[hdr+n:]
	}
}

type teeConn struct {
	net.Conn
	w *wireChecker
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.feed(p[:n])
	return n, err
}

// client is one relay session as a strict client sees it; it checks every
// rule on ACKs and message order across reconnects.
type client struct {
	t      testing.TB
	e      *env
	ws     *websocket.Conn
	sid    string
	recv   bytes.Buffer // DATA payloads received, in order
	sent   []byte       // everything written, for resending
	bounds map[uint64]bool
	// lastAck is the server's last ACK (or RECONNECT_SUCCESS_ACK).
	lastAck  uint64
	started  bool // SID or RECONNECT_SUCCESS_ACK seen on this WebSocket
	ackedOut uint64
	conns    int
}

type dialResult struct {
	ws   *websocket.Conn
	resp *http.Response
	err  error
}

func (e *env) dial(path string, q url.Values, token string, hdr func(http.Header)) dialResult {
	w := &wireChecker{t: e.t, allowPong: e.allowPong}
	d := websocket.Dialer{
		Subprotocols: []string{Subprotocol},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &teeConn{c, w}, nil
		},
		HandshakeTimeout: 10 * time.Second,
	}
	h := http.Header{}
	h.Set("Origin", "bot:iap-tunneler")
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if hdr != nil {
		hdr(h)
	}
	ws, resp, err := d.Dial(e.url+path+"?"+q.Encode(), h)
	if err == nil && ws.Subprotocol() != Subprotocol {
		e.t.Errorf("subprotocol not echoed: %q", ws.Subprotocol())
	}
	return dialResult{ws, resp, err}
}

func connectQuery(instance string, port int) url.Values {
	return url.Values{"project": {"p"}, "zone": {"us-east1-b"}, "instance": {instance}, "port": {fmt.Sprint(port)},
		"interface": {"nic0"}, "newWebsocket": {"True"}, "_": {"9b0c1a2e-unknown-param"}}
}

// connect opens a session and reads CONNECT_SUCCESS_SID.
func (e *env) connect(instance string, port int, token string) *client {
	e.t.Helper()
	r := e.dial("/v4/connect", connectQuery(instance, port), token, nil)
	if r.err != nil {
		e.t.Fatalf("connect: %v", r.err)
	}
	c := &client{t: e.t, e: e, ws: r.ws, bounds: map[uint64]bool{}, conns: 1}
	f := c.read()
	if f.Tag != tunnel.TagConnectSuccessSID {
		e.t.Fatalf("first message has tag %d", f.Tag)
	}
	c.sid = f.SID
	return c
}

// expectClose connects (or reconnects) and expects the server to close
// with code after the handshake, before any relay message.
func (e *env) expectClose(path string, q url.Values, token string, code int, reason string) {
	e.t.Helper()
	r := e.dial(path, q, token, nil)
	if r.err != nil {
		e.t.Fatalf("%s: handshake failed: %v", path, r.err)
	}
	defer r.ws.Close()
	r.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := r.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		e.t.Fatalf("%s: want close %d, got message %x / %v", path, code, msg, err)
	}
	if ce.Code != code || (reason != "" && ce.Text != reason) {
		e.t.Fatalf("%s: close %d %q, want %d %q", path, ce.Code, ce.Text, code, reason)
	}
}

// read returns the next relay message and checks it against the rules.
func (c *client) read() tunnel.Frame {
	c.t.Helper()
	f, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) tryRead() (tunnel.Frame, error) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	mt, msg, err := c.ws.ReadMessage()
	if err != nil {
		return tunnel.Frame{}, err
	}
	if mt != websocket.BinaryMessage {
		c.t.Fatalf("message type %d", mt)
	}
	f, err := tunnel.Decode(msg)
	if err != nil {
		c.t.Fatalf("server sent a malformed message: %v", err)
	}
	switch f.Tag {
	case tunnel.TagConnectSuccessSID, tunnel.TagReconnectSuccessAck:
		if c.started {
			c.t.Fatalf("second SID/RECONNECT_SUCCESS_ACK on one WebSocket")
		}
		c.started = true
		if f.Tag == tunnel.TagReconnectSuccessAck {
			c.checkAck(f.Ack, true)
		}
	case tunnel.TagData:
		if !c.started {
			c.t.Fatalf("DATA before SID")
		}
		c.recv.Write(f.Data)
	case tunnel.TagAck:
		if !c.started {
			c.t.Fatalf("ACK before SID")
		}
		c.checkAck(f.Ack, false)
	default:
		c.t.Fatalf("unexpected tag %d", f.Tag)
	}
	return f, nil
}

func (c *client) checkAck(ack uint64, reconnect bool) {
	c.t.Helper()
	switch {
	case !reconnect && ack == 0:
		c.t.Fatalf("ACK(0)")
	case ack < c.lastAck:
		c.t.Fatalf("decreasing ACK %d after %d", ack, c.lastAck)
	case ack > uint64(len(c.sent)):
		c.t.Fatalf("ACK %d beyond the %d bytes sent", ack, len(c.sent))
	case ack != 0 && !c.bounds[ack]:
		c.t.Fatalf("ACK %d is not at a DATA boundary", ack)
	}
	c.lastAck = ack
}

func (c *client) write(frame []byte) error {
	return c.ws.WriteMessage(websocket.BinaryMessage, frame)
}

// send writes p as DATA messages of at most MaxDataPayload bytes.
func (c *client) send(p []byte) {
	c.t.Helper()
	for len(p) > 0 {
		n := min(len(p), tunnel.MaxDataPayload)
		c.sent = append(c.sent, p[:n]...)
		c.bounds[uint64(len(c.sent))] = true
		if err := c.write(tunnel.AppendData(nil, p[:n])); err != nil {
			c.t.Fatalf("send: %v", err)
		}
		p = p[n:]
	}
}

func (c *client) ack() {
	c.t.Helper()
	n := uint64(c.recv.Len())
	if n > c.ackedOut {
		if err := c.write(tunnel.AppendAck(nil, n)); err != nil {
			c.t.Fatalf("ack: %v", err)
		}
		c.ackedOut = n
	}
}

// readData reads until n DATA bytes in total have arrived.
func (c *client) readData(n int) {
	c.t.Helper()
	for c.recv.Len() < n {
		c.read()
	}
}

// waitAck reads until the server acknowledged everything sent.
func (c *client) waitAck() {
	c.t.Helper()
	for c.lastAck < uint64(len(c.sent)) {
		c.read()
	}
}

// expectClose reads until the server closes with code.
func (c *client) expectClose(code int, reason string) {
	c.t.Helper()
	for {
		_, err := c.tryRead()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || (reason != "" && ce.Text != reason) {
			c.t.Fatalf("want close %d %q, got %v", code, reason, err)
		}
		return
	}
}

// resume reconnects with ack and resends what the server did not get.
func (c *client) resume(ack uint64) {
	c.t.Helper()
	c.ws.Close()
	r := c.e.dial("/v4/reconnect", url.Values{"sid": {c.sid}, "ack": {fmt.Sprint(ack)}, "zone": {"us-east1-b"}, "newWebsocket": {"True"}}, tokA, nil)
	if r.err != nil {
		c.t.Fatalf("reconnect: %v", r.err)
	}
	c.ws, c.started = r.ws, false
	c.conns++
	c.recv.Truncate(int(ack))
	c.ackedOut = min(c.ackedOut, ack)
	f := c.read()
	if f.Tag != tunnel.TagReconnectSuccessAck {
		c.t.Fatalf("first message after reconnect has tag %d", f.Tag)
	}
	for off := f.Ack; off < uint64(len(c.sent)); {
		n := min(uint64(len(c.sent))-off, tunnel.MaxDataPayload)
		if err := c.write(tunnel.AppendData(nil, c.sent[off:off+n])); err != nil {
			// Dropped again: the next read fails and resumes.
			return
		}
		off += n
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- tests ----

func TestEchoAndAcks(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	if strings.IndexFunc(c.sid, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		t.Fatalf("SID %q is not printable ASCII", c.sid)
	}
	// A small write is acknowledged on idle.
	c.send([]byte("hello"))
	c.waitAck()
	c.readData(5)
	// Large writes: full-size messages, acknowledged at boundaries.
	big := pattern(0, 300<<10)
	c.send(big)
	c.readData(5 + len(big))
	c.ack()
	c.waitAck()
	if !bytes.Equal(c.recv.Bytes()[5:], big) || string(c.recv.Bytes()[:5]) != "hello" {
		t.Fatal("echo mismatch")
	}
	// Tolerated: unsolicited PONG, unknown relay behaviour from the client
	// side that is legal.
	if err := c.ws.WriteControl(websocket.PongMessage, []byte("keepalive"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.send([]byte("x"))
	c.readData(6 + len(big))
	// Duplicate CLOSE frames, then an abrupt drop.
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.ws.NetConn().Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	c.ws.NetConn().Close()
	waitFor(t, "the session to end", func() bool { return e.h.Sessions() == 0 })
}

func TestHandshakeFailures(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo, "p/us-east1-b/cond:22": echo, "p/us-east1-b/cond:3389": echo, "p/us-east1-b/corp:22": echo})
	status := func(r dialResult) int {
		if r.err == nil {
			r.ws.Close()
			return 101
		}
		if r.resp == nil {
			t.Fatalf("no response: %v", r.err)
		}
		return r.resp.StatusCode
	}
	q := connectQuery("vm", 22)
	if got := status(e.dial("/v4/connect", q, "", nil)); got != http.StatusUnauthorized {
		t.Errorf("no token: %d", got)
	}
	if got := status(e.dial("/v4/connect", q, "wrong", nil)); got != http.StatusUnauthorized {
		t.Errorf("bad token: %d", got)
	}
	expired, _ := e.cloud.IssueToken("a@example.com", time.Nanosecond)
	time.Sleep(time.Millisecond)
	if got := status(e.dial("/v4/connect", q, expired.Value, nil)); got != http.StatusUnauthorized {
		t.Errorf("expired token: %d", got)
	}
	d := websocket.Dialer{}
	_, resp, err := d.Dial(e.url+"/v4/connect?"+q.Encode(), http.Header{"Authorization": {"Bearer " + tokA}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no subprotocol: %v %v", resp, err)
	}
	bad := connectQuery("vm", 22)
	bad.Set("port", "0")
	if got := status(e.dial("/v4/connect", bad, tokA, nil)); got != http.StatusBadRequest {
		t.Errorf("port 0: %d", got)
	}

	e.expectClose("/v4/connect", connectQuery("ghost", 22), tokA, CloseLookupFailed, "Failed to lookup instance")
	hostQ := url.Values{"project": {"p"}, "port": {"22"}, "region": {"us-east1"}, "network": {"default"}, "host": {"10.0.0.1"}}
	e.expectClose("/v4/connect", hostQ, tokA, CloseLookupFailed, "Failed to lookup instance")
	e.expectClose("/v4/connect", connectQuery("vm", 22), tokB, CloseNotAuthorized, "not authorized")
	e.expectClose("/v4/connect", connectQuery("cond", 3389), tokB, CloseNotAuthorized, "not authorized")
	e.connect("cond", 22, tokB).ws.Close()
	// The user's access levels from the world reach the condition.
	e.expectClose("/v4/connect", connectQuery("corp", 22), tokB, CloseNotAuthorized, "not authorized")
	e.connect("corp", 22, tokC).ws.Close()
	e.expectClose("/v4/connect", connectQuery("stopped", 22), tokA, CloseFailedToConnect, "failed to connect to backend")
	e.expectClose("/v4/connect", connectQuery("nofw", 22), tokA, CloseFailedToConnect, "failed to connect to backend")
	e.expectClose("/v4/connect", connectQuery("vm", 5432), tokA, CloseFailedToConnect, "failed to connect to backend")
	// Something configured, nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	if err := e.cloud.SetBackend("p/us-east1-b/vm:8080", dead); err != nil {
		t.Fatal(err)
	}
	e.expectClose("/v4/connect", connectQuery("vm", 8080), tokA, CloseFailedToConnect, "failed to connect to backend")

	e2 := newEnv(t, Options{DenyBeforeUpgrade: true}, nil)
	if got := status(e2.dial("/v4/connect", connectQuery("vm", 22), tokB, nil)); got != http.StatusForbidden {
		t.Errorf("DenyBeforeUpgrade: %d", got)
	}
}

func TestBackendEOFFlushesThenCloses(t *testing.T) {
	const n = 200 << 10
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": source(n)})
	c := e.connect("vm", 22, tokA)
	for {
		_, err := c.tryRead()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != CloseDestinationReadFailed || ce.Text != "destination read failed" {
				t.Fatalf("close: %v", err)
			}
			break
		}
		if c.recv.Len()-int(c.ackedOut) > 64<<10 {
			c.ack()
		}
	}
	if !bytes.Equal(c.recv.Bytes(), pattern(0, n)) {
		t.Fatalf("received %d bytes, want the %d the backend sent", c.recv.Len(), n)
	}
	waitFor(t, "the session to end", func() bool { return e.h.Sessions() == 0 })
}

func TestReconnectRewind(t *testing.T) {
	gate := make(chan struct{})
	// The backend sends 100 KiB, waits, sends 100 KiB more, then echoes.
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": func(c net.Conn) {
		c.Write(pattern(0, 100<<10))
		<-gate
		c.Write(pattern(100<<10, 100<<10))
		io.Copy(c, c)
	}})
	c := e.connect("vm", 22, tokA)
	c.readData(100 << 10)
	c.send([]byte("abc"))
	c.waitAck()
	// Acknowledge 40000 bytes (a DATA boundary is not required of the
	// client), then drop the TCP connection without a CLOSE.
	if err := c.write(tunnel.AppendAck(nil, 40000)); err != nil {
		t.Fatal(err)
	}
	c.ackedOut = 40000
	c.ws.NetConn().Close()
	close(gate)
	// Resume claiming only 50000 bytes: the server rewinds to there.
	c.resume(50000)
	c.send([]byte("defg"))
	c.readData(200<<10 + 7)
	want := append(pattern(0, 200<<10), "abcdefg"...)
	if !bytes.Equal(c.recv.Bytes(), want) {
		t.Fatal("stream after rewind differs")
	}
	c.ack()

	// 4002: the session's WebSocket is alive.
	rq := url.Values{"sid": {c.sid}, "ack": {fmt.Sprint(c.recv.Len())}}
	e.expectClose("/v4/reconnect", rq, tokA, CloseSIDInUse, "")
	// 4001: unknown SID.
	e.expectClose("/v4/reconnect", url.Values{"sid": {"nope"}, "ack": {"0"}}, tokA, CloseSIDUnknown, "")
	// Another user may not take the session over.
	c.ws.NetConn().Close()
	e.expectClose("/v4/reconnect", rq, tokB, CloseNotAuthorized, "not authorized")
	// 4074: an ack before what the client acknowledged, or beyond what
	// was sent, cannot be rewound to.
	e.expectClose("/v4/reconnect", url.Values{"sid": {c.sid}, "ack": {"10"}}, tokA, CloseFailedToRewind, "")
	waitFor(t, "the session to end", func() bool { return e.h.Sessions() == 0 })

	c2 := e.connect("vm", 22, tokA)
	c2.readData(1)
	c2.ws.NetConn().Close()
	e.expectClose("/v4/reconnect", url.Values{"sid": {c2.sid}, "ack": {"999999999"}}, tokA, CloseFailedToRewind, "")
}

// resilient runs a transfer through a client that resumes whenever its
// WebSocket breaks, and returns it.
func resilient(t *testing.T, e *env, data []byte, onClose func(code int)) *client {
	c := e.connect("vm", 22, tokA)
	rest := data
	for c.recv.Len() < len(data) {
		// Keep a little data in flight.
		if len(rest) > 0 && len(c.sent)-c.recv.Len() < 128<<10 {
			n := min(len(rest), 32<<10)
			for _, p := range [][]byte{rest[:n]} {
				for len(p) > 0 {
					m := min(len(p), tunnel.MaxDataPayload)
					c.sent = append(c.sent, p[:m]...)
					c.bounds[uint64(len(c.sent))] = true
					c.write(tunnel.AppendData(nil, p[:m]))
					p = p[m:]
				}
			}
			rest = rest[n:]
		}
		_, err := c.tryRead()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && onClose != nil {
				onClose(ce.Code)
			}
			c.resume(uint64(c.recv.Len()))
			continue
		}
		if uint64(c.recv.Len())-c.ackedOut >= 32<<10 {
			if c.write(tunnel.AppendAck(nil, uint64(c.recv.Len()))) == nil {
				c.ackedOut = uint64(c.recv.Len())
			}
		}
	}
	return c
}

func TestDropEvery(t *testing.T) {
	e := newEnv(t, Options{DropEvery: 50 << 10}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	data := pattern(7, 600<<10)
	c := resilient(t, e, data, nil)
	if !bytes.Equal(c.recv.Bytes(), data) {
		t.Fatal("echo through drops differs")
	}
	if c.conns < 5 {
		t.Fatalf("only %d WebSockets for 1.2 MB through drop-every 50 KiB", c.conns)
	}
}

func TestInjectClose(t *testing.T) {
	e := newEnv(t, Options{InjectClose: 4000}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	var codes []int
	data := pattern(0, 100<<10)
	c := resilient(t, e, data, func(code int) { codes = append(codes, code) })
	if !bytes.Equal(c.recv.Bytes(), data) {
		t.Fatal("echo through injected close differs")
	}
	if len(codes) != 1 || codes[0] != 4000 {
		t.Fatalf("closes = %v, want exactly one 4000", codes)
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, Options{Latency: time.Millisecond}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	c.send([]byte("ping"))
	c.readData(4)
	if c.recv.String() != "ping" {
		t.Fatal(c.recv.String())
	}
}

func TestWindowBackpressure(t *testing.T) {
	const window = 64 << 10
	var wrote int64
	var mu sync.Mutex
	e := newEnv(t, Options{Window: window}, map[string]func(net.Conn){"p/us-east1-b/vm:22": func(c net.Conn) {
		buf := pattern(0, 1<<20)
		for off := 0; off < len(buf); off += 4096 {
			if _, err := c.Write(buf[off : off+4096]); err != nil {
				return
			}
			mu.Lock()
			wrote += 4096
			mu.Unlock()
		}
	}})
	c := e.connect("vm", 22, tokA)
	check := func() {
		// Never more than a window (plus the message in flight) beyond
		// the client's acknowledgement.
		if c.recv.Len()-int(c.ackedOut) > window+tunnel.MaxDataPayload {
			t.Fatalf("server sent %d bytes beyond the ack %d (window %d)", c.recv.Len()-int(c.ackedOut), c.ackedOut, window)
		}
	}
	for c.recv.Len() < window {
		c.read()
		check()
	}
	// The server holds at most a window: the session's buffer says so.
	e.h.mu.Lock()
	s := e.h.sessions[c.sid]
	e.h.mu.Unlock()
	for range 20 {
		s.mu.Lock()
		inflight := s.sent - s.acked
		s.mu.Unlock()
		if inflight > window+tunnel.MaxDataPayload {
			t.Fatalf("server read %d bytes beyond the ack", inflight)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Acknowledging opens the window again, until everything arrived.
	for c.recv.Len() < 1<<20 {
		c.ack()
		c.read()
		check()
	}
	if !bytes.Equal(c.recv.Bytes(), pattern(0, 1<<20)) {
		t.Fatal("data differs")
	}
}

func TestProtocolViolationsClose(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	c.ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	c.expectClose(CloseInvalidOpcode, "")

	c = e.connect("vm", 22, tokA)
	c.write(tunnel.AppendAck(nil, 5))
	c.expectClose(CloseInvalidAck, "")

	c = e.connect("vm", 22, tokA)
	c.write([]byte{0, 0x63, 1})
	c.expectClose(CloseInvalidTag, "")

	c = e.connect("vm", 22, tokA)
	c.write([]byte{0, 4, 0, 0, 0, 0})
	c.expectClose(CloseInvalidData, "")

	// An oversized message ends that WebSocket (the session stays
	// resumable).
	c = e.connect("vm", 22, tokA)
	c.write(make([]byte, 1<<20))
	if _, err := c.tryRead(); err == nil {
		t.Fatal("a 1 MiB message was accepted")
	}
}

func TestCloseEndsSessions(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	c.send([]byte("x"))
	c.readData(1)
	done := make(chan struct{})
	go func() {
		e.h.Close()
		close(done)
	}()
	c.expectClose(CloseGoingAway, "")
	<-done
	if e.h.Sessions() != 0 {
		t.Fatal("sessions left after Close")
	}
}

func TestInstanceStopEndsSessions(t *testing.T) {
	e := newEnv(t, Options{}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	c.send([]byte("before"))
	c.readData(6)
	if _, err := e.cloud.SetStatus("p", "us-east1-b", "vm", "STOPPING"); err != nil {
		t.Fatal(err)
	}
	c.expectClose(CloseDestinationReadFailed, "destination read failed")
	e.expectClose("/v4/connect", connectQuery("vm", 22), tokA, CloseFailedToConnect, "failed to connect to backend")
}

// withT is e for one fuzz input.
func (e *env) withT(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// FuzzClientMessages sends arbitrary sequences of client messages, valid and
// not, and checks that the server never breaks a rule of what it sends and
// always ends the exchange.
func FuzzClientMessages(f *testing.F) {
	e := newEnv(f, Options{DetachTimeout: 100 * time.Millisecond, AckIdle: time.Millisecond},
		map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	f.Add([]byte{0, 3, 'a', 'b', 'c', 3, 0})
	f.Add([]byte{1, 8, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Add([]byte{2, 6, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{2, 3, 0, 99, 1, 0, 1, 'x', 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := e.withT(t)
		c := e.connect("vm", 22, tokA)
		defer c.ws.Close()
		account := func(msg []byte) {
			if fr, err := tunnel.Decode(msg); err == nil && fr.Tag == tunnel.TagData {
				c.sent = append(c.sent, fr.Data...)
				c.bounds[uint64(len(c.sent))] = true
			}
		}
		for len(data) >= 2 {
			kind, n := data[0]%4, min(int(data[1]), len(data)-2)
			p := data[2 : 2+n]
			data = data[2+n:]
			var msg []byte
			switch kind {
			case 0:
				if len(p) == 0 {
					continue
				}
				msg = tunnel.AppendData(nil, p)
			case 1:
				var v uint64
				for _, b := range p {
					v = v<<8 | uint64(b)
				}
				msg = tunnel.AppendAck(nil, v)
			case 2:
				msg = p
			case 3:
				msg = tunnel.AppendAck(nil, uint64(c.recv.Len()))
			}
			account(msg)
			if c.write(msg) != nil {
				break
			}
		}
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		for {
			_, err := c.tryRead()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server never closed: %v", err)
			}
			if err != nil {
				break
			}
		}
	})
}

// TestDataFlowsWithoutAckTimer: client data must reach the backend at once,
// not when the server's idle-ACK timer happens to wake the session.
func TestDataFlowsWithoutAckTimer(t *testing.T) {
	e := newEnv(t, Options{AckIdle: time.Hour, AckEvery: 1 << 30}, map[string]func(net.Conn){"p/us-east1-b/vm:22": echo})
	c := e.connect("vm", 22, tokA)
	for i := range 5 {
		c.send([]byte{byte('a' + i)})
		c.readData(i + 1)
	}
	if c.recv.String() != "abcde" {
		t.Fatalf("echo %q", c.recv.String())
	}
}

// A client that closes normally right after its data was received must
// not lose that data: the relay writes it all to the backend before it
// closes the backend connection. The backend reads nothing until the close
// was sent, so most of the data still waits in the relay's queue then (more
// than the kernel's socket buffers hold). (The relay acknowledges only what
// reached the backend, so the client cannot wait for ACKs here.)
func TestClientCloseDrainsToBackend(t *testing.T) {
	const n = 16 << 20
	release := make(chan struct{})
	got := make(chan []byte, 1)
	sink := func(c net.Conn) {
		<-release
		b, _ := io.ReadAll(c)
		got <- b
	}
	e := newEnv(t, Options{Window: 2 * n}, map[string]func(net.Conn){"p/us-east1-b/vm:22": sink})
	c := e.connect("vm", 22, tokA)
	e.h.mu.Lock()
	s := e.h.sessions[c.sid]
	e.h.mu.Unlock()
	c.send(pattern(0, n))
	waitFor(t, "the relay to receive everything", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.recvd == n
	})
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the relay reads the CLOSE
	close(release)
	select {
	case b := <-got:
		if !bytes.Equal(b, pattern(0, n)) {
			t.Fatalf("backend received %d bytes, want the %d the client sent", len(b), n)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the backend connection was never closed")
	}
	waitFor(t, "the session to end", func() bool { return e.h.Sessions() == 0 })
}
