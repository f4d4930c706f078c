package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"iapterm/tunnel"
)

func echoOnce(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo through %s = %q, %v", addr, got, err)
	}
}

func TestListenBindsLoopbackOnly(t *testing.T) {
	f := newFakeRelay(t)
	d := f.dialer()
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "example.com:0", "nonsense", "localhost:99999"} {
		if l, err := tunnel.Listen(context.Background(), d, testTarget, addr, tunnel.ListenOptions{}); err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	l, err := tunnel.Listen(context.Background(), d, testTarget, "localhost:0", tunnel.ListenOptions{TestConnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ip := l.Addr().(*net.TCPAddr).IP
	if !ip.Equal(net.IPv4(127, 0, 0, 1)) || l.Port() == 0 {
		t.Errorf("bound %v, want 127.0.0.1 and a real port", l.Addr())
	}
	echoOnce(t, l.Addr().String(), "through the listener")
	echoOnce(t, l.Addr().String(), "again")
	want := int64(len("through the listeneragain"))
	eventually(t, func() bool {
		st := l.Stats()
		return st.TotalConns == 2 && st.ActiveConns == 0 && st.BytesOut == want && st.BytesIn == want
	}, func() string { return fmt.Sprintf("stats %+v", l.Stats()) })
}

// TestListenEmptyHostIsLoopback: ":PORT" means localhost, as in gcloud,
// even when non-loopback addresses are allowed.
func TestListenEmptyHostIsLoopback(t *testing.T) {
	f := newFakeRelay(t)
	for _, allow := range []bool{false, true} {
		opts := tunnel.ListenOptions{AllowNonLoopback: allow}
		if err := tunnel.CheckListenAddr(":0", opts); err != nil {
			t.Errorf("CheckListenAddr(:0, allow %v) = %v", allow, err)
		}
		l, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, ":0", opts)
		if err != nil {
			t.Fatalf("Listen(:0, allow %v) = %v", allow, err)
		}
		if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("Listen(:0, allow %v) bound %v", allow, l.Addr())
		}
		echoOnce(t, l.Addr().String(), "empty host")
		l.Close()
	}
	if err := tunnel.CheckListenAddr("0.0.0.0:0", tunnel.ListenOptions{}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("CheckListenAddr(0.0.0.0:0) without AllowNonLoopback = %v", err)
	}
	if err := tunnel.CheckListenAddr("0.0.0.0:0", tunnel.ListenOptions{AllowNonLoopback: true}); err != nil {
		t.Errorf("CheckListenAddr(0.0.0.0:0) with AllowNonLoopback = %v", err)
	}
	// Asked for, every IPv4 interface; not IPv6's [::] as well.
	l, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, "0.0.0.0:0", tunnel.ListenOptions{AllowNonLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.HasPrefix(l.Addr().String(), "0.0.0.0:") {
		t.Errorf("Listen(0.0.0.0:0) bound %v", l.Addr())
	}
	echoOnce(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Port())), "wide")
}

