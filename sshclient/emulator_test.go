package sshclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	"iapterm/endpoint"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/tunnel"
)

// These tests run sshclient against the in-process emulator: the real
// Compute and OS Login APIs over loopback HTTP, the IAP relay, the
// simulated guest agent and its SSH server with a real shell.

const testWorld = `
users:
  - email: alice@example.com
    token: tok-alice
    twoFactorCode: "424242"
  - email: bob@example.com
    token: tok-bob
projects:
  - id: proj-meta
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
      - role: roles/compute.instanceAdmin.v1
        members: [user:bob@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:alice@example.com, user:bob@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp, ports: ["22"]}]
    instances:
      - name: vm-1
        zone: us-central1-a
        backends: {22: builtin-ssh}
      - name: vm-blocked
        zone: us-central1-a
        metadata: {block-project-ssh-keys: "true"}
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
      - name: vm-osl
        zone: europe-west1-b
        backends: {22: builtin-ssh}
      - name: vm-2fa
        zone: europe-west1-b
        metadata: {enable-oslogin-2fa: "true"}
        backends: {22: builtin-ssh}
      - name: vm-sk
        zone: europe-west1-b
        metadata: {enable-oslogin-sk: "true"}
        backends: {22: builtin-ssh}
`

type emu struct {
	srv *emulator.Server
	eps endpoint.Endpoints
}

func startEmulator(t testing.TB) *emu {
	t.Helper()
	srv, eps := emutest.Start(t, testWorld, emulator.Options{AgentDelay: 150 * time.Millisecond})
	return &emu{srv: srv, eps: eps}
}

// user is one signed-in user's view: API client, tunnel dialer, key.
type user struct {
	email  string
	cloud  *projects.Client
	dials  atomic.Int32
	conn   *sshclient.Connector
	prompt *codePrompter
}

func (e *emu) user(t testing.TB, email, token string) *user {
	t.Helper()
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	cloud, err := projects.NewClient(context.Background(), e.eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	d := &tunnel.Dialer{Endpoints: e.eps, Tokens: ts}
	key, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{email: email, cloud: cloud, prompt: &codePrompter{}}
	u.conn = &sshclient.Connector{
		Dialer: sshclient.DialerFunc(func(ctx context.Context, tg sshclient.Target) (net.Conn, error) {
			u.dials.Add(1)
			return d.Dial(ctx, tunnel.Target{Project: tg.Project, Zone: tg.Zone, Instance: tg.Instance, Port: tg.SSHPort()})
		}),
		Key:        key,
		Publisher:  sshgcp.Publisher(cloud),
		HostKeys:   sshgcp.Cloud{C: cloud},
		KnownHosts: &sshclient.KnownHosts{Path: filepath.Join(t.TempDir(), "known_hosts")},
		Prompter:   u.prompt,
		Options:    sshclient.PublishOptions{Email: email},
		AgentWait:  time.Minute,
	}
	return u
}

func (u *user) target(t *testing.T, project, zone, name string) sshclient.Target {
	t.Helper()
	inst, err := u.cloud.Instance(context.Background(), project, zone, name)
	if err != nil {
		t.Fatal(err)
	}
	return sshclient.Target{Project: project, Zone: zone, Instance: name, ID: inst.ID, Metadata: inst.Metadata}
}

func output(t *testing.T, c *sshclient.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(&out, s.Stdout) }()
	go func() { defer wg.Done(); io.Copy(&errOut, s.Stderr) }()
	wg.Wait()
	code, err := s.Wait()
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d %v (stderr %q)", cmd, code, err, errOut.String())
	}
	return out.String()
}

