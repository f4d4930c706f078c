package sessions_test

import (
	"context"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/tunnel"
	"iapterm/ui/backend"
	"iapterm/ui/common"
	"iapterm/ui/sessions"
)

// These tests open real SSH sessions through the in-process emulator: the
// Compute and OS Login APIs, the IAP relay and the simulated guest agent's
// SSH server running a real shell on a PTY.

const testWorld = `
users:
  - email: alice@example.com
    token: tok-alice
    twoFactorCode: "424242"
projects:
  - id: proj-a
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:alice@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp, ports: ["22"]}]
    instances:
      - name: vm-1
        zone: us-central1-a
        backends: {22: builtin-ssh}
  - id: proj-nofw
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:alice@example.com]
    instances:
      - name: vm-walled
        zone: us-central1-a
        backends: {22: builtin-ssh}
  - id: proj-osl
    metadata: {enable-oslogin: "TRUE"}
    iam:
      - role: roles/compute.viewer
        members: [user:alice@example.com]
      - role: roles/compute.osLogin
        members: [user:alice@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:alice@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp, ports: ["22"]}]
    instances:
      - name: vm-2fa
        zone: europe-west1-b
        metadata: {enable-oslogin-2fa: "true"}
        backends: {22: builtin-ssh}
`

type env struct {
	cloud  *projects.Client
	dials  atomic.Int32
	m      *sessions.Model
	opener *backend.SSHSessions
	msgs   chan tea.Msg
	onMsg  func(tea.Msg)
}

func setup(t testing.TB) *env {
	t.Helper()
	_, eps := emutest.Start(t, testWorld, emulator.Options{AgentDelay: 100 * time.Millisecond})
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok-alice"})
	cloud, err := projects.NewClient(context.Background(), eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: ts}
	key, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cloud: cloud, msgs: make(chan tea.Msg, 256)}
	conn := sshgcp.Connector(cloud, d)
	conn.Dialer = sshclient.DialerFunc(func(ctx context.Context, tg sshclient.Target) (net.Conn, error) {
		e.dials.Add(1)
		return sshgcp.Dialer(d).DialSSH(ctx, tg)
	})
	conn.Key = key
	conn.KnownHosts = &sshclient.KnownHosts{Path: filepath.Join(t.TempDir(), "known_hosts")}
	conn.Options.Email = "alice@example.com"
	conn.AgentWait = time.Minute
	opener := backend.NewSSHSessions(conn)
	t.Cleanup(func() { opener.Close() })
	c := &common.Common{Ctx: context.Background(), Width: 80, Height: 25, Styles: common.DefaultStyles()}
	e.opener = opener
	e.m = sessions.New(c, opener)
	t.Cleanup(e.m.CloseAll)
	return e
}

func (e *env) instance(t testing.TB, project, zone, name string) projects.Instance {
	t.Helper()
	inst, err := e.cloud.Instance(context.Background(), project, zone, name)
	if err != nil {
		t.Fatal(err)
	}
	return *inst
}

// run executes cmd in the background, as Bubble Tea does, and queues its
// messages (batches flattened).
func (e *env) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				e.run(c)
			}
			return
		}
		if reflect.ValueOf(msg).IsValid() {
			e.msgs <- msg
		}
	}()
}

// until feeds messages to the model until cond holds; the test's own
// deadline bounds the wait.
func (e *env) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case msg := <-e.msgs:
			if e.onMsg != nil {
				e.onMsg(msg)
			}
			if _, ok := msg.(sessions.FocusExplorerMsg); ok {
				continue
			}
			e.run(e.m.Update(msg))
		case <-time.After(waitLimit):
			screen := ""
			if p := e.m.Pane(e.m.Active()); p != nil {
				screen = p.ScreenText()
			}
			t.Fatalf("gave up waiting for %s; tab status %q; screen:\n%s", what, e.m.Status(e.m.Active()), screen)
		}
	}
}

func (e *env) press(keys ...tea.KeyPressMsg) {
	for _, k := range keys {
		e.run(e.m.Update(k))
	}
}

func typeText(s string) []tea.KeyPressMsg {
	var out []tea.KeyPressMsg
	for _, r := range s {
		if r == '\r' {
			out = append(out, tea.KeyPressMsg{Code: tea.KeyEnter})
			continue
		}
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// waitLimit bounds one wait, so a hang fails with the screen shown.
var waitLimit = 60 * time.Second

var prefix = tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}

func letter(r rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: r, Text: string(r)} }

func screenHas(m *sessions.Model, i int, s string) bool {
	p := m.Pane(i)
	return p != nil && strings.Contains(p.ScreenText(), s)
}

