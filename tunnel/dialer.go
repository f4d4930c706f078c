package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/oauth2"

	"iapterm/endpoint"
	"iapterm/wsbatch"
)

// Subprotocol is the WebSocket subprotocol the relay speaks.
const Subprotocol = "relay.tunnel.cloudproxy.app"

// Origin is the Origin header both Google clients send.
const Origin = "bot:iap-tunneler"

// Defaults of the Dialer's tunables.
const (
	DefaultConnectTimeout   = 60 * time.Second
	DefaultMaxReconnectTime = 15 * time.Minute
	DefaultAckIdle          = time.Second
	// gcloud's threshold: what the real relay is known to accept. A
	// larger one measured no faster (BENCHMARKS.md).
	DefaultAckThreshold = 32 * 1024
	// Uploads can go no faster than this per round trip to the relay: at
	// 20 ms, 8 MiB measured 2.2 Gbit/s and 2 MiB 0.67 (BENCHMARKS.md).
	DefaultSendBufferLimit = 8*1024*1024 + MaxDataPayload
	DefaultCloseTimeout    = 10 * time.Second
)

// Target is one VM port reached through IAP.
type Target struct {
	Project   string
	Zone      string
	Instance  string
	Interface string // network interface; "nic0" when empty
	Port      int
}

func (t Target) String() string {
	return fmt.Sprintf("port %d of instance %s (project %s, zone %s)", t.Port, t.Instance, t.Project, t.Zone)
}

// Key identifies the target in a Pool: "PROJECT/ZONE/INSTANCE:PORT".
func (t Target) Key() string {
	return fmt.Sprintf("%s/%s/%s:%d", t.Project, t.Zone, t.Instance, t.Port)
}

func (t Target) validate() error {
	var missing []string
	if t.Project == "" {
		missing = append(missing, "project")
	}
	if t.Zone == "" {
		missing = append(missing, "zone")
	}
	if t.Instance == "" {
		missing = append(missing, "instance")
	}
	if len(missing) > 0 {
		return fmt.Errorf("tunnel target needs a %s", strings.Join(missing, ", "))
	}
	if t.Port < 1 || t.Port > 65535 {
		return fmt.Errorf("port %d is not a TCP port (1-65535)", t.Port)
	}
	return nil
}

func (t Target) iface() string {
	if t.Interface == "" {
		return "nic0"
	}
	return t.Interface
}

// Dialer opens relay sessions. The zero value of every field but Tokens has
// a sensible default; a Dialer must not be changed once used.
type Dialer struct {
	// Endpoints supplies the relay root (Relay) and the extra CA (CAFile).
	Endpoints endpoint.Endpoints
	// Tokens is asked for a token on every connect and reconnect.
	Tokens oauth2.TokenSource
	// UserAgent is sent as User-Agent ("iapterm" when empty).
	UserAgent string
	// RequestReason, when set, is sent as X-Goog-Request-Reason.
	RequestReason string
	// ConnectTimeout bounds the wait for CONNECT_SUCCESS_SID (60 s).
	ConnectTimeout time.Duration
	// MaxReconnectTime is how long a dropped session keeps trying to
	// resume before it fails (15 min).
	MaxReconnectTime time.Duration
	// AckIdle is how long received data may stay unacknowledged when the
	// stream is quiet (1 s).
	AckIdle time.Duration
	// AckThreshold: an ACK is sent as soon as more than this many received
	// bytes are unacknowledged (32 KiB).
	AckThreshold int
	// SendBufferLimit bounds the bytes written but not yet acknowledged by
	// the relay; Write blocks beyond it (about 8 MiB).
	SendBufferLimit int
	// CloseTimeout bounds how long Close waits for queued data to be
	// acknowledged (10 s).
	CloseTimeout time.Duration
	// Backoff returns the sleep before reconnect attempt n (n >= 1; the
	// first attempt is immediate). Nil means gcloud's schedule.
	Backoff func(n int) time.Duration
	// Proxy picks an HTTP CONNECT proxy; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// GetClientCertificate supplies a device certificate for mutual TLS;
	// when set, sessions go to the endpoints' mTLS relay. Nil means none.
	GetClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// Logger receives debug and info logs; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	ws      *websocket.Dialer
	initErr error
}

