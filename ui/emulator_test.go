package ui

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui/backend"
	"iapterm/ui/tunnels"
)

// demoHarness drives the UI against the in-process emulator's demo world
// through the real projects client and tunnel pool.
func demoHarness(t *testing.T) *harness {
	t.Helper()
	srv, eps := emutest.Serve(t, world.Demo(), emulator.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token(), TokenType: "Bearer"})
	client, err := projects.NewClient(ctx, eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: ts}
	pool := tunnel.NewPool(d)
	t.Cleanup(func() { pool.Close() })
	list, err := client.SearchProjects(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	h := &harness{t: t}
	h.m = New(ctx, Options{
		Backend:       backend.New(client, pool, d, false),
		StatePath:     filepath.Join(t.TempDir(), "ui-state.json"),
		Projects:      ids,
		Now:           func() time.Time { return fixedNow },
		Account:       srv.Cloud().DefaultUser().Email,
		AccountSource: "IAPTERM_ACCESS_TOKEN",
		Endpoint:      "emulator",
	})
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.run(h.m.Init())
	return h
}

// The explorer of the demo world, loaded through the real projects client.
func TestGoldenDemoWorld(t *testing.T) {
	h := demoHarness(t)
	h.m.Explorer().Select("i:acme-prod/us-central1-a/web-1")
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	scr := h.screen()
	// Instance IDs and timestamps come from the emulator; blank them so
	// the golden file holds only what the world file fixes.
	varies := regexp.MustCompile(`((?:ID|Created|Last start) +)([^│]*)`)
	scr = varies.ReplaceAllStringFunc(scr, func(s string) string {
		m := varies.FindStringSubmatch(s)
		v := []rune("<varies>")
		for len(v) < len([]rune(m[2])) {
			v = append(v, ' ')
		}
		return m[1] + string(v)
	})
	golden.RequireEqual(t, []byte(scr+"\n"))
}

// A tunnel to a demo VM's SSH port (c) opens a pooled tunnel whose traffic
// the panel counts. (enter depends on whether SSH tabs are enabled.)
func TestDemoTunnelCountsBytes(t *testing.T) {
	h := demoHarness(t)
	h.m.Explorer().Select("i:acme-dev/us-east1-b/dev-alice")
	h.key("c")
	m := regexp.MustCompile(`Tunnel open: (127\.0\.0\.1:\d+) → dev-alice:22`).FindStringSubmatch(h.m.notice)
	if m == nil {
		e, _ := h.m.errs.Current()
		t.Fatalf("no tunnel: notice %q, error %v", h.m.notice, e.Err)
	}
	h.key("t")
	c, err := net.DialTimeout("tcp", m[1], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("banner %q, %v", banner, err)
	}
	// The pool counts asynchronously; tick the panel until it shows them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.fire(func(msg tea.Msg) bool { _, ok := msg.(tunnels.TickMsg); return ok })
		list := h.m.tunnels.List()
		if len(list) == 1 && list[0].BytesIn >= int64(len(banner)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bytes never counted: %+v", list)
		}
		h.send(tunnels.TickMsg{})
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(h.screen(), m[1]) {
		t.Fatalf("panel does not show %s:\n%s", m[1], h.screen())
	}
	// Closing from the panel closes the listener.
	h.key("x")
	if n := len(h.m.tunnels.List()); n != 0 {
		t.Fatalf("%d tunnels after close", n)
	}
	if c2, err := net.DialTimeout("tcp", m[1], 2*time.Second); err == nil {
		c2.Close()
		t.Fatal("closed tunnel still listening")
	}
}

// A VM whose firewall does not allow IAP gives the error with its fix.
func TestDemoTunnelErrorHasHint(t *testing.T) {
	h := demoHarness(t)
	h.m.Explorer().Select("i:acme-dev/us-east1-b/no-firewall")
	h.key("c")
	e, ok := h.m.errs.Current()
	if !ok {
		t.Fatalf("no error; notice %q", h.m.notice)
	}
	if !strings.Contains(e.Hint, "35.235.240.0/20") {
		t.Fatalf("error %v, hint %q", e.Err, e.Hint)
	}
}

// The details pane reads the project's metadata from the emulator's
// projects.get: acme-prod turns OS Login on for the project, legacy-app
// turns it off for itself; acme-dev turns it off for the project.
func TestDemoEffectiveOSLogin(t *testing.T) {
	h := demoHarness(t)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 50})
	tests := []struct{ row, osLogin, blockKeys string }{
		{"i:acme-prod/us-central1-a/web-1", "on (project)", "off (default)"},
		{"i:acme-prod/us-central1-a/legacy-app", "off (instance)", "off (default)"},
		{"i:acme-dev/us-east1-b/dev-alice", "off (project)", "off (default)"},
	}
	for _, tc := range tests {
		h.selectRow(tc.row)
		scr := h.screen()
		if got := field(scr, "OS Login"); got != tc.osLogin {
			t.Errorf("%s: OS Login %q, want %q\n%s", tc.row, got, tc.osLogin, scr)
		}
		if got := field(scr, "Block proj keys"); got != tc.blockKeys {
			t.Errorf("%s: block project keys %q, want %q", tc.row, got, tc.blockKeys)
		}
	}
}
