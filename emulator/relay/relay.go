// Package relay is the emulator's IAP TCP forwarding server: the WebSocket
// relay protocol ("SSH Relay v4") on /v4/connect and /v4/reconnect. It is as
// strict as the real clients expect the real service to be: one binary
// WebSocket frame per relay message, never masked, fragmented, PING or
// TEXT; ACKs cumulative, non-zero, non-decreasing and at DATA boundaries;
// nothing before CONNECT_SUCCESS_SID or RECONNECT_SUCCESS_ACK. Sessions
// survive their WebSocket and resume with a rewind of unacknowledged data.
package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/emulator/cloud"
	"iapterm/policy"
	"iapterm/tunnel"
	"iapterm/wsbatch"
)

// Subprotocol is the WebSocket subprotocol every relay handshake carries.
const Subprotocol = "relay.tunnel.cloudproxy.app"

// Close codes (iap-relay-protocol section 5).
const (
	CloseNormal                = 1000
	CloseGoingAway             = 1001
	CloseSIDUnknown            = 4001
	CloseSIDInUse              = 4002
	CloseFailedToConnect       = 4003
	CloseBadAck                = 4005
	CloseInvalidAck            = 4006
	CloseInvalidOpcode         = 4007
	CloseInvalidTag            = 4008
	CloseDestinationWriteFail  = 4009
	CloseDestinationReadFailed = 4010
	CloseInvalidData           = 4013
	CloseNotAuthorized         = 4033
	CloseLookupFailed          = 4047
	CloseFailedToRewind        = 4074
)

// Defaults of Options.
const (
	DefaultWindow        = 3 << 19 // 1.5 MiB
	DefaultDetachTimeout = 2 * time.Minute
	DefaultAckEvery      = 256 << 10
	DefaultAckIdle       = 50 * time.Millisecond
	DefaultDialTimeout   = 10 * time.Second
	// DefaultReattachWait is how long a reconnect waits for the previous
	// WebSocket of its session to be noticed dead before answering 4002:
	// a client that saw its connection drop may reconnect before the server
	// has read the drop.
	DefaultReattachWait = 2 * time.Second
	// DefaultCloseLinger bounds the wait for the client's CLOSE reply
	// after the server's, so the TCP connection is not reset under an
	// unread frame.
	DefaultCloseLinger = 2 * time.Second
)

// Options configure a Handler.
type Options struct {
	Cloud *cloud.Cloud
	// Window is how many bytes the server sends to a client beyond the
	// client's last ACK before it stops reading the backend
	// (DefaultWindow when 0).
	Window int
	// DropEvery, when > 0, abruptly closes the TCP connection under a
	// WebSocket after that many payload bytes in either direction on it,
	// so clients must resume.
	DropEvery int64
	// InjectClose, when non-zero, closes each session's WebSocket once with
	// this code after its first DATA.
	InjectClose int
	// Latency delays every relay message in each direction.
	Latency time.Duration
	// DenyBeforeUpgrade answers an IAM denial with HTTP 403 before the
	// WebSocket upgrade instead of close 4033 after it (both occur in the
	// wild).
	DenyBeforeUpgrade bool
	// DetachTimeout is how long a session without a WebSocket waits for a
	// reconnect (DefaultDetachTimeout when 0).
	DetachTimeout time.Duration
	// AckEvery and AckIdle decide when the server acknowledges the
	// client's data: once AckEvery bytes are unacknowledged, or after
	// AckIdle without more data (defaults when 0).
	AckEvery int
	AckIdle  time.Duration
	// DialTimeout bounds the backend connection (DefaultDialTimeout when 0).
	DialTimeout time.Duration
	// ReattachWait is how long a reconnect to a session that still has a
	// WebSocket waits for it to go before answering 4002
	// (DefaultReattachWait when 0).
	ReattachWait time.Duration
	// CloseLinger is how long the server waits for the client's CLOSE
	// reply before dropping the connection (DefaultCloseLinger when 0).
	CloseLinger time.Duration
	Logger      *slog.Logger
}

