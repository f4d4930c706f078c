package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/endpoint"
	"iapterm/tunnel"
)

const tunnelCmdWorld = `
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
`

var tunnelCmdTarget = tunnel.Target{Project: "tun-ok", Zone: "us-central1-a", Instance: "vm-1", Port: 7}

// serveTCP runs handle for every connection to a new loopback listener
// and returns its address.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
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
			go func() { handle(c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// echoServer is the TCP echo server behind the VM's port 7.
func echoServer(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
}

// byeServer, behind the VM's port 8, writes "bye" and closes.
func byeServer(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) { c.Write([]byte("bye")) })
}

// startTunnelEmu serves tunnelCmdWorld with an echo server on vm-1:7 and
// points the command's credentials at it.
func startTunnelEmu(t *testing.T) (*emulator.Server, endpoint.Endpoints) {
	t.Helper()
	srv, eps := emutest.Start(t, tunnelCmdWorld, emulator.Options{
		Backends: map[string]string{
			"tun-ok/us-central1-a/vm-1:7": echoServer(t),
			"tun-ok/us-central1-a/vm-1:8": byeServer(t),
		},
	})
	t.Setenv("IAPTERM_ACCESS_TOKEN", srv.Token())
	t.Setenv("IAPTERM_ENDPOINT", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	return srv, eps
}

// lockedBuffer is a strings.Builder safe for the command's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type tunnelRun struct {
	port   int
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when the command has returned err
	err    error
}

var listeningLine = regexp.MustCompile(`^Listening on port \[(\d+)\]\.$`)

// runTunnelCmd runs `iapterm tunnel ARGS` in-process. With wantListen it
// waits for the Listening line; otherwise it waits for the command to end
// (see done and err).
func runTunnelCmd(t *testing.T, endpointURL string, wantListen bool, args ...string) *tunnelRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &tunnelRun{stderr: &lockedBuffer{}, cancel: cancel, done: make(chan struct{})}
	root := newRootCmd()
	root.SetOut(pw)
	root.SetErr(r.stderr)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append([]string{"tunnel", "--endpoint", endpointURL}, args...))
	go func() {
		r.err = root.ExecuteContext(ctx)
		pw.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		global = globalFlags{}
	})
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		if wantListen {
			<-r.done
			t.Fatalf("no Listening line: %v; stderr:\n%s", r.err, r.stderr)
		}
		return r
	}
	line := sc.Text()
	go io.Copy(io.Discard, pr)
	m := listeningLine.FindStringSubmatch(line)
	if !wantListen || m == nil {
		t.Fatalf("stdout %q (want Listening: %v); stderr:\n%s", line, wantListen, r.stderr)
	}
	r.port, _ = strconv.Atoi(m[1])
	return r
}

// stop cancels the command as Ctrl-C does and returns its error.
func (r *tunnelRun) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

func echoThrough(t *testing.T, addr, msg string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo through %s: %q, %v", addr, got, err)
	}
	return c
}

// TestTunnelLocalHostPortForms: the forms gcloud accepts bind where the
// user asked; loopback unless a non-loopback address is written out.
func TestTunnelLocalHostPortForms(t *testing.T) {
	srv, _ := startTunnelEmu(t)
	free := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	fixed := free()
	for _, tc := range []struct {
		value    string
		bindIP   string // the address the port must be bound on
		port     int    // 0: any
		warnWide bool
	}{
		{value: "localhost:0", bindIP: "127.0.0.1"},
		{value: "127.0.0.1:0", bindIP: "127.0.0.1"},
		{value: ":" + strconv.Itoa(fixed), bindIP: "127.0.0.1", port: fixed},
		{value: "[::1]:0", bindIP: "::1"},
		{value: "0.0.0.0:0", bindIP: "0.0.0.0", warnWide: true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			args := []string{"vm-1", "7", "--project", "tun-ok", "--zone", "us-central1-a", "--local-host-port", tc.value}
			if tc.bindIP == "::1" {
				ln, err := net.Listen("tcp", "[::1]:0")
				if err != nil {
					t.Logf("no IPv6 loopback here (%v): checking only that the error is clear", err)
					r := runTunnelCmd(t, srv.Endpoint(), false, args...)
					if <-r.done; r.err == nil || !strings.Contains(r.err.Error(), "--local-host-port") {
						t.Errorf("error %v, want one naming --local-host-port", r.err)
					}
					return
				}
				ln.Close()
			}
			r := runTunnelCmd(t, srv.Endpoint(), true, args...)
			if tc.port != 0 && r.port != tc.port {
				t.Errorf("listening on port %d, want %d", r.port, tc.port)
			}
			addr := net.JoinHostPort(tc.bindIP, strconv.Itoa(r.port))
			if tc.bindIP == "0.0.0.0" {
				addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
			}
			c := echoThrough(t, addr, "hello "+tc.value)
			c.Close()
			if tc.bindIP != "0.0.0.0" {
				// Loopback only: another local address of this machine
				// must not reach the port.
				if ip := nonLoopbackIP(); ip != "" {
					if c, err := net.Dial("tcp", net.JoinHostPort(ip, strconv.Itoa(r.port))); err == nil {
						c.Close()
						t.Errorf("%s reached the tunnel listening on %s", ip, tc.value)
					}
				}
			}
			warned := strings.Contains(r.stderr.String(), "other machines")
			if warned != tc.warnWide {
				t.Errorf("warning about other machines = %v, want %v; stderr:\n%s", warned, tc.warnWide, r.stderr)
			}
			if err := r.stop(); err != nil {
				t.Errorf("exit after Ctrl-C: %v", err)
			}
		})
	}
}