func TestSessionTypeDuplicateExitReconnect(t *testing.T) {
	e := setup(t)
	inst := e.instance(t, "proj-a", "us-central1-a", "vm-1")
	var steps []string
	e.run(e.m.Open(inst))
	e.until(t, "the session to open", func() bool {
		if s := e.m.Status(0); strings.HasPrefix(s, "connecting: ") && (len(steps) == 0 || steps[len(steps)-1] != s) {
			steps = append(steps, s)
		}
		return e.m.Status(0) == "open" || strings.HasPrefix(e.m.Status(0), "the ") || e.m.Pane(0) != nil
	})
	if e.m.Status(0) != "open" {
		t.Fatalf("status %q", e.m.Status(0))
	}
	if len(steps) == 0 {
		t.Error("no progress steps shown while connecting")
	}
	e.press(typeText("echo hello-$((6*7))\r")...)
	e.until(t, "the command's output", func() bool { return screenHas(e.m, 0, "hello-42") })
	if got := e.m.Counts()[inst.Project+"/"+inst.Zone+"/"+inst.Name]; got != 1 {
		t.Errorf("Counts = %d sessions to vm-1, want 1", got)
	}

	// prefix d duplicates: a second tab on the same SSH connection.
	dials := e.dials.Load()
	e.press(prefix, letter('d'))
	e.until(t, "the duplicate to open", func() bool { return e.m.Len() == 2 && e.m.Status(1) == "open" })
	if e.m.Active() != 1 {
		t.Errorf("active tab %d after duplicate, want 1", e.m.Active())
	}
	if n := e.dials.Load() - dials; n != 0 {
		t.Errorf("the duplicate dialed %d more tunnels, want 0 (shared connection)", n)
	}
	e.press(typeText("echo second-$((2*3))\r")...)
	e.until(t, "output in the second tab", func() bool { return screenHas(e.m, 1, "second-6") })
	if screenHas(e.m, 0, "second-6") {
		t.Error("the second tab's output reached the first tab")
	}

	// prefix p goes back to the first tab.
	e.press(prefix, letter('p'))
	e.until(t, "prefix p to switch to the first tab", func() bool { return e.m.Active() == 0 })

	// exit in the first tab: it shows why it closed.
	e.press(typeText("exit 3\r")...)
	e.until(t, "the shell to exit", func() bool { return strings.Contains(e.m.Status(0), "exited") })
	if s := e.m.Status(0); s != "the remote shell exited with status 3" {
		t.Errorf("closed status %q", s)
	}
	if !strings.Contains(e.m.View(), "exited with status 3") || !strings.Contains(e.m.View(), "r reconnect") {
		t.Errorf("closed tab view does not say why or offer reconnect:\n%s", e.m.View())
	}
	// r reconnects in place.
	e.press(letter('r'))
	e.until(t, "the reconnect", func() bool { return e.m.Status(0) == "open" })
	e.press(typeText("echo again-$((1+1))\r")...)
	e.until(t, "output after reconnect", func() bool { return screenHas(e.m, 0, "again-2") })

	// prefix x closes a tab.
	e.press(prefix, letter('x'))
	e.until(t, "prefix x to close the tab", func() bool { return e.m.Len() == 1 })

	// exit 0 closes the tab and reports the end.
	ended := false
	e.onMsg = func(msg tea.Msg) {
		if m, ok := msg.(sessions.EndedMsg); ok && m.Instance.Name == "vm-1" {
			ended = true
		}
	}
	e.press(typeText("exit\r")...)
	e.until(t, "the tab to close after exit", func() bool { return e.m.Len() == 0 && ended })
}

func TestSessionFailureShowsReason(t *testing.T) {
	e := setup(t)
	inst := e.instance(t, "proj-nofw", "us-central1-a", "vm-walled")
	e.run(e.m.Open(inst))
	e.until(t, "the failure", func() bool {
		s := e.m.Status(0)
		return s != "" && !strings.HasPrefix(s, "connecting")
	})
	s := e.m.Status(0)
	if !strings.Contains(strings.ToLower(s), "firewall") {
		t.Errorf("failure reason %q does not point at the firewall", s)
	}
	if !strings.Contains(e.m.View(), "r reconnect") {
		t.Errorf("failed tab does not offer reconnect:\n%s", e.m.View())
	}
}

func TestSessionTwoStepPrompt(t *testing.T) {
	e := setup(t)
	inst := e.instance(t, "proj-osl", "europe-west1-b", "vm-2fa")
	e.run(e.m.Open(inst))
	e.until(t, "the verification prompt", func() bool { return strings.Contains(e.m.View(), "asks") })
	e.press(typeText("424242\r")...)
	e.until(t, "the session to open", func() bool {
		s := e.m.Status(0)
		return s == "open" || (s != "" && !strings.HasPrefix(s, "connecting"))
	})
	if s := e.m.Status(0); s != "open" {
		t.Fatalf("status after answering the prompt: %q", s)
	}
	e.press(typeText("echo 2fa-$((40+2))\r")...)
	e.until(t, "output", func() bool { return screenHas(e.m, 0, "2fa-42") })
}