// Handler serves /v4/connect and /v4/reconnect.
type Handler struct {
	o        Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	ctx      context.Context
	cancel   context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*session
	conns    map[*websocket.Conn]struct{}
	wg       sync.WaitGroup
	closed   bool
}

// New returns a relay handler over o.Cloud.
func New(o Options) *Handler {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.DetachTimeout <= 0 {
		o.DetachTimeout = DefaultDetachTimeout
	}
	if o.AckEvery <= 0 {
		o.AckEvery = DefaultAckEvery
	}
	if o.AckIdle <= 0 {
		o.AckIdle = DefaultAckIdle
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CloseLinger <= 0 {
		o.CloseLinger = DefaultCloseLinger
	}
	if o.ReattachWait <= 0 {
		o.ReattachWait = DefaultReattachWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		o:        o,
		log:      o.Logger.With("component", "relay"),
		sessions: map[string]*session{},
		conns:    map[*websocket.Conn]struct{}{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	o.Cloud.OnChange(h.instancesChanged)
	h.upgrader = websocket.Upgrader{
		Subprotocols: []string{Subprotocol},
		// Several client messages per read system call; the write buffer
		// is larger than any relay message, so gorilla never splits one
		// into several frames.
		ReadBufferSize:  512 << 10,
		WriteBufferSize: 32 << 10,
		// Clients send "Origin: bot:iap-tunneler", which is not a URL;
		// authentication is the bearer token, which browsers cannot attach
		// to a WebSocket, so any origin is fine.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// Register adds the relay's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/v4/connect", h)
	mux.Handle("/v4/reconnect", h)
}

// Sessions is the number of live sessions (attached or waiting for a
// reconnect).
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Close ends every session and WebSocket.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	ss := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	h.cancel()
	// Attached clients get a CLOSE frame from their session's writer ...
	for _, s := range ss {
		s.end(CloseGoingAway, "server shutting down")
	}
	// ... and whatever has not finished within the close linger is cut.
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(h.o.CloseLinger + time.Second):
		h.mu.Lock()
		for c := range h.conns {
			c.NetConn().Close()
		}
		h.mu.Unlock()
		<-done
	}
	return nil
}

// instancesChanged cuts the backend of sessions whose VM stopped or
// vanished, as a shutting-down guest would: the client then gets the data
// already read, and 4010.
func (h *Handler) instancesChanged() {
	h.mu.Lock()
	ss := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	for _, s := range ss {
		in, err := h.o.Cloud.Instance(s.inst.Project, s.inst.Zone, s.inst.Name)
		if err != nil || in.Status != "RUNNING" {
			s.log.Info("instance stopped: closing the backend connection", "status", in.Status)
			s.backend.Close()
		}
	}
}

func (h *Handler) track(c *websocket.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Handler) untrack(c *websocket.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; ok {
		delete(h.conns, c)
		h.wg.Done()
	}
}

// ServeHTTP answers a relay handshake.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "relay handshakes are GET requests", http.StatusMethodNotAllowed)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this is the IAP relay: it speaks WebSocket only", http.StatusBadRequest)
		return
	}
	if !hasSubprotocol(r) {
		http.Error(w, "missing Sec-WebSocket-Protocol: "+Subprotocol, http.StatusBadRequest)
		return
	}
	tok, err := h.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="iap"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		h.log.Info("relay handshake refused", "path", r.URL.Path, "reason", err.Error())
		return
	}
	switch r.URL.Path {
	case "/v4/connect":
		h.connect(w, r, tok)
	case "/v4/reconnect":
		h.reconnect(w, r, tok)
	default:
		http.NotFound(w, r)
	}
}

func hasSubprotocol(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == Subprotocol {
			return true
		}
	}
	return false
}

func (h *Handler) authenticate(r *http.Request) (cloud.Token, error) {
	auth := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
		return cloud.Token{}, errors.New("missing bearer token (Authorization: Bearer ACCESS_TOKEN)")
	}
	t, err := h.o.Cloud.Authenticate(strings.TrimSpace(value))
	if err != nil {
		return cloud.Token{}, fmt.Errorf("%w: request a new access token", err)
	}
	return t, nil
}

