package tunnel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/tunnel"
)

func TestDialSendsURLAndHeaders(t *testing.T) {
	f := newFakeRelay(t)
	d := f.dialer(func(d *tunnel.Dialer) { d.RequestReason = "ticket 42" })
	tg := testTarget
	tg.Project = "my proj&x" // must be percent-encoded
	s, err := d.Dial(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.SID() != "sid-1" {
		t.Errorf("SID() = %q", s.SID())
	}
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "hello" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	r := f.seen()[0]
	if r.URL.Path != "/v4/connect" {
		t.Errorf("path %q", r.URL.Path)
	}
	wantQuery := "project=my+proj%26x&port=22&newWebsocket=True&zone=us-central1-a&instance=vm-1&interface=nic0"
	if r.URL.RawQuery != wantQuery {
		t.Errorf("query\n got %s\nwant %s", r.URL.RawQuery, wantQuery)
	}
	for h, want := range map[string]string{
		"Authorization":          "Bearer tok-1",
		"Origin":                 "bot:iap-tunneler",
		"User-Agent":             "iapterm/test",
		"X-Goog-Request-Reason":  "ticket 42",
		"Sec-Websocket-Protocol": "relay.tunnel.cloudproxy.app",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if r.Header.Get("Sec-Websocket-Extensions") != "" {
		t.Errorf("client offered extensions %q", r.Header.Get("Sec-Websocket-Extensions"))
	}
}

// pumpBoth writes data through s while reading the echo, and returns the
// SHA-256 of what came back.
func pumpBoth(t *testing.T, s net.Conn, data []byte) [32]byte {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		_, werr = s.Write(data)
	}()
	h := sha256.New()
	if _, err := io.CopyN(h, s, int64(len(data))); err != nil {
		t.Fatalf("reading echo: %v", err)
	}
	wg.Wait()
	if werr != nil {
		t.Fatalf("writing: %v", werr)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestResumeAfterDropsLosesAndDuplicatesNothing(t *testing.T) {
	f := newFakeRelay(t)
	f.dropAfter = 256 * 1024
	toks := &countingTokens{}
	d := f.dialer(func(d *tunnel.Dialer) { d.Tokens = toks })
	s, err := d.Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	if got, want := pumpBoth(t, s, data), sha256.Sum256(data); got != want {
		t.Fatal("echoed data differs from what was sent")
	}
	if s.Reconnects() < 10 {
		t.Errorf("Reconnects() = %d, want at least 10 with a drop every 256 KiB", s.Reconnects())
	}
	// Every reconnect used a fresh token and said how much it received.
	seenTok := map[string]bool{}
	reconnects := 0
	for _, r := range f.seen() {
		tok := r.Header.Get("Authorization")
		if seenTok[tok] {
			t.Errorf("token %q reused", tok)
		}
		seenTok[tok] = true
		if r.URL.Path == "/v4/reconnect" {
			reconnects++
			q := r.URL.Query()
			if q.Get("sid") != "sid-1" || q.Get("ack") == "" || q.Get("newWebsocket") != "True" || q.Get("zone") != testTarget.Zone {
				t.Errorf("reconnect query %s", r.URL.RawQuery)
			}
		}
	}
	if reconnects != s.Reconnects() {
		t.Errorf("%d reconnect requests, Reconnects() = %d", reconnects, s.Reconnects())
	}
}

func TestConnectErrorsSayWhatToDo(t *testing.T) {
	cases := []struct {
		name     string
		code     int
		status   int
		sentinel error
		want     []string
	}{
		{"4033", 4033, 0, tunnel.ErrNotAuthorized, []string{"roles/iap.tunnelResourceAccessor", "IAP-secured Tunnel User", "vm-1", "port 22"}},
		{"4003", 4003, 0, tunnel.ErrBackendUnreachable, []string{"gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20", "booting", "nothing listens"}},
		{"4047", 4047, 0, tunnel.ErrInstanceNotFound, []string{"vm-1", "not found", "check the project, zone and instance name"}},
		{"http 401", 0, 401, tunnel.ErrTokenRejected, []string{"HTTP 401", "sign in again"}},
		{"http 403", 0, 403, tunnel.ErrNotAuthorized, []string{"HTTP 403", "roles/iap.tunnelResourceAccessor", "proxy"}},
		{"http 404", 0, 404, tunnel.ErrInstanceNotFound, []string{"HTTP 404"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRelay(t)
			f.status = c.status
			f.script = func(conn *websocket.Conn, _ *http.Request) {
				closeWith(conn, c.code, "reason text")
				conn.ReadMessage()
			}
			_, err := f.dialer().Dial(context.Background(), testTarget)
			if !errors.Is(err, c.sentinel) {
				t.Fatalf("error %v is not %v", err, c.sentinel)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "tok-") {
				t.Errorf("error leaks the token: %v", err)
			}
			if c.code != 0 {
				var ce *tunnel.CloseError
				if !errors.As(err, &ce) || ce.Code != c.code {
					t.Errorf("error %v is not a CloseError with code %d", err, c.code)
				}
			}
			for _, r := range f.seen() {
				if r.URL.Path == "/v4/reconnect" {
					t.Error("a session that never got a SID was resumed")
				}
			}
		})
	}
}

// scriptedSession serves SID, DATA "abc", then does end on /connect; on
// /reconnect it answers RECONNECT_SUCCESS_ACK(0), DATA "def" and close 1000.
func TestMidSessionCloseCodes(t *testing.T) {
	cases := []struct {
		name    string
		end     func(c *websocket.Conn)
		want    string // all data read
		wantErr error  // nil means io.EOF
		code    int
		resumes bool
	}{
		{"1000 ends", func(c *websocket.Conn) { closeWith(c, 1000, "") }, "abc", nil, 0, false},
		{"4009 ends", func(c *websocket.Conn) { closeWith(c, 4009, "") }, "abc", nil, 0, false},
		{"4010 ends", func(c *websocket.Conn) { closeWith(c, 4010, "destination read failed") }, "abc", nil, 0, false},
		{"abrupt drop resumes", func(c *websocket.Conn) { c.NetConn().Close() }, "abcdef", nil, 0, true},
		{"4000 resumes", func(c *websocket.Conn) { closeWith(c, 4000, "") }, "abcdef", nil, 0, true},
		{"4004 resumes", func(c *websocket.Conn) { closeWith(c, 4004, "") }, "abcdef", nil, 0, true},
		{"4005 resumes", func(c *websocket.Conn) { closeWith(c, 4005, "") }, "abcdef", nil, 0, true},
		{"4013 resumes", func(c *websocket.Conn) { closeWith(c, 4013, "") }, "abcdef", nil, 0, true},
		{"4001 fatal", func(c *websocket.Conn) { closeWith(c, 4001, "") }, "abc", tunnel.ErrSessionLost, 4001, false},
		{"4002 fatal", func(c *websocket.Conn) { closeWith(c, 4002, "") }, "abc", tunnel.ErrSessionLost, 4002, false},
		{"4051 fatal", func(c *websocket.Conn) { closeWith(c, 4051, "") }, "abc", tunnel.ErrSessionLost, 4051, false},
		{"4074 fatal", func(c *websocket.Conn) { closeWith(c, 4074, "") }, "abc", tunnel.ErrSessionLost, 4074, false},
		{"4033 fatal", func(c *websocket.Conn) { closeWith(c, 4033, "not authorized") }, "abc", tunnel.ErrNotAuthorized, 4033, false},
		{"4003 fatal", func(c *websocket.Conn) { closeWith(c, 4003, "") }, "abc", tunnel.ErrBackendUnreachable, 4003, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRelay(t)
			var reconnectAck string
			f.script = func(conn *websocket.Conn, r *http.Request) {
				if r.URL.Path == "/v4/reconnect" {
					reconnectAck = r.URL.Query().Get("ack")
					send(conn, tunnel.AppendReconnectSuccessAck(nil, 0))
					send(conn, tunnel.AppendData(nil, []byte("def")))
					closeWith(conn, 1000, "")
					conn.ReadMessage()
					return
				}
				send(conn, tunnel.AppendConnectSuccessSID(nil, "s1"))
				send(conn, tunnel.AppendData(nil, []byte("abc")))
				c.end(conn)
				conn.ReadMessage()
			}
			s, err := f.dialer().Dial(context.Background(), testTarget)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := io.ReadAll(s)
			if string(got) != c.want {
				t.Errorf("read %q, want %q", got, c.want)
			}
			if c.wantErr == nil && err != nil {
				t.Errorf("ReadAll error %v, want clean EOF", err)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("ReadAll error %v, want %v", err, c.wantErr)
			}
			if c.code != 0 {
				var ce *tunnel.CloseError
				if !errors.As(err, &ce) || ce.Code != c.code {
					t.Errorf("error %v is not a CloseError %d", err, c.code)
				}
			}
			if (s.Reconnects() == 1) != c.resumes {
				t.Errorf("Reconnects() = %d, resume expected %v", s.Reconnects(), c.resumes)
			}
			if c.resumes && reconnectAck != "3" {
				t.Errorf("reconnect ack = %q, want 3", reconnectAck)
			}
		})
	}
}

func TestServerAckValidation(t *testing.T) {
	sid := tunnel.AppendConnectSuccessSID(nil, "s1")
	cases := []struct {
		name     string
		script   func(c *websocket.Conn)
		dialErr  bool
		want     string
		protoErr bool
	}{
		{"decreasing ack", func(c *websocket.Conn) {
			send(c, sid)
			readFrame(c)
			send(c, tunnel.AppendAck(nil, 10))
			send(c, tunnel.AppendAck(nil, 5))
		}, false, "", true},
		{"ack beyond sent", func(c *websocket.Conn) {
			send(c, sid)
			readFrame(c)
			send(c, tunnel.AppendAck(nil, 11))
		}, false, "", true},
		{"second sid", func(c *websocket.Conn) {
			send(c, sid)
			send(c, sid)
		}, false, "", true},
		{"reconnect ack on a connected session", func(c *websocket.Conn) {
			send(c, sid)
			send(c, tunnel.AppendReconnectSuccessAck(nil, 0))
		}, false, "", true},
		{"malformed data", func(c *websocket.Conn) {
			send(c, sid)
			send(c, rawFrame(tunnel.TagData, 0, 0, 0, 0))
		}, false, "", true},
		{"data before sid", func(c *websocket.Conn) {
			send(c, tunnel.AppendData(nil, []byte("x")))
		}, true, "", true},
		{"ack before sid", func(c *websocket.Conn) {
			send(c, tunnel.AppendAck(nil, 0))
		}, true, "", true},
		{"repeated equal ack, unknown tag and long close are fine", func(c *websocket.Conn) {
			send(c, rawFrame(0x0099, 1, 2, 3))
			send(c, sid)
			readFrame(c)
			send(c, tunnel.AppendAck(nil, 10))
			send(c, tunnel.AppendAck(nil, 10))
			send(c, rawFrame(0x0042))
			send(c, tunnel.AppendLongClose(nil, 4010, "bye"))
			send(c, tunnel.AppendData(nil, []byte("ok")))
			closeWith(c, 1000, "")
		}, false, "ok", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRelay(t)
			f.script = func(conn *websocket.Conn, r *http.Request) {
				if r.URL.Path != "/v4/connect" {
					closeWith(conn, 4001, "")
					return
				}
				c.script(conn)
				conn.ReadMessage()
			}
			s, err := f.dialer().Dial(context.Background(), testTarget)
			if c.dialErr {
				if !errors.Is(err, tunnel.ErrProtocol) {
					t.Fatalf("Dial error %v, want a protocol violation", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Write([]byte("0123456789")); err != nil && !(c.protoErr && errors.Is(err, tunnel.ErrProtocol)) {
				t.Fatal(err)
			}
			got, err := io.ReadAll(s)
			if string(got) != c.want {
				t.Errorf("read %q, want %q", got, c.want)
			}
			if c.protoErr != errors.Is(err, tunnel.ErrProtocol) {
				t.Errorf("ReadAll error %v, protocol violation expected: %v", err, c.protoErr)
			}
			if s.Reconnects() != 0 {
				t.Errorf("resumed after a protocol violation")
			}
			if !c.protoErr && s.LongCloseReason() != "4010: bye" {
				t.Errorf("LongCloseReason() = %q", s.LongCloseReason())
			}
		})
	}
}

// ackServer sends payloads and reports the ACKs the client sends.
func ackServer(t *testing.T, payloads ...[]byte) (*fakeRelay, chan uint64) {
	acks := make(chan uint64, 100)
	f := newFakeRelay(t)
	f.script = func(c *websocket.Conn, _ *http.Request) {
		send(c, tunnel.AppendConnectSuccessSID(nil, "s1"))
		for _, p := range payloads {
			send(c, tunnel.AppendData(nil, p))
		}
		for {
			fr, err := readFrame(c)
			if err != nil {
				return
			}
			if fr.Tag == tunnel.TagAck {
				acks <- fr.Ack
			}
		}
	}
	return f, acks
}

func TestAckAfterIdle(t *testing.T) {
	f, acks := ackServer(t, []byte("0123456789"))
	s, err := f.dialer(func(d *tunnel.Dialer) { d.AckIdle = 20 * time.Millisecond }).Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	io.ReadFull(s, make([]byte, 10))
	select {
	case a := <-acks:
		if a != 10 {
			t.Errorf("ACK %d, want 10", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ACK for 10 idle received bytes")
	}
}

func TestAckAboveThreshold(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 16384)
	f, acks := ackServer(t, chunk, chunk, chunk)
	// No idle ACKs: only the threshold can trigger one.
	s, err := f.dialer(func(d *tunnel.Dialer) {
		d.AckIdle = time.Hour
		d.AckThreshold = 32768
	}).Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	io.ReadFull(s, make([]byte, 3*16384))
	select {
	case a := <-acks:
		if a <= 32768 || a > 3*16384 {
			t.Errorf("ACK %d, want above 32768", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ACK after 48 KiB received")
	}
}

func TestWriteBlocksWhenSendBufferFull(t *testing.T) {
	f := newFakeRelay(t)
	f.noAck = true
	const limit = 64 * 1024
	s, err := f.dialer(func(d *tunnel.Dialer) {
		d.SendBufferLimit = limit
		d.CloseTimeout = 50 * time.Millisecond
	}).Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := s.Write(make([]byte, 1<<20))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write error %v, want a timeout while the relay acknowledges nothing", err)
	}
	if n == 0 || n > limit {
		t.Errorf("Write accepted %d bytes with a %d byte limit", n, limit)
	}
}

func TestCloseReportsUnacknowledgedData(t *testing.T) {
	f := newFakeRelay(t)
	f.noAck = true
	s, err := f.dialer(func(d *tunnel.Dialer) {
		d.CloseTimeout = 50 * time.Millisecond
	}).Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	err = s.Close()
	if err == nil || !strings.Contains(err.Error(), "5 written bytes the relay never acknowledged") {
		t.Fatalf("Close = %v, want it to report the 5 unacknowledged bytes", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	// Acknowledged data closes cleanly.
	ok, err := newFakeRelay(t).dialer().Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := ok.Close(); err != nil {
		t.Errorf("Close after the relay acknowledged everything = %v", err)
	}
}

func TestDeadlinesAndIdempotentClose(t *testing.T) {
	f := newFakeRelay(t)
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := s.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline: %v", err)
	}
	// A pending Read is released by a deadline set later.
	done := make(chan error)
	s.SetReadDeadline(time.Time{})
	go func() { _, err := s.Read(make([]byte, 1)); done <- err }()
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := <-done; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("pending Read: %v", err)
	}
	s.SetDeadline(time.Time{})
	if _, err := s.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestCloseFlushesQueuedData(t *testing.T) {
	f := newFakeRelay(t)
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, s)
	data := make([]byte, 1<<20)
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f.mu.Lock()
	es := f.sessions["sid-1"]
	f.mu.Unlock()
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.recvd != uint64(len(data)) {
		t.Errorf("relay received %d of %d bytes before the close", es.recvd, len(data))
	}
	if s.BytesSent() != uint64(len(data)) {
		t.Errorf("BytesSent() = %d", s.BytesSent())
	}
}

func TestDialValidatesTarget(t *testing.T) {
	f := newFakeRelay(t)
	for _, tg := range []tunnel.Target{
		{Zone: "z", Instance: "i", Port: 22},
		{Project: "p", Instance: "i", Port: 22},
		{Project: "p", Zone: "z", Port: 22},
		{Project: "p", Zone: "z", Instance: "i", Port: 0},
		{Project: "p", Zone: "z", Instance: "i", Port: 70000},
	} {
		if _, err := f.dialer().Dial(context.Background(), tg); err == nil {
			t.Errorf("Dial(%+v) succeeded", tg)
		}
	}
	if len(f.seen()) != 0 {
		t.Error("an invalid target reached the relay")
	}
}

func TestConnectTimeoutAndContext(t *testing.T) {
	f := newFakeRelay(t)
	f.script = func(c *websocket.Conn, _ *http.Request) { c.ReadMessage() } // never sends a SID
	_, err := f.dialer(func(d *tunnel.Dialer) { d.ConnectTimeout = 50 * time.Millisecond }).Dial(context.Background(), testTarget)
	if !errors.Is(err, tunnel.ErrConnectTimeout) {
		t.Errorf("Dial error %v, want a connect timeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = f.dialer().Dial(ctx, testTarget)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Dial error %v, want context.Canceled", err)
	}
}

// connectProxy is an HTTP CONNECT proxy that counts the tunnels it opened.
func connectProxy(t *testing.T) (*url.URL, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		n.Add(1)
		w.WriteHeader(http.StatusOK)
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, rw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, &n
}

func TestDialThroughHTTPProxy(t *testing.T) {
	f := newFakeRelay(t)
	proxy, used := connectProxy(t)
	d := f.dialer(func(d *tunnel.Dialer) { d.Proxy = http.ProxyURL(proxy) })
	s, err := d.Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("via proxy"))
	if _, err := io.ReadFull(s, make([]byte, 9)); err != nil {
		t.Fatal(err)
	}
	if used.Load() != 1 {
		t.Errorf("proxy opened %d tunnels, want 1", used.Load())
	}
}

func TestWriteAfterRelayEndedFails(t *testing.T) {
	f := newFakeRelay(t)
	f.script = func(c *websocket.Conn, _ *http.Request) {
		send(c, tunnel.AppendConnectSuccessSID(nil, "s1"))
		closeWith(c, tunnel.CloseDestinationReadFailed, "destination read failed")
		c.ReadMessage()
	}
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := io.ReadAll(s); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("too late")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Write after the relay ended: %v", err)
	}
}

// A close code that arrives while the client is busy writing still decides
// the session's fate (writes fail once the close handshake began).
func TestFatalCloseWhileWriting(t *testing.T) {
	for range 5 {
		f := newFakeRelay(t)
		f.script = func(c *websocket.Conn, r *http.Request) {
			if r.URL.Path != "/v4/connect" {
				closeWith(c, 4047, "")
				return
			}
			send(c, tunnel.AppendConnectSuccessSID(nil, "s1"))
			readFrame(c)
			closeWith(c, tunnel.CloseSIDUnknown, "")
			for {
				if _, err := readFrame(c); err != nil {
					return
				}
			}
		}
		s, err := f.dialer().Dial(context.Background(), testTarget)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := s.Write(buf); err != nil {
					return
				}
			}
		}()
		_, err = io.ReadAll(s)
		var ce *tunnel.CloseError
		if !errors.As(err, &ce) || ce.Code != tunnel.CloseSIDUnknown || s.Reconnects() != 0 {
			t.Fatalf("error %v after %d reconnects, want close 4001 and no resume", err, s.Reconnects())
		}
		s.Close()
	}
}

// After a partial RECONNECT_SUCCESS_ACK the client resends exactly the
// unacknowledged bytes, splitting its queued message.
func TestResumeResendsFromPartialAck(t *testing.T) {
	f := newFakeRelay(t)
	resent := make(chan string, 1)
	f.script = func(c *websocket.Conn, r *http.Request) {
		if r.URL.Path == "/v4/connect" {
			send(c, tunnel.AppendConnectSuccessSID(nil, "s1"))
			readFrame(c) // "0123456789"
			c.NetConn().Close()
			return
		}
		send(c, tunnel.AppendReconnectSuccessAck(nil, 4))
		var got []byte
		for len(got) < 6 {
			fr, err := readFrame(c)
			if err != nil {
				break
			}
			if fr.Tag == tunnel.TagData {
				got = append(got, fr.Data...)
			}
		}
		resent <- string(got)
		send(c, tunnel.AppendAck(nil, 10))
		closeWith(c, 1000, "")
		c.ReadMessage()
	}
	s, err := f.dialer().Dial(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("0123456789"))
	if got := <-resent; got != "456789" {
		t.Errorf("resent %q after RECONNECT_SUCCESS_ACK(4), want %q", got, "456789")
	}
	if _, err := io.ReadAll(s); err != nil {
		t.Errorf("end of stream: %v", err)
	}
}

func TestResumeGivesUp(t *testing.T) {
	cases := []struct {
		name      string
		reconnect func(c *websocket.Conn)
		status    int
		sentinel  error
	}{
		{"relay forgot the session", func(c *websocket.Conn) { closeWith(c, tunnel.CloseSIDUnknown, "") }, 0, tunnel.ErrSessionLost},
		{"relay unavailable past the reconnect time", nil, 503, tunnel.ErrSessionLost},
		{"permission revoked", nil, 403, tunnel.ErrNotAuthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRelay(t)
			f.script = func(conn *websocket.Conn, r *http.Request) {
				if r.URL.Path == "/v4/connect" {
					send(conn, tunnel.AppendConnectSuccessSID(nil, "s1"))
					conn.NetConn().Close()
					return
				}
				if c.reconnect != nil { // else a reconnect that beat the status change: drop it
					c.reconnect(conn)
					conn.ReadMessage()
				}
			}
			d := f.dialer(func(d *tunnel.Dialer) { d.MaxReconnectTime = 200 * time.Millisecond })
			s, err := d.Dial(context.Background(), testTarget)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f.mu.Lock()
			f.status = c.status // applies to the reconnects only
			f.mu.Unlock()
			_, err = io.ReadAll(s)
			if !errors.Is(err, c.sentinel) {
				t.Errorf("error %v, want %v", err, c.sentinel)
			}
		})
	}
}