// TestListenLocalhostBothFamilies: "localhost" (and ":PORT") listen on
// 127.0.0.1 and, where the machine has it, ::1 with the same port, as
// gcloud does; an address written out is bound alone.
func TestListenLocalhostBothFamilies(t *testing.T) {
	f := newFakeRelay(t)
	ipv6 := true
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		ipv6 = false
		t.Logf("no IPv6 loopback here (%v): checking IPv4 alone", err)
	} else {
		ln.Close()
	}
	for _, tc := range []struct {
		addr     string
		v4, v6   bool
		wantAddr string
	}{
		{addr: "localhost:0", v4: true, v6: ipv6, wantAddr: "127.0.0.1"},
		{addr: ":0", v4: true, v6: ipv6, wantAddr: "127.0.0.1"},
		{addr: "127.0.0.1:0", v4: true, wantAddr: "127.0.0.1"},
		{addr: "[::1]:0", v6: true, wantAddr: "::1"},
	} {
		if !ipv6 && !tc.v4 {
			continue
		}
		l, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, tc.addr, tunnel.ListenOptions{})
		if err != nil {
			t.Fatalf("Listen(%s): %v", tc.addr, err)
		}
		if ip := l.Addr().(*net.TCPAddr).IP.String(); ip != tc.wantAddr {
			t.Errorf("Listen(%s).Addr() = %v, want %s", tc.addr, l.Addr(), tc.wantAddr)
		}
		port := strconv.Itoa(l.Port())
		for _, fam := range []struct {
			ip   string
			want bool
		}{{"127.0.0.1", tc.v4}, {"::1", tc.v6}} {
			c, err := net.Dial("tcp", net.JoinHostPort(fam.ip, port))
			if (err == nil) != fam.want {
				t.Errorf("Listen(%s): dialling %s gave %v, want reachable %v", tc.addr, fam.ip, err, fam.want)
			}
			if err == nil {
				c.Close()
				echoOnce(t, net.JoinHostPort(fam.ip, port), "via "+fam.ip)
			}
		}
		l.Close()
		for _, ip := range []string{"127.0.0.1", "::1"} {
			if c, err := net.Dial("tcp", net.JoinHostPort(ip, port)); err == nil {
				c.Close()
				t.Errorf("Listen(%s): %s still accepts after Close", tc.addr, ip)
			}
		}
	}
}

func TestListenBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	f := newFakeRelay(t)
	_, err = tunnel.Listen(context.Background(), f.dialer(), testTarget, "localhost:"+strconv.Itoa(port), tunnel.ListenOptions{})
	if want := fmt.Sprintf("Local port [%d] is not available.", port); err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if !errors.Is(err, tunnel.ErrPortNotAvailable) {
		t.Error("error is not ErrPortNotAvailable")
	}
}

func TestListenConnectionTestFails(t *testing.T) {
	f := newFakeRelay(t)
	f.status = 403
	_, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, "localhost:0", tunnel.ListenOptions{TestConnection: true})
	if !errors.Is(err, tunnel.ErrNotAuthorized) || !strings.Contains(err.Error(), "while checking if a connection can be made") {
		t.Fatalf("error %v", err)
	}
}

func TestListenerCloseCountsActiveConnections(t *testing.T) {
	f := newFakeRelay(t)
	l, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, "localhost:0", tunnel.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "conn %d", i)
		io.ReadFull(c, make([]byte, 6)) // the session is up once the echo is back
		conns = append(conns, c)
	}
	n, _ := l.Close()
	if n != 3 {
		t.Errorf("Close closed %d connections, want 3", n)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a local connection survived the listener's Close")
		}
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("the port still accepts after Close")
	}
}

func TestDefaultLocalPort(t *testing.T) {
	a := tunnel.DefaultLocalPort(testTarget)
	if a != tunnel.DefaultLocalPort(testTarget) {
		t.Fatal("DefaultLocalPort is not stable")
	}
	seen := map[int]bool{}
	for i := range 200 {
		tg := testTarget
		tg.Instance = fmt.Sprintf("vm-%d", i)
		p := tunnel.DefaultLocalPort(tg)
		if p < 10000 || p >= 49000 {
			t.Fatalf("DefaultLocalPort = %d, outside 10000-49000", p)
		}
		seen[p] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct ports for 200 instances", len(seen))
	}
}

