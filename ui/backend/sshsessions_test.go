package backend_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/tunnel"
	"iapterm/ui/backend"
	"iapterm/ui/sessions"
)

// These tests open SSH tabs' shells through the in-process emulator (APIs,
// IAP relay, guest agent and its SSH server with a real shell) with
// settings from a settings file, as the TUI does.

const sshWorld = `
users:
  - email: alice@example.com
    token: tok-alice
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
        allowed: [{IPProtocol: tcp, ports: ["22", "2222"]}]
    instances:
      - name: vm-plain
        zone: us-central1-a
        backends: {22: builtin-ssh}
      - name: vm-custom
        zone: us-central1-a
        backends: {22: builtin-ssh}
      - name: vm-port
        zone: us-central1-a
        backends: {2222: builtin-ssh}
`

// sshSettingsFile gives vm-custom its own user and key type and vm-port
// its own port, as a user would in the settings view.
const sshSettingsFile = `
[instance."proj-a/us-central1-a/vm-custom".ssh]
user = "deploy"
key_type = "ecdsa-p256"

[instance."vm-port".ssh]
port = 2222
`

type sshEnv struct {
	cloud  *projects.Client
	dialer *tunnel.Dialer
	dials  atomic.Int32
	opener *backend.SSHSessions
	config string // settings file path
	keyDir string
	khPath string
}

func startSSHEnv(t *testing.T) *sshEnv {
	t.Helper()
	_, eps := emutest.Start(t, sshWorld, emulator.Options{AgentDelay: 100 * time.Millisecond})
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok-alice"})
	cloud, err := projects.NewClient(context.Background(), eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &sshEnv{cloud: cloud, dialer: &tunnel.Dialer{Endpoints: eps, Tokens: ts},
		config: filepath.Join(dir, "config.toml"), keyDir: filepath.Join(dir, "keys"), khPath: filepath.Join(dir, "known_hosts")}
	e.writeConfig(t, sshSettingsFile)
	conn := sshgcp.Connector(cloud, e.dialer)
	conn.Dialer = sshclient.DialerFunc(func(ctx context.Context, tg sshclient.Target) (net.Conn, error) {
		e.dials.Add(1)
		return sshgcp.Dialer(e.dialer).DialSSH(ctx, tg)
	})
	conn.KnownHosts = &sshclient.KnownHosts{Path: e.khPath}
	conn.Options.Email = "alice@example.com"
	conn.AgentWait = time.Minute
	e.opener = backend.NewSSHSessions(conn)
	e.opener.Config = backend.ConfigFile{Path: e.config}
	e.opener.Keys = sshclient.KeyStore{Dir: e.keyDir}
	t.Cleanup(func() { e.opener.Close() })
	return e
}

func (e *sshEnv) writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *sshEnv) instance(t *testing.T, name string) projects.Instance {
	t.Helper()
	inst, err := e.cloud.Instance(context.Background(), "proj-a", "us-central1-a", name)
	if err != nil {
		t.Fatal(err)
	}
	return *inst
}

// shell is one open tab's shell with its output collected.
type shell struct {
	conn sessions.Conn
	mu   sync.Mutex
	out  strings.Builder
	more chan struct{}
}