func TestEmulatorMetadataProject(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	tg := alice.target(t, "proj-meta", "us-central1-a", "vm-1")
	c, err := alice.conn.Connect(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.User != "alice" || c.Publication.Method != sshclient.MethodProjectMetadata {
		t.Fatalf("user %s publication %+v", c.User, c.Publication)
	}
	if got := output(t, c, "echo hello $((6*7))"); got != "hello 42\n" {
		t.Fatalf("output %q", got)
	}
	pm, _ := alice.cloud.ProjectMetadata(context.Background(), "proj-meta")
	if !strings.Contains(pm["ssh-keys"], "alice:"+alice.conn.Key.AuthorizedKey()+` google-ssh {"userName":"alice@example.com","expireOn":`) {
		t.Fatalf("project ssh-keys %q", pm["ssh-keys"])
	}
	// The guest agent published the host key; it was recorded.
	keys, _ := alice.conn.KnownHosts.Lookup(sshclient.HostKeyAlias(tg))
	if len(keys) == 0 {
		t.Fatal("published host key not recorded")
	}
}

func TestEmulatorMetadataInstanceWhenBlocked(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	c, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-meta", "us-central1-a", "vm-blocked"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Publication.Method != sshclient.MethodInstanceMetadata {
		t.Fatalf("publication %+v", c.Publication)
	}
	inst, _ := alice.cloud.Instance(context.Background(), "proj-meta", "us-central1-a", "vm-blocked")
	if !strings.Contains(inst.Metadata["ssh-keys"], alice.conn.Key.AuthorizedKey()) {
		t.Fatalf("instance ssh-keys %q", inst.Metadata["ssh-keys"])
	}
}

// noProjectWrite answers testIamPermissions as for a user without
// compute.projects.setCommonInstanceMetadata (no emulated predefined role
// grants instance metadata writes without it).
type noProjectWrite struct{}

func (noProjectWrite) TestProjectPermissions(context.Context, string, []string) ([]string, error) {
	return nil, nil
}

func TestEmulatorMetadataInstanceWithoutProjectPermission(t *testing.T) {
	e := startEmulator(t)
	bob := e.user(t, "bob@example.com", "tok-bob")
	bob.conn.Publisher.Permissions = noProjectWrite{}
	c, err := bob.conn.Connect(context.Background(), bob.target(t, "proj-meta", "us-central1-a", "vm-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Publication.Method != sshclient.MethodInstanceMetadata || c.User != "bob" {
		t.Fatalf("publication %+v", c.Publication)
	}
	if got := output(t, c, "id -un >/dev/null; echo ok"); got != "ok\n" {
		t.Fatalf("output %q", got)
	}
}

// racingMetadata writes the project metadata behind the publisher's back
// during its first attempt, so the write meets a stale fingerprint (412)
// and the update must be retried.
type racingMetadata struct {
	sshgcp.Cloud
	other *projects.Client
	raced atomic.Bool
	calls atomic.Int32
}

func (r *racingMetadata) UpdateProjectMetadata(ctx context.Context, project string, update func(map[string]string) (bool, error)) error {
	return r.Cloud.UpdateProjectMetadata(ctx, project, func(items map[string]string) (bool, error) {
		r.calls.Add(1)
		if r.raced.CompareAndSwap(false, true) {
			err := r.other.UpdateProjectMetadata(ctx, project, func(m map[string]string) (bool, error) {
				m["unrelated"] = "written concurrently"
				return true, nil
			})
			if err != nil {
				return false, err
			}
		}
		return update(items)
	})
}

func TestEmulatorMetadataConflictRetried(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	rm := &racingMetadata{Cloud: sshgcp.Cloud{C: alice.cloud}, other: alice.cloud}
	alice.conn.Publisher.Metadata = rm
	c, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-meta", "us-central1-a", "vm-1"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if rm.calls.Load() < 2 {
		t.Fatalf("the update ran %d times; a 412 should have made it retry", rm.calls.Load())
	}
	pm, _ := alice.cloud.ProjectMetadata(context.Background(), "proj-meta")
	if pm["unrelated"] != "written concurrently" || !strings.Contains(pm["ssh-keys"], alice.conn.Key.AuthorizedKey()) {
		t.Fatalf("metadata after the race: %v", pm)
	}
}

// A tunnel refusal (close 4033) reaches the caller with its explanation.
func TestEmulatorTunnelDenied(t *testing.T) {
	e := startEmulator(t)
	bob := e.user(t, "bob@example.com", "tok-bob")
	bob.conn.Publisher = nil // bob may not even read proj-osl
	bob.conn.HostKeys = nil
	bob.conn.User = "bob"
	_, err := bob.conn.Connect(context.Background(), sshclient.Target{Project: "proj-osl", Zone: "europe-west1-b", Instance: "vm-osl"})
	if !errors.Is(err, tunnel.ErrNotAuthorized) || !strings.Contains(err.Error(), "roles/iap.tunnelResourceAccessor") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmulatorOSLogin(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	c, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-osl", "europe-west1-b", "vm-osl"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Publication.Method != sshclient.MethodOSLogin || c.User != "alice_example_com" {
		t.Fatalf("user %s publication %+v", c.User, c.Publication)
	}
	if got := output(t, c, "echo osl"); got != "osl\n" {
		t.Fatalf("output %q", got)
	}
	pm, _ := alice.cloud.ProjectMetadata(context.Background(), "proj-osl")
	if pm["ssh-keys"] != "" {
		t.Fatal("OS Login VM got a metadata key")
	}
}