func TestPoolSharesAndCountsReferences(t *testing.T) {
	f := newFakeRelay(t)
	p := tunnel.NewPool(f.dialer())
	defer p.Close()
	ctx := context.Background()
	a, err := p.Acquire(ctx, testTarget, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Acquire(ctx, testTarget, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Port() != b.Port() {
		t.Fatalf("same target got ports %d and %d", a.Port(), b.Port())
	}
	other := testTarget
	other.Port = 3389
	c, err := p.Acquire(ctx, other, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port() == a.Port() {
		t.Fatal("different targets share a port")
	}
	echoOnce(t, a.LocalAddr().String(), "pooled")
	eventually(t, func() bool {
		list := p.List()
		return len(list) == 2 && list[0].Key == testTarget.Key() && list[0].Refs == 2 && list[0].TotalConns == 1 &&
			list[0].BytesIn == 6 && list[0].BytesOut == 6 && !list[0].Opened.IsZero() && list[0].LocalAddr == a.LocalAddr().String()
	}, func() string { return fmt.Sprintf("List() = %+v", p.List()) })
	addr := a.LocalAddr().String()
	a.Release()
	a.Release() // a second release of the same handle does nothing
	echoOnce(t, addr, "still open")
	b.Release()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still open after its last release")
	}
	if err := p.CloseTunnel(other.Key()); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", c.LocalAddr().String()); err == nil {
		t.Error("listener still open after CloseTunnel")
	}
	if len(p.List()) != 0 {
		t.Errorf("List() after closing all = %+v", p.List())
	}
	c.Release() // harmless after a force close
	if err := p.CloseTunnel("nope"); err == nil {
		t.Error("CloseTunnel of an unknown key succeeded")
	}
}

func TestPoolDefaultLocalPorts(t *testing.T) {
	f := newFakeRelay(t)
	p := tunnel.NewPool(f.dialer(), tunnel.WithDefaultLocalPorts())
	defer p.Close()
	tg := testTarget
	tg.Instance = "deterministic-port-vm"
	want := tunnel.DefaultLocalPort(tg)
	// Occupy the default port: the pool must fall back to another one in range.
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(want))
	if err == nil {
		defer busy.Close()
	}
	tn, err := p.Acquire(context.Background(), tg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Port() == want || tn.Port() < 10000 || tn.Port() >= 49000 {
		t.Errorf("fallback port %d (default %d busy)", tn.Port(), want)
	}
	tn.Release()
	if busy != nil {
		busy.Close()
	}
	tn, err = p.Acquire(context.Background(), tg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Release()
	if tn.Port() != want {
		t.Errorf("port %d, want the default %d once it is free", tn.Port(), want)
	}
}

// eventually waits for counters updated by other goroutines to settle.
func eventually(t *testing.T, cond func() bool, describe func() string) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal(describe())
}

func TestListenerCloseSemantics(t *testing.T) {
	// The relay ends the stream: the local client gets every byte, then EOF.
	f := newFakeRelay(t)
	f.script = func(c *websocket.Conn, _ *http.Request) {
		send(c, tunnel.AppendConnectSuccessSID(nil, "s1"))
		send(c, tunnel.AppendData(nil, []byte("last words")))
		closeWith(c, tunnel.CloseDestinationReadFailed, "destination read failed")
		c.ReadMessage()
	}
	l, err := tunnel.Listen(context.Background(), f.dialer(), testTarget, "localhost:0", tunnel.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if string(got) != "last words" || err != nil {
		t.Errorf("local client read %q, %v", got, err)
	}

	// The local client closes its side: everything it wrote reaches the
	// relay, then a normal close.
	g := newFakeRelay(t)
	result := make(chan string, 1)
	g.script = func(c *websocket.Conn, _ *http.Request) {
		send(c, tunnel.AppendConnectSuccessSID(nil, "s2"))
		var got []byte
		for {
			fr, err := readFrame(c)
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					result <- fmt.Sprintf("%s|%d", got, ce.Code)
				} else {
					result <- fmt.Sprintf("%s|%v", got, err)
				}
				return
			}
			if fr.Tag == tunnel.TagData {
				got = append(got, fr.Data...)
				send(c, tunnel.AppendAck(nil, uint64(len(got))))
			}
		}
	}
	l2, err := tunnel.Listen(context.Background(), g.dialer(), testTarget, "localhost:0", tunnel.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	c2, err := net.Dial("tcp", l2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("request"))
	c2.(*net.TCPConn).CloseWrite()
	if r := <-result; r != "request|1000" {
		t.Errorf("relay saw %q, want the data and a 1000 close", r)
	}
}
