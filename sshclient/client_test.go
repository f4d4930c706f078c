package sshclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

type fakePrompter struct {
	mu           sync.Mutex
	answers      []string
	questions    []string
	instructions []string
}

func (p *fakePrompter) KeyboardInteractive(_ context.Context, user, instruction string, questions []string, echo []bool) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.questions = append(p.questions, questions...)
	p.instructions = append(p.instructions, instruction)
	if len(p.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return []string{a}, nil
}

func (p *fakePrompter) Password(context.Context, string) (string, error) {
	return "", errors.New("no password")
}

type hostKeysFunc func() []string

func (f hostKeysFunc) GuestHostKeys(context.Context, string, string, string) ([]string, error) {
	return f(), nil
}

// env wires a Connector to a testServer whose accepted keys follow the fake
// cloud's metadata, like a guest agent.
type env struct {
	srv   *testServer
	cloud *fakeCloud
	conn  *Connector
	steps []Step
	mu    sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{srv: newTestServer(t), cloud: newFakeCloud()}
	key, err := KeyStore{Dir: t.TempDir()}.Key(KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	e.cloud.onChange = func() {
		// Called with cloud.mu held: read the fields directly.
		for _, v := range []string{e.cloud.project["ssh-keys"], e.cloud.instance["ssh-keys"]} {
			for _, line := range strings.Split(v, "\n") {
				k := ParseMetadataKey(line)
				if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Type + " " + k.Blob)); err == nil && !k.Expired(time.Now()) {
					e.srv.authorize(k.User, pk)
				}
			}
		}
		for _, pk := range e.cloud.profileKeys {
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pk)); err == nil {
				e.srv.authorize(e.cloud.posixUser, k)
			}
		}
	}
	e.conn = &Connector{
		Dialer:     e.srv,
		Key:        key,
		Publisher:  &Publisher{Metadata: e.cloud, OSLogin: e.cloud},
		KnownHosts: &KnownHosts{Path: filepath.Join(t.TempDir(), "known_hosts")},
		Options:    PublishOptions{Email: "alice@example.com"},
		Progress: func(_ Target, s Step) {
			e.mu.Lock()
			e.steps = append(e.steps, s)
			e.mu.Unlock()
		},
		AgentWait: time.Minute,
	}
	return e
}

var vm = Target{Project: "p", Zone: "z", Instance: "vm", ID: "42"}