type codePrompter struct {
	mu        sync.Mutex
	answers   []string
	questions []string
}

func (p *codePrompter) KeyboardInteractive(_ context.Context, _, _ string, qs []string, _ []bool) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.questions = append(p.questions, qs...)
	if len(p.answers) == 0 {
		return nil, errors.New("no answer")
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	out := make([]string, len(qs))
	for i := range out {
		out[i] = a
	}
	return out, nil
}

func (p *codePrompter) Password(context.Context, string) (string, error) {
	return "", errors.New("no password")
}

func TestEmulatorTwoStepVerification(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	alice.prompt.answers = []string{"111111", "424242"}
	c, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-osl", "europe-west1-b", "vm-2fa"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Publication.TwoFactor || len(alice.prompt.questions) != 2 {
		t.Fatalf("publication %+v questions %q", c.Publication, alice.prompt.questions)
	}
	// Wrong codes only: refused with the OS Login hint.
	alice2 := e.user(t, "alice@example.com", "tok-alice")
	alice2.prompt.answers = []string{"1", "2", "3"}
	_, err = alice2.conn.Connect(context.Background(), alice2.target(t, "proj-osl", "europe-west1-b", "vm-2fa"))
	var ae *sshclient.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("wrong codes: %v", err)
	}
}

func TestEmulatorSecurityKeysRefused(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	_, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-osl", "europe-west1-b", "vm-sk"))
	if !errors.Is(err, sshclient.ErrSecurityKeysUnsupported) {
		t.Fatalf("err = %v", err)
	}
}

