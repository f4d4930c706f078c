package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/tunnel"
)

func start(t *testing.T, o Options) (*Server, endpoint.Endpoints) {
	t.Helper()
	if o.AgentDelay == 0 {
		o.AgentDelay = -1
	}
	s, err := Start(demoWorld(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, endpointsOf(t, s)
}

func demoWorld() *world.World { return world.Demo() }

func endpointsOf(t testing.TB, s *Server) endpoint.Endpoints {
	t.Helper()
	ep, err := endpoint.Parse(s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ep.CAFile = s.CAFile()
	return ep
}

func dialer(ep endpoint.Endpoints, token string) *tunnel.Dialer {
	return &tunnel.Dialer{Endpoints: ep, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
}

// sshBanner reads the first line a session's backend sends.
func sshBanner(t *testing.T, d *tunnel.Dialer, target tunnel.Target) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := d.Dial(ctx, target)
	if err != nil {
		t.Fatalf("dial %s: %v", target, err)
	}
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(s).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the banner of %s: %v", target, err)
	}
	return line
}

var devAlice = tunnel.Target{Project: "acme-dev", Zone: "us-east1-b", Instance: "dev-alice", Port: 22}

func TestStartServesRelayAndAPI(t *testing.T) {
	s, ep := start(t, Options{})
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") || s.CAFile() != "" || s.Token() == "" {
		t.Fatalf("endpoint %q ca %q", s.Endpoint(), s.CAFile())
	}
	if b := sshBanner(t, dialer(ep, s.Token()), devAlice); !strings.HasPrefix(b, "SSH-2.0-") {
		t.Fatalf("banner %q", b)
	}
	// The control plane shares the address.
	req, _ := http.NewRequest("GET", s.Endpoint()+"/oauth2/v2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct{ Email string }
	json.NewDecoder(resp.Body).Decode(&info)
	if resp.StatusCode != 200 || info.Email != "demo@example.com" {
		t.Fatalf("userinfo: %d %+v", resp.StatusCode, info)
	}
	ops, err := s.TokenFor("ops@example.com")
	if err != nil || ops == s.Token() {
		t.Fatalf("TokenFor: %v", err)
	}
	if _, err := s.TokenFor("nobody@example.com"); err == nil {
		t.Fatal("token for a stranger")
	}
}

func TestTLS(t *testing.T) {
	s, ep := start(t, Options{TLS: true})
	if !strings.HasPrefix(s.Endpoint(), "https://127.0.0.1:") || s.CAFile() == "" {
		t.Fatalf("endpoint %q ca %q", s.Endpoint(), s.CAFile())
	}
	if b := sshBanner(t, dialer(ep, s.Token()), devAlice); !strings.HasPrefix(b, "SSH-2.0-") {
		t.Fatalf("banner over wss: %q", b)
	}
	c, err := ep.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(s.Endpoint() + "/v4/connect")
	if err != nil {
		t.Fatalf("https with the CA file: %v", err)
	}
	resp.Body.Close()
	// Without the CA the certificate is not trusted.
	if _, err := http.Get(s.Endpoint() + "/v4/connect"); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	ca := s.CAFile()
	s.Close()
	if _, err := os.Stat(ca); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("CA file left behind: %v", err)
	}
}

func TestDemoWorldSemantics(t *testing.T) {
	s, ep := start(t, Options{})
	d := dialer(ep, s.Token())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		target tunnel.Target
		code   int
	}{
		{tunnel.Target{Project: "acme-analytics", Zone: "us-central1-a", Instance: "analytics-win", Port: 3389}, 4033},
		{tunnel.Target{Project: "acme-dev", Zone: "us-east1-b", Instance: "no-firewall", Port: 22}, 4003},
		{tunnel.Target{Project: "acme-prod", Zone: "europe-west1-b", Instance: "batch-1", Port: 22}, 4003},
		{tunnel.Target{Project: "acme-prod", Zone: "us-central1-a", Instance: "win-ad-1", Port: 3389}, 4003},
		{tunnel.Target{Project: "acme-prod", Zone: "us-central1-a", Instance: "ghost", Port: 22}, 4047},
	}
	for _, tt := range tests {
		_, err := d.Dial(ctx, tt.target)
		if err == nil || !strings.Contains(err.Error(), itoa(tt.code)) {
			t.Errorf("%s: %v, want close %d", tt.target, err, tt.code)
		}
	}
	// Port 22 of the conditionally granted project works (shared VPC).
	etl := tunnel.Target{Project: "acme-analytics", Zone: "us-central1-a", Instance: "etl-1", Port: 22}
	if b := sshBanner(t, d, etl); !strings.HasPrefix(b, "SSH-2.0-") {
		t.Fatalf("etl-1 banner %q", b)
	}
	// Through a group binding.
	web := tunnel.Target{Project: "acme-prod", Zone: "us-central1-a", Instance: "web-1", Port: 22}
	if b := sshBanner(t, d, web); !strings.HasPrefix(b, "SSH-2.0-") {
		t.Fatalf("web-1 banner %q", b)
	}
}