// upgrade completes the handshake; nil when it failed (the upgrader has
// answered the client).
func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := h.upgrader.Upgrade(hijacker{w}, r, nil)
	if err != nil {
		h.log.Info("websocket upgrade failed", "err", err)
		return nil
	}
	if !h.track(c) {
		c.NetConn().Close()
		return nil
	}
	// A client message larger than any relay message is a protocol
	// error, not a reason to buffer it.
	c.SetReadLimit(tunnel.MaxFrameSize + 64)
	// The library's own PONG reply sets a write deadline a second ahead
	// and leaves it on the connection, where the session's batched DATA
	// writes (which bypass the library) would then fail. Reply without one,
	// like every other write of the session.
	c.SetPingHandler(func(data string) error {
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Time{})
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
			return nil
		}
		return err
	})
	return c
}

// refuse upgrades and closes at once with code: how the relay reports
// failures after the handshake.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	c := h.upgrade(w, r)
	if c == nil {
		return
	}
	defer h.untrack(c)
	h.closeConn(c, code, reason, nil)
}

// closeConn sends a CLOSE frame, waits briefly for the client's reply
// (readerDone closes when the connection's reader stopped; nil: read here)
// and closes the TCP connection.
func (h *Handler) closeConn(c *websocket.Conn, code int, reason string, readerDone <-chan struct{}) {
	h.sleep()
	err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(h.o.CloseLinger))
	if err == nil {
		if readerDone == nil {
			c.SetReadDeadline(time.Now().Add(h.o.CloseLinger))
			for {
				if _, _, err := c.NextReader(); err != nil {
					break
				}
			}
		} else {
			select {
			case <-readerDone:
			case <-time.After(h.o.CloseLinger):
			}
		}
	}
	c.NetConn().Close()
}

func (h *Handler) sleep() {
	if h.o.Latency > 0 {
		time.Sleep(h.o.Latency)
	}
}

func (h *Handler) connect(w http.ResponseWriter, r *http.Request, tok cloud.Token) {
	q := r.URL.Query()
	project, zone, name := q.Get("project"), q.Get("zone"), q.Get("instance")
	port, err := strconv.Atoi(q.Get("port"))
	if err != nil || port < 1 || port > 65535 {
		http.Error(w, "query parameter port must be 1-65535", http.StatusBadRequest)
		return
	}
	log := h.log.With("user", tok.Email, "project", project, "zone", zone, "instance", name, "port", port)
	if zone == "" && name == "" && (q.Has("host") || q.Has("region") || q.Has("network")) {
		log.Warn("host (destination group) tunnels are not emulated", "region", q.Get("region"), "network", q.Get("network"), "host", q.Get("host"))
		h.refuse(w, r, CloseLookupFailed, "Failed to lookup instance")
		return
	}
	if iface := q.Get("interface"); iface != "" && iface != "nic0" {
		log.Info("connect refused: only nic0 exists", "interface", iface)
		h.refuse(w, r, CloseLookupFailed, "Failed to lookup instance")
		return
	}
	inst, err := h.o.Cloud.Instance(project, zone, name)
	if err != nil {
		log.Info("connect refused: lookup failed", "err", err)
		h.refuse(w, r, CloseLookupFailed, "Failed to lookup instance")
		return
	}
	user, _ := h.o.Cloud.User(tok.Email)
	d, err := h.o.Cloud.Allowed("user:"+tok.Email, inst.TunnelResource(), policy.PermTunnelAccess, policy.Request{
		DestinationPort: port, DestinationIP: inst.InternalIP, Time: h.o.Cloud.Now(),
		AccessLevels: user.AccessLevels,
	})
	if err != nil || !d.Allowed {
		reason := d.Reason
		if err != nil {
			reason = err.Error()
		}
		log.Info("connect refused: not authorized", "reason", reason)
		if h.o.DenyBeforeUpgrade {
			http.Error(w, "not authorized: "+reason, http.StatusForbidden)
			return
		}
		h.refuse(w, r, CloseNotAuthorized, "not authorized")
		return
	}
	c := h.upgrade(w, r)
	if c == nil {
		return
	}
	backend, err := h.dialBackend(inst, port, log)
	if err != nil {
		defer h.untrack(c)
		h.closeConn(c, CloseFailedToConnect, "failed to connect to backend", nil)
		return
	}
	s := newSession(h, inst, port, tok.Email, backend)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		backend.Close()
		h.untrack(c)
		c.NetConn().Close()
		return
	}
	h.sessions[s.sid] = s
	h.mu.Unlock()
	log.Info("tunnel session started", "sid_prefix", s.sid[:6])
	h.sleep()
	if err := c.WriteMessage(websocket.BinaryMessage, tunnel.AppendConnectSuccessSID(nil, s.sid)); err != nil {
		// The client never learnt the SID: nobody can resume this.
		h.untrack(c)
		c.NetConn().Close()
		s.end(0, "")
		return
	}
	s.start()
	s.attach(c, 0)
}