func openShell(t *testing.T, o sessions.Opener, inst projects.Instance, h sessions.Hooks) *shell {
	t.Helper()
	conn, err := o.Open(context.Background(), inst, 120, 40, h)
	if err != nil {
		t.Fatalf("opening a tab to %s: %v", inst.Name, err)
	}
	sh := &shell{conn: conn, more: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			sh.mu.Lock()
			sh.out.Write(buf[:n])
			sh.mu.Unlock()
			select {
			case sh.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return sh
}

// run types a command and waits for want in the output; the limit only
// turns a hang into a failure that shows the output.
func (sh *shell) run(t *testing.T, command, want string) {
	t.Helper()
	if _, err := sh.conn.Write([]byte(command + "\r")); err != nil {
		t.Fatal(err)
	}
	limit := time.After(60 * time.Second)
	for {
		sh.mu.Lock()
		out := sh.out.String()
		sh.mu.Unlock()
		if strings.Contains(out, want) {
			return
		}
		select {
		case <-sh.more:
		case <-limit:
			t.Fatalf("no %q after %q; output:\n%s", want, command, out)
		}
	}
}

// projectKeys is the project's ssh-keys metadata.
func (e *sshEnv) projectKeys(t *testing.T) string {
	t.Helper()
	md, err := e.cloud.ProjectMetadata(context.Background(), "proj-a")
	if err != nil {
		t.Fatal(err)
	}
	return md["ssh-keys"]
}

func TestSSHTabUsesInstanceUserAndKeyType(t *testing.T) {
	e := startSSHEnv(t)
	var mu sync.Mutex
	var steps []string
	h := sessions.Hooks{Progress: func(s string) {
		mu.Lock()
		steps = append(steps, s)
		mu.Unlock()
	}}
	sh := openShell(t, e.opener, e.instance(t, "vm-custom"), h)
	sh.run(t, `echo "U=$USER."`, "U=deploy.")
	mu.Lock()
	if len(steps) == 0 || steps[len(steps)-1] != string(sshclient.StepConnected) {
		t.Errorf("progress steps %q do not end with %q", steps, sshclient.StepConnected)
	}
	mu.Unlock()

	keys := e.projectKeys(t)
	if !strings.Contains(keys, "deploy:ecdsa-sha2-nistp256 ") {
		t.Errorf("ssh-keys has no ECDSA P-256 key for deploy:\n%s", keys)
	}
	if strings.Contains(keys, "deploy:ssh-ed25519 ") {
		t.Errorf("ssh-keys has an Ed25519 key for deploy although ssh.key_type is ecdsa-p256:\n%s", keys)
	}
	if _, err := os.Stat(filepath.Join(e.keyDir, "id_ecdsa_p256")); err != nil {
		t.Errorf("the ECDSA key is not in the key store: %v", err)
	}

	// A VM without settings of its own: default user and Ed25519 key.
	plain := openShell(t, e.opener, e.instance(t, "vm-plain"), sessions.Hooks{})
	plain.run(t, `echo "U=$USER."`, "U=alice.")
	if keys := e.projectKeys(t); !strings.Contains(keys, "alice:ssh-ed25519 ") {
		t.Errorf("ssh-keys has no Ed25519 key for alice:\n%s", keys)
	}
}

func TestSSHTabUsesInstancePort(t *testing.T) {
	e := startSSHEnv(t)
	// vm-port serves SSH on 2222 only: port 22 would fail.
	sh := openShell(t, e.opener, e.instance(t, "vm-port"), sessions.Hooks{})
	sh.run(t, "echo port-$((2000+222))", "port-2222")
}

func TestSSHTabsShareByVMAndSettings(t *testing.T) {
	e := startSSHEnv(t)
	plain := e.instance(t, "vm-plain")
	first := openShell(t, e.opener, plain, sessions.Hooks{})
	first.run(t, `echo "U=$USER."`, "U=alice.")
	if !e.opener.IsOpen(plain) {
		t.Error("IsOpen(vm-plain) is false with a tab open")
	}
	if e.opener.IsOpen(e.instance(t, "vm-custom")) {
		t.Error("IsOpen(vm-custom) is true without a tab to it")
	}
	// Same VM, same settings: a channel on the open connection. (The
	// first connection may have dialed more than once while the guest
	// agent caught up with the new key.)
	dials := e.dials.Load()
	second := openShell(t, e.opener, plain, sessions.Hooks{})
	second.run(t, "echo second-$((3*3))", "second-9")
	if n := e.dials.Load() - dials; n != 0 {
		t.Errorf("a second tab with the same settings dialed %d tunnels, want 0", n)
	}

	// The settings change while the UI runs: the next tab follows them,
	// on a connection of its own; the open tabs keep theirs.
	e.writeConfig(t, sshSettingsFile+"\n[instance.\"vm-plain\".ssh]\nuser = \"ops\"\n")
	third := openShell(t, e.opener, plain, sessions.Hooks{})
	third.run(t, `echo "U=$USER."`, "U=ops.")
	if e.dials.Load() == dials {
		t.Error("a tab with another user dialed no tunnel: it shares a connection made for alice")
	}
	first.run(t, `echo "again=$USER."`, "again=alice.")
	if !e.opener.IsOpen(plain) {
		t.Error("IsOpen(vm-plain) is false with tabs open")
	}
}

func TestSSHTabBadSettings(t *testing.T) {
	e := startSSHEnv(t)
	e.writeConfig(t, "[instance.\"vm-plain\".ssh]\ntransport = \"direct\"\n")
	inst := e.instance(t, "vm-plain")
	inst.InternalIP = ""
	_, err := e.opener.Open(context.Background(), inst, 80, 24, sessions.Hooks{})
	if err == nil || !strings.Contains(err.Error(), "no internal IP") {
		t.Fatalf("direct transport without an internal IP: error %v", err)
	}
	if e.dials.Load() != 0 {
		t.Error("the direct transport went through the IAP dialer")
	}
}

// TestNewSSH checks the TUI's constructor: keys and known hosts in the
// user's configuration directory, settings from the loader.
func TestNewSSH(t *testing.T) {
	e := startSSHEnv(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	if _, err := backend.NewSSH(e.cloud, e.dialer, "", nil); err == nil {
		t.Error("NewSSH without an email: no error")
	}
	o, err := backend.NewSSH(e.cloud, e.dialer, "alice@example.com", backend.ConfigFile{Path: e.config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	sh := openShell(t, o, e.instance(t, "vm-custom"), sessions.Hooks{})
	sh.run(t, `echo "U=$USER."`, "U=deploy.")
	dir, err := sshclient.DefaultKeyDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, home) {
		t.Fatalf("key directory %s is outside the test's config directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "id_ecdsa_p256")); err != nil {
		t.Errorf("NewSSH did not use the key store for ssh.key_type: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "id_ed25519")); err == nil {
		t.Error("NewSSH created an Ed25519 key nobody asked for")
	}
}