// echoServer listens on loopback and echoes every connection until the
// test ends; it returns the address.
func echoServer(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestResumeThroughDrops pushes data through the real tunnel client while
// the relay drops the connection every 64 KiB.
func TestResumeThroughDrops(t *testing.T) {
	echoAddr := echoServer(t)
	s, ep := start(t, Options{DropEvery: 64 << 10, Backends: map[string]string{"acme-dev/us-east1-b/dev-alice:7": echoAddr}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := devAlice
	target.Port = 7
	sess, err := dialer(ep, s.Token()).Dial(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := sess.Write(data)
		errc <- err
	}()
	got := make([]byte, len(data))
	sess.SetReadDeadline(time.Now().Add(50 * time.Second))
	if _, err := io.ReadFull(sess, got); err != nil {
		t.Fatalf("read after %d reconnects: %v", sess.Reconnects(), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs after resumes")
	}
	if sess.Reconnects() == 0 {
		t.Fatal("no reconnects with drop-every")
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(world.Demo(), Options{Backends: map[string]string{"acme-dev/us-east1-b/ghost:22": "127.0.0.1:1"}}); err == nil {
		t.Fatal("backend for a missing VM accepted")
	}
	s, _ := start(t, Options{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.Endpoint(), "http://"))
	_, err := Start(world.Demo(), Options{Listen: "127.0.0.1:" + port})
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("busy port: %v", err)
	}
}

// -v logs each request with its answer, so a failing client call can be
// read off the log; a tunnel still upgrades through the logging.
func TestVerboseLogHasStatus(t *testing.T) {
	lines := &lineLog{c: make(chan string, 1000)}
	log := slog.New(slog.NewTextHandler(lines, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, ep := start(t, Options{Logger: log})
	resp, err := http.Get(s.Endpoint() + "/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l := lines.next("path=/v1/projects"); !strings.Contains(l, "status=401") {
		t.Errorf("no status for the refused call: %s", l)
	}
	if b := sshBanner(t, dialer(ep, s.Token()), devAlice); !strings.HasPrefix(b, "SSH-2.0-") {
		t.Fatalf("banner %q", b)
	}
	if l := lines.next("path=/v4/connect"); !strings.Contains(l, "status=101") {
		t.Errorf("no 101 for the tunnel: %s", l)
	}
}

// lineLog hands over each log line as it is written: the request line is
// logged once the handler returns, after the client has its answer.
type lineLog struct{ c chan string }

func (l *lineLog) Write(p []byte) (int, error) {
	select {
	case l.c <- string(p):
	default:
	}
	return len(p), nil
}

// next waits for the first line containing s.
func (l *lineLog) next(s string) string {
	for line := range l.c {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
