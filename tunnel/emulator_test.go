package tunnel_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/tunnel"
)

// emuWorld: tun-ok works; tun-cond allows port 22 only; tun-nofw has no
// firewall rule for IAP.
const emuWorld = `
users:
  - email: tunnel-user@example.com
projects:
  - id: tun-ok
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: vm-1
        zone: us-central1-a
  - id: tun-cond
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
        condition:
          expression: destination.port == 22
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: vm-win
        zone: us-central1-b
  - id: tun-nofw
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:tunnel-user@example.com]
    instances:
      - name: vm-closed
        zone: us-central1-c
`

var (
	okTarget     = tunnel.Target{Project: "tun-ok", Zone: "us-central1-a", Instance: "vm-1", Port: 7}
	condTarget   = tunnel.Target{Project: "tun-cond", Zone: "us-central1-b", Instance: "vm-win", Port: 3389}
	closedTarget = tunnel.Target{Project: "tun-nofw", Zone: "us-central1-c", Instance: "vm-closed", Port: 22}
)

// echoBackend is a TCP echo server standing behind VM ports.
func echoBackend(t *testing.T) string {
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
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func startEmu(t *testing.T, o emulator.Options) (*emulator.Server, *tunnel.Dialer) {
	t.Helper()
	w, err := world.Parse([]byte(emuWorld), "tunnel-test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	backend := echoBackend(t)
	o.Backends = map[string]string{
		"tun-ok/us-central1-a/vm-1:7":         backend,
		"tun-cond/us-central1-b/vm-win:22":    backend,
		"tun-cond/us-central1-b/vm-win:3389":  backend,
		"tun-nofw/us-central1-c/vm-closed:22": backend,
	}
	srv, eps := emutest.Serve(t, w, o)
	eps.CAFile = srv.CAFile()
	d := &tunnel.Dialer{
		Endpoints:      eps,
		Tokens:         oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()}),
		ConnectTimeout: 20 * time.Second,
		Backoff:        func(int) time.Duration { return 20 * time.Millisecond },
	}
	return srv, d
}

func TestEmulatorEchoWithDrops(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := "ws"
		if tls {
			name = "wss"
		}
		t.Run(name, func(t *testing.T) {
			_, d := startEmu(t, emulator.Options{DropEvery: 256 << 10, TLS: tls})
			s, err := d.Dial(context.Background(), okTarget)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, 3<<20)
			rand.Read(data)
			if pumpBoth(t, s, data) != sha256.Sum256(data) {
				t.Fatal("echo through the emulator differs")
			}
			if s.Reconnects() == 0 {
				t.Error("no reconnects with a drop every 256 KiB")
			}
		})
	}
}

func TestEmulatorInjectedCloses(t *testing.T) {
	cases := []struct {
		code     int
		resumes  bool
		sentinel error
	}{
		{4000, true, nil},
		{4004, true, nil},
		{4013, true, nil},
		{4001, false, tunnel.ErrSessionLost},
		{4033, false, tunnel.ErrNotAuthorized},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("close %d", c.code), func(t *testing.T) {
			_, d := startEmu(t, emulator.Options{InjectClose: c.code})
			s, err := d.Dial(context.Background(), okTarget)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, 200<<10)
			rand.Read(data)
			go s.Write(data)
			got, err := io.ReadAll(io.LimitReader(s, int64(len(data))))
			if c.resumes {
				if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
					t.Fatalf("after close %d: %d bytes, %v", c.code, len(got), err)
				}
				if s.Reconnects() != 1 {
					t.Errorf("Reconnects() = %d", s.Reconnects())
				}
				return
			}
			if err == nil {
				t.Fatalf("all %d bytes came back although the relay closed with %d", len(got), c.code)
			}
			var ce *tunnel.CloseError
			if !errors.Is(err, c.sentinel) || !errors.As(err, &ce) || ce.Code != c.code {
				t.Errorf("after close %d: error %v", c.code, err)
			}
		})
	}
}