func TestEmulatorChangedHostKeyRefused(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	tg := alice.target(t, "proj-meta", "us-central1-a", "vm-1")
	impostor, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	// Trust on first use: a different key on record is refused.
	alice.conn.HostKeys = nil
	if err := alice.conn.KnownHosts.Check("vm-1", sshclient.HostKeyAlias(tg), impostor.PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err = alice.conn.Connect(context.Background(), tg)
	var changed *sshclient.HostKeyChangedError
	if !errors.As(err, &changed) || !strings.Contains(err.Error(), alice.conn.KnownHosts.Path) {
		t.Fatalf("err = %v", err)
	}
	// Guest attributes that disagree with the server are refused too.
	alice.conn.HostKeys = fixedHostKeys{impostor.AuthorizedKey()}
	_, err = alice.conn.Connect(context.Background(), tg)
	if !errors.As(err, &changed) || changed.Source != "guest attributes" {
		t.Fatalf("err = %v", err)
	}
}

func TestEmulatorMultiplexing(t *testing.T) {
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	m := &sshclient.Manager{Connector: alice.conn, Linger: time.Hour}
	defer m.Close()
	tg := alice.target(t, "proj-meta", "us-central1-a", "vm-1")
	ctx := context.Background()
	var outs []string
	var dials []int32
	for i := 0; i < 2; i++ {
		s, err := m.Session(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start("echo session"); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, s.Stderr)
		b, _ := io.ReadAll(s.Stdout)
		if code, err := s.Wait(); err != nil || code != 0 {
			t.Fatal(code, err)
		}
		outs = append(outs, string(b))
		dials = append(dials, alice.dials.Load())
	}
	if outs[0] != "session\n" || outs[1] != "session\n" {
		t.Fatalf("outputs %q", outs)
	}
	// The first connection may take several tunnels while the guest agent
	// catches up; the second session must not open any.
	if dials[1] != dials[0] {
		t.Fatalf("the second session opened %d more tunnels, want 0", dials[1]-dials[0])
	}
}

// aliceSFTP connects alice to proj-meta's vm-1 in a fresh emulator and
// opens SFTP there; it returns the connection, the SFTP client and
// alice's home directory on the VM.
func aliceSFTP(t *testing.T) (*sshclient.Client, *sshclient.SFTP, string) {
	t.Helper()
	e := startEmulator(t)
	alice := e.user(t, "alice@example.com", "tok-alice")
	c, err := alice.conn.Connect(context.Background(), alice.target(t, "proj-meta", "us-central1-a", "vm-1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f, err := c.SFTP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	home, err := f.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return c, f, home
}

func TestEmulatorSFTP(t *testing.T) {
	c, f, home := aliceSFTP(t)
	ctx := context.Background()
	dir := home + "/up"
	if err := f.Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "payload")
	payload := bytes.Repeat([]byte("iapterm sftp "), 100000)
	os.WriteFile(local, payload, 0o644)
	var seen int64
	remote, err := f.Upload(ctx, local, dir, func(done, _ int64) { seen = done })
	if err != nil {
		t.Fatal(err)
	}
	if seen != int64(len(payload)) {
		t.Fatalf("progress ended at %d of %d", seen, len(payload))
	}
	list, err := f.List(dir)
	if err != nil || len(list) != 1 || list[0].Size() != int64(len(payload)) {
		t.Fatalf("list %v %v", list, err)
	}
	if err := f.Rename(remote, home+"/renamed"); err != nil {
		t.Fatal(err)
	}
	got, err := f.Download(ctx, home+"/renamed", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, payload) {
		t.Fatal("download differs from upload")
	}
	// The shell sees the same file.
	if out := output(t, c, "wc -c < ~/renamed"); strings.TrimSpace(out) != "1300000" {
		t.Fatalf("wc: %q", out)
	}
	if err := f.Remove(home + "/renamed"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(dir); err == nil {
		t.Fatal("directory still there")
	}
}

type fixedHostKeys []string

func (f fixedHostKeys) GuestHostKeys(context.Context, string, string, string) ([]string, error) {
	return f, nil
}

// TestEmulatorSFTPMissingDirectories checks the messages for a destination
// directory that is not there: they name the directory the user wrote,
// never the temporary file of a download.
func TestEmulatorSFTPMissingDirectories(t *testing.T) {
	_, f, home := aliceSFTP(t)
	ctx := context.Background()
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	os.WriteFile(local, []byte("data"), 0o644)
	remote, err := f.Upload(ctx, local, home, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove(remote)

	for _, tc := range []struct {
		name string
		run  func() (string, error)
		want string
	}{
		{"upload into a missing directory", func() (string, error) { return f.Upload(ctx, local, home+"/nodir/", nil) },
			"there is no directory " + home + "/nodir/ on the VM"},
		{"upload into a file as a directory", func() (string, error) { return f.Upload(ctx, local, remote+"/", nil) },
			remote + "/ on the VM is not a directory"},
		{"download into a missing directory", func() (string, error) {
			return f.Download(ctx, remote, filepath.Join(dir, "nodir")+"/", nil)
		}, "there is no directory " + filepath.Join(dir, "nodir") + "/ here"},
		{"download into a file as a directory", func() (string, error) { return f.Download(ctx, remote, local+"/", nil) },
			local + "/ is not a directory"},
		{"download below a missing directory", func() (string, error) {
			return f.Download(ctx, remote, filepath.Join(dir, "nodir", "x"), nil)
		}, "cannot write " + filepath.Join(dir, "nodir", "x") + ": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.run()
			if err == nil {
				t.Fatalf("wrote %s, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ".part") {
				t.Fatalf("error %q, want one with %q and no temporary file", err, tc.want)
			}
		})
	}
	if _, err := f.Stat(home + "/nodir"); err == nil {
		t.Fatal("the missing directory was created")
	}
}

// TestEmulatorSFTPInterruptedUploadKeepsFile interrupts an upload over an
// existing file: the file keeps its old content and no temporary file is
// left; a complete upload replaces it.
func TestEmulatorSFTPInterruptedUploadKeepsFile(t *testing.T) {
	c, f, home := aliceSFTP(t)
	dir := home + "/keep"
	if err := f.Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "data")
	os.WriteFile(old, []byte("old content\n"), 0o644)
	remote, err := f.Upload(context.Background(), old, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(t.TempDir(), "data")
	payload := bytes.Repeat([]byte("new content\n"), 200000)
	os.WriteFile(newer, payload, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	if _, err := f.Upload(ctx, newer, dir, func(int64, int64) { cancel() }); err == nil {
		t.Fatal("the interrupted upload succeeded")
	}
	if out := output(t, c, "head -c 40 "+remote+"; ls -a "+dir); out != "old content\n.\n..\ndata\n" {
		t.Fatalf("after the interrupted upload: %q", out)
	}
	if _, err := f.Upload(context.Background(), newer, remote, nil); err != nil {
		t.Fatal(err)
	}
	if out := output(t, c, "wc -c < "+remote+"; ls -a "+dir); out != fmt.Sprintf("%d\n.\n..\ndata\n", len(payload)) {
		t.Fatalf("after the complete upload: %q", out)
	}
}

// TestEmulatorSFTPDirectories copies a tree up and back down: nested and
// empty directories, file modes, a link to a file copied as a file, a
// dangling link left out and reported.
func TestEmulatorSFTPDirectories(t *testing.T) {
	c, f, home := aliceSFTP(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	big := bytes.Repeat([]byte("0123456789"), 50000)
	for _, d := range []string{"sub/deep", "empty"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "deep", "big"), big, 0o600)
	os.Symlink("a.txt", filepath.Join(src, "link"))
	os.Symlink("nowhere", filepath.Join(src, "dangling"))

	if _, err := f.Upload(ctx, src, home, nil); !errors.Is(err, sshclient.ErrIsDirectory) {
		t.Fatalf("Upload of a directory: %v, want ErrIsDirectory", err)
	}
	var last, total int64
	remote, skipped, err := f.UploadDir(ctx, src, home, func(d, n int64) { last, total = d, n })
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(big) + 2 + 10 + 2)
	if remote != home+"/tree" || last != want || total != want {
		t.Fatalf("UploadDir wrote %s, progress %d of %d, want %s and %d", remote, last, total, home+"/tree", want)
	}
	if len(skipped) != 1 || filepath.Base(skipped[0].Path) != "dangling" {
		t.Fatalf("skipped %v, want the dangling link", skipped)
	}
	if out := output(t, c, "cd ~/tree && find . | sort && stat -c %a sub/run.sh sub/deep/big && cat link"); out !=
		".\n./a.txt\n./empty\n./link\n./sub\n./sub/deep\n./sub/deep/big\n./sub/run.sh\n755\n600\na\n" {
		t.Fatalf("on the VM:\n%s", out)
	}

	if _, err := f.Download(ctx, remote, t.TempDir(), nil); !errors.Is(err, sshclient.ErrIsDirectory) {
		t.Fatalf("Download of a directory: %v, want ErrIsDirectory", err)
	}
	dst := t.TempDir()
	local, _, err := f.DownloadDir(ctx, remote, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if local != filepath.Join(dst, "tree") {
		t.Fatalf("DownloadDir wrote %s", local)
	}
	for name, content := range map[string]string{"a.txt": "a\n", "link": "a\n", "sub/run.sh": "#!/bin/sh\n", "sub/deep/big": string(big)} {
		if b, err := os.ReadFile(filepath.Join(local, name)); err != nil || string(b) != content {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	if st, err := os.Stat(filepath.Join(local, "empty")); err != nil || !st.IsDir() {
		t.Errorf("empty directory: %v", err)
	}
	if st, err := os.Stat(filepath.Join(local, "sub", "run.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh lost its execute bit: %v %v", st.Mode(), err)
	}
	// Again into a directory that does not exist yet: it becomes the copy.
	again := filepath.Join(dst, "again")
	if local, _, err := f.DownloadDir(ctx, remote, again, nil); err != nil || local != again {
		t.Fatalf("DownloadDir to a new name: %s, %v", local, err)
	}
	if b, err := os.ReadFile(filepath.Join(again, "sub", "deep", "big")); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("big under the new name: %v", err)
	}
}

// TestEmulatorSFTPUploadModeBeforeData: a 0600 file is 0600 on the VM while
// its data is being written, not only once the upload is complete.
func TestEmulatorSFTPUploadModeBeforeData(t *testing.T) {
	c, f, home := aliceSFTP(t)
	dir := home + "/secret"
	if err := f.Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "key")
	os.WriteFile(local, bytes.Repeat([]byte("secret\n"), 200000), 0o600)
	var modes []string
	progress := func(done, total int64) {
		if len(modes) == 0 {
			modes = append(modes, output(t, c, "stat -c %a "+dir+"/.key.part*"))
		}
	}
	if _, err := f.Upload(context.Background(), local, dir, progress); err != nil {
		t.Fatal(err)
	}
	if len(modes) == 0 || modes[0] != "600\n" {
		t.Fatalf("mode of the file being written: %q, want 600", modes)
	}
	if out := output(t, c, "stat -c %a "+dir+"/key"); out != "600\n" {
		t.Fatalf("mode of the uploaded file: %q", out)
	}
}
