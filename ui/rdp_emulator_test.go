package ui

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
	"iapterm/ui/backend"
	"iapterm/ui/common"
	"iapterm/ui/rdpdialog"
)

const rdpDemoVM = "i:acme-dev/us-east1-b/dev-win"

// rdpDemoHarness drives the UI against the in-process emulator's demo
// world with the real RDP backend (projects client, tunnel pool).
func rdpDemoHarness(t *testing.T, backends map[string]string, find func(context.Context, rdp.FindOptions) (rdp.Client, error)) (*harness, *projects.Client, *tunnel.Pool) {
	t.Helper()
	srv, eps := emutest.Serve(t, world.Demo(), emulator.Options{AgentDelay: 20 * time.Millisecond, Backends: backends})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token(), TokenType: "Bearer"})
	client, err := projects.NewClient(ctx, eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: ts}
	pool := tunnel.NewPool(d)
	email := srv.Cloud().DefaultUser().Email
	rb := &backend.RDP{Cloud: client, Pool: pool, Prober: d, Email: email, Find: find, PollInterval: 10 * time.Millisecond, Timeout: 30 * time.Second, LogDir: t.TempDir()}
	t.Cleanup(func() { rb.Close(); pool.Close() })
	be := backend.New(client, pool, d, false)
	be.RDP = rb
	h := &harness{t: t}
	h.m = New(ctx, Options{
		Backend:   be,
		StatePath: filepath.Join(t.TempDir(), "ui-state.json"),
		Projects:  []string{"acme-dev"},
		Now:       func() time.Time { return fixedNow },
		Account:   email,
	})
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.run(h.m.Init())
	h.selectRow(rdpDemoVM)
	return h, client, pool
}

// Windows credentials through the dialog flow and the emulator's guest
// agent: the password shown is the one the agent set, decrypted.
func TestRDPCredentialsThroughEmulatorAgent(t *testing.T) {
	h, client, _ := rdpDemoHarness(t, nil, nil)
	h.key("w")
	p := credsPanel(t, h)
	for range 20 {
		h.key("backspace")
	}
	h.typeText("alice")
	h.key("enter", "y")
	if p.Step() != rdpdialog.StepResult {
		t.Fatalf("step %v:\n%s", p.Step(), h.screen())
	}
	scr := h.screen()
	i := strings.Index(scr, "Password: ")
	if i < 0 {
		t.Fatalf("no password:\n%s", scr)
	}
	pw := strings.Fields(scr[i+len("Password: "):])[0]
	if len(pw) < 15 {
		t.Fatalf("password %d characters", len(pw))
	}
	in, err := client.Instance(context.Background(), "acme-dev", "us-east1-b", "dev-win")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(in.Metadata[rdp.WindowsKeysKey], `"userName":"alice"`) {
		t.Fatalf("windows-keys = %q", in.Metadata[rdp.WindowsKeysKey])
	}
	h.key("esc")
	if h.m.overlay != overlayNone || strings.Contains(p.View(), pw) {
		t.Fatal("the panel kept the password after closing")
	}
}

// A fake FreeRDP started detached on a real tunnel: it reaches the VM's
// RDP port through the relay while the explorer keeps working, and its
// exit releases the tunnel.
func TestRDPLaunchThroughEmulatorTunnel(t *testing.T) {
	// Launch refuses FreeRDP without a display; the fake needs none.
	t.Setenv("DISPLAY", ":0")
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	dir := t.TempDir()
	script := filepath.Join(dir, "xfreerdp")
	body := "#!/bin/bash\n" +
		"D='" + dir + "'\n" +
		`printf '%s\n' "$@" > "$D/argv"
for a in "$@"; do case "$a" in /v:*) addr="${a#/v:}";; esac; done
exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" || exit 7
printf 'rdp-hello\n' >&3
read -r line <&3
printf '%s\n' "$line" > "$D/echoed"
while [ ! -e "$D/stop" ]; do sleep 0.05; done
exit 0
`
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	find := func(context.Context, rdp.FindOptions) (rdp.Client, error) {
		return rdp.Client{Kind: rdp.FreeRDP, Path: script, Major: 2, Version: "2.11.7"}, nil
	}
	h, _, pool := rdpDemoHarness(t, map[string]string{"acme-dev/us-east1-b/dev-win:3389": echo.Addr().String()}, find)

	_, cmd := h.m.Update(keyMsg("enter"))
	msg := exec1(t, cmd)
	started, ok := msg.(rdpdialog.StartedMsg)
	if !ok {
		if e, ok := msg.(common.ErrorRaisedMsg); ok {
			t.Fatalf("enter did not start the client: %v", e.Err)
		}
		t.Fatalf("enter did not start the client: %#v", msg)
	}
	_, wait := h.m.Update(started)
	waitFile(t, filepath.Join(dir, "echoed"))
	if b, _ := os.ReadFile(filepath.Join(dir, "echoed")); strings.TrimSpace(string(b)) != "rdp-hello" {
		t.Fatalf("through the tunnel came %q", b)
	}
	if argv, _ := os.ReadFile(filepath.Join(dir, "argv")); !strings.Contains(string(argv), "/v:"+started.Session.Addr) {
		t.Fatalf("argv %q, tunnel %s", argv, started.Session.Addr)
	}
	if n := len(pool.List()); n != 1 || !strings.Contains(h.screen(), "●") {
		t.Fatalf("tunnels %d; screen:\n%s", n, h.screen())
	}
	h.key("up", "down")
	if r, _ := h.m.Explorer().Selected(); r.Key() != rdpDemoVM {
		t.Fatal("navigation broke while the client runs")
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.send(exec1(t, wait))
	if len(pool.List()) != 0 {
		t.Fatalf("tunnel still open after the client exited: %+v", pool.List())
	}
	if !strings.Contains(h.m.notice, "RDP to dev-win ended") || h.m.noticeErr {
		t.Fatalf("notice %q", h.m.notice)
	}
}

// waitFile waits for the fake client to write path (it runs as its own
// process, so there is nothing to synchronise on but the file).
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within 20s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