// bufferPool backs gorilla's write buffers, so an idle connection holds none.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() any  { return b.p.Get() }
func (b *bufferPool) Put(x any) { b.p.Put(x) }

var wsWritePool = &bufferPool{}

func (d *Dialer) init() error {
	d.once.Do(func() {
		tlsCfg, err := d.Endpoints.TLSConfig()
		if err != nil {
			d.initErr = err
			return
		}
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tlsCfg.GetClientCertificate = d.GetClientCertificate
		proxy := d.Proxy
		if proxy == nil {
			proxy = http.ProxyFromEnvironment
		}
		d.ws = &websocket.Dialer{
			Proxy:           proxy,
			NetDialContext:  dialBatch,
			TLSClientConfig: tlsCfg,
			Subprotocols:    []string{Subprotocol},
			// Two relay messages per read system call when data streams in;
			// an idle connection touches only the pages it used.
			ReadBufferSize: 32 << 10,
			// A whole relay message fits one buffer, so no message is ever
			// split into WebSocket continuation frames.
			WriteBufferSize: MaxFrameSize + 64,
			WriteBufferPool: wsWritePool,
		}
	})
	return d.initErr
}

func (d *Dialer) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func durOr(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func intOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// backoff is gcloud's reconnect schedule: 1.5 s × 1.1^n + up to 1 s, at
// most 20 s.
func gcloudBackoff(n int) time.Duration {
	d := 1500 * time.Millisecond
	for i := 1; i < n && d < 20*time.Second; i++ {
		d = d * 11 / 10
	}
	d += rand.N(time.Second)
	return min(d, 20*time.Second)
}

func (d *Dialer) relayRoot() string {
	eps := d.Endpoints
	if eps.Relay == "" {
		eps = endpoint.Google()
	}
	r := eps.Relay
	if d.GetClientCertificate != nil && eps.MTLSRelay != "" {
		r = eps.MTLSRelay
	}
	if !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}

// connectURL is the /connect URL for an instance target.
func (d *Dialer) connectURL(t Target) string {
	var b strings.Builder
	b.WriteString(d.relayRoot())
	b.WriteString("connect?project=")
	b.WriteString(url.QueryEscape(t.Project))
	b.WriteString("&port=")
	b.WriteString(strconv.Itoa(t.Port))
	b.WriteString("&newWebsocket=True&zone=")
	b.WriteString(url.QueryEscape(t.Zone))
	b.WriteString("&instance=")
	b.WriteString(url.QueryEscape(t.Instance))
	b.WriteString("&interface=")
	b.WriteString(url.QueryEscape(t.iface()))
	return b.String()
}

// reconnectURL is the /reconnect URL resuming sid after ack bytes received.
func (d *Dialer) reconnectURL(t Target, sid string, ack uint64) string {
	return d.relayRoot() + "reconnect?sid=" + url.QueryEscape(sid) +
		"&ack=" + strconv.FormatUint(ack, 10) +
		"&newWebsocket=True&zone=" + url.QueryEscape(t.Zone)
}

// open performs the WebSocket handshake with a fresh token.
func (d *Dialer) open(ctx context.Context, t Target, rawURL string) (*websocket.Conn, error) {
	if err := d.init(); err != nil {
		return nil, err
	}
	if d.Tokens == nil {
		return nil, errors.New("no credentials: the tunnel dialer has no token source")
	}
	tok, err := d.Tokens.Token()
	if err != nil {
		return nil, fmt.Errorf("getting an access token: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok.AccessToken)
	h.Set("Origin", Origin)
	ua := d.UserAgent
	if ua == "" {
		ua = "iapterm"
	}
	h.Set("User-Agent", ua)
	if d.RequestReason != "" {
		h.Set("X-Goog-Request-Reason", d.RequestReason)
	}
	conn, resp, err := d.ws.DialContext(ctx, rawURL, h)
	if resp != nil && resp.Body != nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HandshakeError{Status: resp.StatusCode, Target: t}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
			// The handshake ran into the context's deadline just before
			// the context noticed.
			return nil, context.DeadlineExceeded
		}
		return nil, fmt.Errorf("connecting to the IAP relay at %s: %w", hostOf(rawURL), err)
	}
	if conn.Subprotocol() != Subprotocol {
		conn.Close()
		return nil, fmt.Errorf("%w: the server at %s did not accept the %s subprotocol", ErrProtocol, hostOf(rawURL), Subprotocol)
	}
	conn.SetReadLimit(MaxFrameSize + maxSIDLen)
	return conn, nil
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "the relay"
}

// Dial opens a relay session to t and waits for its session ID.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Session, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	conn, sid, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return newSession(d, t, conn, sid), nil
}