func TestEmulatorConnectErrors(t *testing.T) {
	_, d := startEmu(t, emulator.Options{})
	ctx := context.Background()

	_, err := d.Dial(ctx, condTarget)
	if !errors.Is(err, tunnel.ErrNotAuthorized) || !strings.Contains(err.Error(), "roles/iap.tunnelResourceAccessor") || !strings.Contains(err.Error(), "port 3389") {
		t.Errorf("IAM condition excluding 3389: %v", err)
	}
	allowed := condTarget
	allowed.Port = 22
	if err := d.Probe(ctx, allowed); err != nil {
		t.Errorf("IAM condition allowing 22: %v", err)
	}

	_, err = d.Dial(ctx, closedTarget)
	if !errors.Is(err, tunnel.ErrBackendUnreachable) || !strings.Contains(err.Error(), "--rules=tcp:22 --source-ranges=35.235.240.0/20") {
		t.Errorf("no firewall rule: %v", err)
	}

	missing := okTarget
	missing.Instance = "vm-nope"
	if _, err = d.Dial(ctx, missing); !errors.Is(err, tunnel.ErrInstanceNotFound) {
		t.Errorf("unknown instance: %v", err)
	}

	bad := &tunnel.Dialer{Endpoints: d.Endpoints, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "not-a-token"})}
	_, err = bad.Dial(ctx, okTarget)
	if !errors.Is(err, tunnel.ErrTokenRejected) || strings.Contains(err.Error(), "not-a-token") {
		t.Errorf("invalid token: %v", err)
	}
}

func TestEmulatorExpiredToken(t *testing.T) {
	_, d := startEmu(t, emulator.Options{TokenTTL: time.Millisecond})
	time.Sleep(10 * time.Millisecond)
	if _, err := d.Dial(context.Background(), okTarget); !errors.Is(err, tunnel.ErrTokenRejected) {
		t.Errorf("expired token: %v", err)
	}
}

func TestEmulatorHTTP403BeforeUpgrade(t *testing.T) {
	_, d := startEmu(t, emulator.Options{DenyBeforeUpgrade: true})
	_, err := d.Dial(context.Background(), condTarget)
	if !errors.Is(err, tunnel.ErrNotAuthorized) || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("403 before upgrade: %v", err)
	}
}

func TestEmulatorListenerRecordsConnectionErrors(t *testing.T) {
	_, d := startEmu(t, emulator.Options{})
	var reported []error
	var mu sync.Mutex
	l, err := tunnel.Listen(context.Background(), d, condTarget, "localhost:0", tunnel.ListenOptions{
		OnConnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// The connection is refused by IAM, so the listener closes it.
	if _, err := io.ReadAll(c); err != nil {
		t.Logf("local read: %v", err)
	}
	c.Close()
	eventually(t, func() bool { return strings.Contains(l.Stats().LastError, "4033") },
		func() string { return fmt.Sprintf("stats %+v", l.Stats()) })
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], tunnel.ErrNotAuthorized) {
		t.Errorf("OnConnError got %v", reported)
	}
}

func TestEmulatorPoolEcho(t *testing.T) {
	_, d := startEmu(t, emulator.Options{DropEvery: 64 << 10})
	p := tunnel.NewPool(d)
	defer p.Close()
	tn, err := p.Acquire(context.Background(), okTarget, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	c, err := net.Dial("tcp", tn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 1<<20)
	rand.Read(data)
	if pumpBoth(t, c, data) != sha256.Sum256(data) {
		t.Fatal("echo through a pooled tunnel differs")
	}
	eventually(t, func() bool {
		st := tn.Stats()
		return st.BytesIn == int64(len(data)) && st.BytesOut == int64(len(data))
	}, func() string { return fmt.Sprintf("stats %+v", tn.Stats()) })
}

// BenchmarkEmulatorListener copies through a local listener, the emulator's
// relay and a backend that discards: the whole path of `iapterm tunnel`.
func BenchmarkEmulatorListener(b *testing.B) {
	for _, dir := range []string{"upload", "download"} {
		b.Run(dir, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						if dir == "upload" {
							io.Copy(io.Discard, c)
						} else {
							io.Copy(c, zeroReader{})
						}
					}()
				}
			}()
			w, err := world.Parse([]byte(emuWorld), "bench.yaml")
			if err != nil {
				b.Fatal(err)
			}
			srv, err := emulator.Start(w, emulator.Options{Backends: map[string]string{"tun-ok/us-central1-a/vm-1:7": ln.Addr().String()}})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			eps, _ := endpoint.Parse(srv.Endpoint())
			d := &tunnel.Dialer{Endpoints: eps, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()})}
			l, err := tunnel.Listen(context.Background(), d, okTarget, "localhost:0", tunnel.ListenOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if dir == "upload" {
					_, err = c.Write(buf)
				} else {
					_, err = io.ReadFull(c, buf)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