func run(t *testing.T, c *Client, cmd string) (string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	go io.Copy(io.Discard, s.Stderr)
	io.Copy(&out, s.Stdout)
	code, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestConnectPublishesAndWaitsForAgent(t *testing.T) {
	e := newEnv(t)
	e.srv.refuseFirst = 2 // the agent has not caught up for two attempts
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.User != "alice" || c.Publication.Method != MethodProjectMetadata {
		t.Fatalf("user %s, publication %+v", c.User, c.Publication)
	}
	out, code := run(t, c, "echo hello")
	if out != "hello\n" || code != 0 {
		t.Fatalf("out %q code %d", out, code)
	}
	if _, code := run(t, c, "exit 7"); code != 7 {
		t.Fatalf("exit status %d, want 7", code)
	}
	e.mu.Lock()
	steps := e.steps
	e.mu.Unlock()
	want := []Step{StepPublishing, StepTunnel, StepAuth, StepWaitingAgent}
	for _, w := range want {
		found := false
		for _, s := range steps {
			found = found || s == w
		}
		if !found {
			t.Errorf("progress lacks %q: %v", w, steps)
		}
	}
	if steps[len(steps)-1] != StepConnected {
		t.Errorf("last step %q", steps[len(steps)-1])
	}
	// The host key was recorded under the instance ID.
	keys, _ := e.conn.KnownHosts.Lookup("compute.42")
	if len(keys) != 1 || !containsKey(keys, e.srv.hostKey.PublicKey()) {
		t.Fatalf("known_hosts: %v", keys)
	}
}

func TestConnectOSLoginTwoFactor(t *testing.T) {
	e := newEnv(t)
	e.cloud.project["enable-oslogin"] = "true"
	e.cloud.project["enable-oslogin-2fa"] = "true"
	e.srv.twoFactor = "123456"
	p := &fakePrompter{answers: []string{"000000", "123456"}}
	e.conn.Prompter = p
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.User != "alice_example_com" || !c.Publication.TwoFactor {
		t.Fatalf("%s %+v", c.User, c.Publication)
	}
	if len(p.questions) != 2 || !strings.Contains(p.questions[0], "one-time password") {
		t.Fatalf("questions %q", p.questions)
	}
}

// TestConnectPromptTextIsSanitized: the VM's keyboard-interactive texts
// reach the prompter without terminal control sequences (which could
// rewrite the user's screen or title), line breaks of the instruction kept.
func TestConnectPromptTextIsSanitized(t *testing.T) {
	e := newEnv(t)
	e.cloud.project["enable-oslogin"] = "true"
	e.srv.twoFactor = "123456"
	e.srv.kbdText = [3]string{"", "Line one\nline\x1b]0;owned\x07 two\r\x1b[2J", "\u009b31mCode:\x1b[0m "}
	p := &fakePrompter{answers: []string{"123456"}}
	e.conn.Prompter = p
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(p.instructions) != 1 || p.instructions[0] != "Line one\nline]0;owned two[2J" {
		t.Fatalf("instruction %q", p.instructions)
	}
	if len(p.questions) != 1 || p.questions[0] != "31mCode:[0m " {
		t.Fatalf("question %q", p.questions)
	}
}

func TestConnectWrongSecondFactorFails(t *testing.T) {
	e := newEnv(t)
	e.cloud.project["enable-oslogin"] = "true"
	e.srv.twoFactor = "123456"
	e.conn.Prompter = &fakePrompter{answers: []string{"1", "2", "3"}}
	_, err := e.conn.Connect(context.Background(), vm)
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "roles/compute.osLogin") {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectAgentNeverCatchesUp(t *testing.T) {
	e := newEnv(t)
	e.cloud.onChange = nil // no guest agent
	e.conn.AgentWait = time.Millisecond
	_, err := e.conn.Connect(context.Background(), vm)
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "guest agent") {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectRefusesChangedHostKey(t *testing.T) {
	e := newEnv(t)
	other := newHostKey(t)
	if err := e.conn.KnownHosts.Check("vm", "compute.42", other); err != nil {
		t.Fatal(err)
	}
	_, err := e.conn.Connect(context.Background(), vm)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) || !strings.Contains(err.Error(), e.conn.KnownHosts.Path) {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectGuestAttributeHostKeys(t *testing.T) {
	e := newEnv(t)
	real := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.srv.hostKey.PublicKey())))
	// Published keys match: accepted and recorded for OpenSSH.
	e.conn.HostKeys = hostKeysFunc(func() []string { return []string{real, "garbage"} })
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	keys, _ := e.conn.KnownHosts.Lookup("compute.42")
	if len(keys) != 1 {
		t.Fatalf("published key not recorded: %v", keys)
	}
	// Published keys differ from what the server shows: refused, even
	// though known_hosts knows nothing else.
	fake := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(newHostKey(t))))
	e.conn.HostKeys = hostKeysFunc(func() []string { return []string{fake} })
	_, err = e.conn.Connect(context.Background(), vm)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) || changed.Source != "guest attributes" {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectCancelled(t *testing.T) {
	e := newEnv(t)
	e.cloud.onChange = nil
	ctx, cancel := context.WithCancel(context.Background())
	e.conn.Progress = func(_ Target, s Step) {
		if s == StepWaitingAgent {
			cancel()
		}
	}
	_, err := e.conn.Connect(ctx, vm)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestSessionPTYAndWindowChange(t *testing.T) {
	e := newEnv(t)
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPTY("", 120, 40); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.WindowChange(100, 30); err != nil {
		t.Fatal(err)
	}
	io.WriteString(s.Stdin, "typed")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s.Stdout, buf); err != nil || string(buf) != "typed" {
		t.Fatalf("echo %q %v", buf, err)
	}
	s.Stdin.Close()
	if code, err := s.Wait(); err != nil || code != 0 {
		t.Fatalf("wait %d %v", code, err)
	}
	// The server reads requests apart from data: the window change may be
	// recorded after the echo came back.
	for i := 0; ; i++ {
		e.srv.mu.Lock()
		n := len(e.srv.windows)
		e.srv.mu.Unlock()
		if n > 0 || i == 500 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if len(e.srv.ptys) != 1 || e.srv.ptys[0] != "xterm-256color 120x40" {
		t.Errorf("pty %v", e.srv.ptys)
	}
	if len(e.srv.windows) != 1 || e.srv.windows[0] != "100x30" {
		t.Errorf("window changes %v", e.srv.windows)
	}
}

func TestKeepAlive(t *testing.T) {
	e := newEnv(t)
	e.conn.KeepAlive = 10 * time.Millisecond
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; ; i++ {
		e.srv.mu.Lock()
		n := e.srv.keepalives
		e.srv.mu.Unlock()
		if n >= 2 {
			break
		}
		if i > 1000 {
			t.Fatal("no keepalives reached the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKeepAliveClosesDeadConnection(t *testing.T) {
	e := newEnv(t)
	e.conn.KeepAlive = 10 * time.Millisecond
	e.conn.KeepAliveMax = 2
	var mu sync.Mutex
	var pipes []*stallConn
	inner := e.conn.Dialer
	e.conn.Dialer = DialerFunc(func(ctx context.Context, t Target) (netConn, error) {
		c, err := inner.DialSSH(ctx, t)
		if err != nil {
			return nil, err
		}
		sc := &stallConn{Conn: c}
		mu.Lock()
		pipes = append(pipes, sc)
		mu.Unlock()
		return sc, nil
	})
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, p := range pipes {
		p.stall()
	}
	mu.Unlock()
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("a connection whose keepalives go unanswered stayed open")
	}
}

func TestSFTPOperations(t *testing.T) {
	e := newEnv(t)
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.SFTP()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := e.srv.sftpRoot
	local := filepath.Join(t.TempDir(), "data.bin")
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
	os.WriteFile(local, payload, 0o640)
	if err := f.Mkdir(filepath.Join(root, "dir")); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	remote, err := f.Upload(context.Background(), local, filepath.Join(root, "dir"), func(d, tot int64) { last, total = d, tot })
	if err != nil {
		t.Fatal(err)
	}
	if remote != filepath.Join(root, "dir", "data.bin") || last != int64(len(payload)) || total != int64(len(payload)) {
		t.Fatalf("remote %s progress %d/%d", remote, last, total)
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, payload) {
		t.Fatal("uploaded content differs")
	}
	entries, err := f.List(filepath.Join(root, "dir"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "data.bin" {
		t.Fatalf("list %v %v", entries, err)
	}
	moved := filepath.Join(root, "moved.bin")
	if err := f.Rename(remote, moved); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	last = 0
	got, err := f.Download(context.Background(), moved, outDir, func(d, _ int64) { last = d })
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(got); !bytes.Equal(data, payload) || last != int64(len(payload)) || filepath.Base(got) != "moved.bin" {
		t.Fatal("downloaded content differs")
	}
	if err := f.Remove(moved); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(moved); err == nil {
		t.Fatal("still there after Remove")
	}
	if _, err := f.Download(context.Background(), moved, outDir, nil); err == nil {
		t.Fatal("downloaded a missing file")
	}
	if err := f.Remove(filepath.Join(root, "dir")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Upload(ctx, local, filepath.Join(root, "x"), nil); err == nil {
		t.Fatal("a cancelled upload succeeded")
	}
}

func TestConnectRecordedKeyTypeNotOffered(t *testing.T) {
	e := newEnv(t)
	other, err := KeyStore{Dir: t.TempDir()}.Key(KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.conn.KnownHosts.Check("vm", "compute.42", other.PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err = e.conn.Connect(context.Background(), vm)
	if err == nil || !strings.Contains(err.Error(), e.conn.KnownHosts.Path) || !strings.Contains(err.Error(), "compute.42") {
		t.Fatalf("err = %v", err)
	}
}