// nonLoopbackIP is an IPv4 address of this machine other than loopback,
// or "" when there is none.
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestTunnelBadLocalHostPort: a bad value is named as the flag's, and is
// reported before anything is dialled.
func TestTunnelBadLocalHostPort(t *testing.T) {
	srv, _ := startTunnelEmu(t)
	for _, v := range []string{"nonsense", "localhost:99999", "localhost:http", "[::1:0"} {
		t.Run(v, func(t *testing.T) {
			r := runTunnelCmd(t, srv.Endpoint(), false, "vm-1", "7", "--project", "tun-ok", "--zone", "us-central1-a",
				"--local-host-port", v)
			<-r.done
			if err := r.err; err == nil || !strings.Contains(err.Error(), "--local-host-port") || !strings.Contains(err.Error(), v) {
				t.Errorf("error %v, want one naming --local-host-port and %q", err, v)
			}
			if strings.Contains(r.stderr.String(), "Testing if tunnel connection works.") {
				t.Error("the connection was tested before the flag was checked")
			}
		})
	}
}

// TestTunnelCtrlCWithOpenConnections: Ctrl-C (or SIGTERM, which main turns
// into the same cancellation) counts the open connections and exits 0.
func TestTunnelCtrlCWithOpenConnections(t *testing.T) {
	srv, _ := startTunnelEmu(t)
	r := runTunnelCmd(t, srv.Endpoint(), true, "vm-1", "7", "--project", "tun-ok", "--zone", "us-central1-a")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	a := echoThrough(t, addr, "one")
	defer a.Close()
	b := echoThrough(t, addr, "two")
	defer b.Close()
	if err := r.stop(); err != nil {
		t.Fatalf("exit after Ctrl-C: %v", err)
	}
	stderr := r.stderr.String()
	if !strings.HasPrefix(stderr, "Testing if tunnel connection works.\n") {
		t.Errorf("stderr does not start with the connection test line:\n%s", stderr)
	}
	if !regexp.MustCompile(`Closed \[2\] local connection\(s\)\.\n$`).MatchString(stderr) {
		t.Errorf("stderr does not end with the Closed line for the open connections:\n%s", stderr)
	}
	for _, c := range []net.Conn{a, b} {
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a local connection survived Ctrl-C")
		}
	}
}

// TestTunnelStdioUndeliveredDataFails: when stdin ends but the relay never
// acknowledges what was read from it, the command must not report success.
func TestTunnelStdioUndeliveredDataFails(t *testing.T) {
	srv, eps := startTunnelEmu(t)
	d := &tunnel.Dialer{
		Endpoints:        eps,
		Tokens:           oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()}),
		CloseTimeout:     50 * time.Millisecond,
		MaxReconnectTime: time.Hour,
		Backoff:          func(int) time.Duration { return 10 * time.Millisecond },
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- tunnelStdio(context.Background(), d, tunnelCmdTarget, inR, outW) }()
	inW.Write([]byte("ping"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(outR, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo over stdio: %q, %v", got, err)
	}
	go io.Copy(io.Discard, outR)
	srv.Close() // the relay is gone: nothing more is acknowledged
	inW.Write([]byte("lost in flight"))
	inW.Close()
	err := <-done
	// "ping" may or may not have been acknowledged before the relay went.
	if err == nil || !regexp.MustCompile(`^(14|18) bytes read from stdin did not reach port 7 of instance vm-1`).MatchString(err.Error()) {
		t.Fatalf("tunnelStdio = %v, want an error about the undelivered bytes", err)
	}
}

// TestTunnelStdioRemoteEnd: the VM closing its side ends the command with
// success once every byte reached stdout, while stdin is still open.
func TestTunnelStdioRemoteEnd(t *testing.T) {
	srv, eps := startTunnelEmu(t)
	d := &tunnel.Dialer{Endpoints: eps, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()})}
	var out lockedBuffer
	in, inW := io.Pipe()
	defer inW.Close()
	bye := tunnelCmdTarget
	bye.Port = 8
	if err := tunnelStdio(context.Background(), d, bye, in, &out); err != nil {
		t.Fatalf("tunnelStdio after the VM closed: %v", err)
	}
	if out.String() != "bye" {
		t.Errorf("stdout %q, want %q", out.String(), "bye")
	}
}

// TestTunnelStdioLocalEOF: stdin's EOF delivers everything read before it
// and ends the command with success.
func TestTunnelStdioLocalEOF(t *testing.T) {
	srv, eps := startTunnelEmu(t)
	d := &tunnel.Dialer{Endpoints: eps, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()})}
	var out lockedBuffer
	in := strings.NewReader(strings.Repeat("x", 100000))
	if err := tunnelStdio(context.Background(), d, tunnelCmdTarget, in, &out); err != nil {
		t.Fatalf("tunnelStdio after stdin's EOF: %v", err)
	}
	// The session ends once the relay acknowledged every byte; the echo
	// still in flight back may be cut, never corrupted.
	if got := out.String(); strings.Trim(got, "x") != "" {
		t.Errorf("stdout got %d bytes that are not the echo", len(got))
	}
}

// TestTunnelStdinWithLocalHostPort: the two ways to serve the tunnel do not
// mix; the flag that would be ignored is an error, as in gcloud.
func TestTunnelStdinWithLocalHostPort(t *testing.T) {
	srv, _ := startTunnelEmu(t)
	r := runTunnelCmd(t, srv.Endpoint(), false, "vm-1", "7", "--project", "tun-ok", "--zone", "us-central1-a",
		"--listen-on-stdin", "--local-host-port", "localhost:2222")
	<-r.done
	if r.err == nil || !strings.Contains(r.err.Error(), "local-host-port") || !strings.Contains(r.err.Error(), "listen-on-stdin") {
		t.Fatalf("error %v, want one naming --listen-on-stdin and --local-host-port", r.err)
	}
}