// Probe checks that a session to t can be established, then closes it.
func (d *Dialer) Probe(ctx context.Context, t Target) error {
	s, err := d.Dial(ctx, t)
	if err != nil {
		return err
	}
	return s.Close()
}

// connect dials /connect and waits for CONNECT_SUCCESS_SID.
func (d *Dialer) connect(ctx context.Context, t Target) (*websocket.Conn, string, error) {
	timeout := durOr(d.ConnectTimeout, DefaultConnectTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.open(cctx, t, d.connectURL(t))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, "", fmt.Errorf("%w after %v while connecting to %s", ErrConnectTimeout, timeout, t)
		}
		return nil, "", err
	}
	f, err := d.first(cctx, conn, t, TagConnectSuccessSID)
	if err != nil {
		conn.Close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, "", fmt.Errorf("%w: no session ID within %v while connecting to %s; the VM may be booting or the port unreachable", ErrConnectTimeout, timeout, t)
		}
		return nil, "", err
	}
	d.logger().Debug("relay session connected", "target", t.Key(), "sid", f.SID)
	return conn, f.SID, nil
}

// first reads messages until the one with tag want, skipping unknown tags
// and LONG_CLOSE; DATA or ACK first is a protocol violation.
func (d *Dialer) first(ctx context.Context, conn *websocket.Conn, t Target, want uint16) (Frame, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	defer conn.SetReadDeadline(time.Time{})
	buf := make([]byte, MaxFrameSize+maxSIDLen)
	for {
		n, err := readMessage(conn, buf)
		if err != nil {
			if ctx.Err() != nil {
				return Frame{}, ctx.Err()
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				// The read deadline is the context's deadline.
				return Frame{}, context.DeadlineExceeded
			}
			return Frame{}, wsError(err, t)
		}
		f, err := Decode(buf[:n])
		if err != nil {
			return Frame{}, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		switch {
		case f.Tag == want:
			return f, nil
		case f.Unknown:
			d.logger().Debug("ignoring unknown relay tag", "tag", f.Tag)
		case f.Tag == TagLongClose:
			d.logger().Debug("relay sent LONG_CLOSE", "code", f.Code, "reason", f.Reason)
		default:
			return Frame{}, fmt.Errorf("%w: message with tag 0x%04x before the session was established", ErrProtocol, f.Tag)
		}
	}
}

// errNotBinary is returned for a TEXT message, which the relay never sends.
var errNotBinary = errors.New("relay sent a non-binary WebSocket message")

// readMessage reads one WebSocket message into buf.
func readMessage(conn *websocket.Conn, buf []byte) (int, error) {
	mt, r, err := conn.NextReader()
	if err != nil {
		return 0, err
	}
	if mt != websocket.BinaryMessage {
		return 0, fmt.Errorf("%w: %w", ErrProtocol, errNotBinary)
	}
	return readAll(r, buf)
}

// readAll reads a whole message from r into buf. Unlike io.ReadFull it
// tells the message's end (io.EOF) from a connection cut mid-message (TLS
// reports that as io.ErrUnexpectedEOF): a cut message is an error, never a
// short message.
func readAll(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if n == len(buf) {
			// buf is full: anything more is over the limit.
			var one [1]byte
			m, err := r.Read(one[:])
			if m > 0 {
				return 0, fmt.Errorf("%w: message longer than %d bytes", ErrProtocol, len(buf))
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
			return n, nil
		}
	}
}

// wsError turns a WebSocket read error into a CloseError where it is one.
func wsError(err error, t Target) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: ce.Code, Reason: ce.Text, Target: t}
	}
	return err
}

// dialAddr is the net.Addr of a session's ends.
type dialAddr string

func (a dialAddr) Network() string { return "iap" }
func (a dialAddr) String() string  { return string(a) }

var _ net.Addr = dialAddr("")

// dialBatch is the WebSocket dialer's NetDialContext: a plain TCP
// connection (TLS, when used, goes on top) under a wsbatch.Conn.
func dialBatch(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return wsbatch.New(c), nil
}