func (h *Handler) dialBackend(inst cloud.Instance, port int, log *slog.Logger) (net.Conn, error) {
	if inst.Status != "RUNNING" {
		log.Info("connect failed: instance not running", "status", inst.Status)
		return nil, errors.New("instance not running")
	}
	if v := h.o.Cloud.IAPFirewall(inst, port); !v.Allowed {
		log.Info("connect failed: firewall", "reason", v.Reason)
		return nil, errors.New(v.Reason)
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.o.DialTimeout)
	defer cancel()
	conn, err := h.o.Cloud.DialBackend(ctx, inst, port)
	if err != nil {
		log.Info("connect failed: backend", "err", err)
		return nil, err
	}
	return conn, nil
}

func (h *Handler) reconnect(w http.ResponseWriter, r *http.Request, tok cloud.Token) {
	q := r.URL.Query()
	sid := q.Get("sid")
	ack, err := strconv.ParseUint(q.Get("ack"), 10, 64)
	if err != nil {
		http.Error(w, "query parameter ack must be a byte count", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s == nil {
		h.log.Info("reconnect refused: unknown session", "user", tok.Email)
		h.refuse(w, r, CloseSIDUnknown, "sid unknown")
		return
	}
	log := s.log
	if !strings.EqualFold(s.email, tok.Email) {
		log.Info("reconnect refused: session belongs to another user", "user", tok.Email)
		h.refuse(w, r, CloseNotAuthorized, "not authorized")
		return
	}
	if !s.waitDetached(h.o.ReattachWait) {
		log.Info("reconnect refused: session in use")
		h.refuse(w, r, CloseSIDInUse, "sid in use")
		return
	}
	c := h.upgrade(w, r)
	if c == nil {
		return
	}
	recvd, err := s.prepareResume(ack)
	if err != nil {
		log.Info("reconnect refused", "err", err)
		defer h.untrack(c)
		if errors.Is(err, errInUse) {
			h.closeConn(c, CloseSIDInUse, "sid in use", nil)
			return
		}
		if errors.Is(err, errGone) {
			h.closeConn(c, CloseSIDUnknown, "sid unknown", nil)
			return
		}
		h.closeConn(c, CloseFailedToRewind, "failed to rewind", nil)
		s.end(0, "")
		return
	}
	h.sleep()
	if err := c.WriteMessage(websocket.BinaryMessage, tunnel.AppendReconnectSuccessAck(nil, recvd)); err != nil {
		h.untrack(c)
		c.NetConn().Close()
		s.release()
		return
	}
	log.Info("tunnel session resumed", "client_ack", ack, "server_ack", recvd)
	s.attach(c, ack)
}

func newSID() string {
	var b [18]byte
	rand.Read(b[:])
	// Standard base64 holds '+' and '/', which clients must percent-encode
	// in the reconnect URL, as with the real service's SIDs.
	return base64.StdEncoding.EncodeToString(b[:])
}

// hijacker hands the WebSocket upgrader a wsbatch.Conn instead of the bare
// connection, so the session's writer can batch its messages.
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
	return wsbatch.New(c), brw, nil
}
