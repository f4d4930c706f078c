//go:debug rsa1024min=0

package rdp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
)

const testToken = "rdp-test-token"

func testWorld() *world.World {
	return &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: testToken}},
		Projects: []world.Project{{
			ID:  "rdp-proj",
			IAM: []world.Binding{{Role: "roles/owner", Members: []string{"user:alice@example.com"}}},
			Firewalls: []world.Firewall{{Name: "allow-iap-rdp", SourceRanges: []string{"35.235.240.0/20"},
				Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"3389"}}}}},
			Instances: []world.Instance{
				{Name: "win-1", Zone: "us-central1-a", OS: "windows"},
				{Name: "win-stopped", Zone: "us-central1-a", OS: "windows", Status: "TERMINATED"},
				{Name: "win-noam", Zone: "us-central1-a", OS: "windows", Metadata: map[string]string{"disable-account-manager": "true"}},
			},
		}},
	}
}

// metadataAPI adapts projects.Client (whose update function has a named
// type) to rdp.MetadataAPI, and can inject a concurrent write.
type metadataAPI struct {
	c *projects.Client
	// race, when set, runs once inside the first read-modify-write round,
	// between its read and its write.
	race  func(ctx context.Context) error
	calls atomic.Int32
}

func (m *metadataAPI) UpdateInstanceMetadata(ctx context.Context, p, z, n string, update func(map[string]string) (bool, error)) error {
	return m.c.UpdateInstanceMetadata(ctx, p, z, n, func(items map[string]string) (bool, error) {
		if m.calls.Add(1) == 1 && m.race != nil {
			if err := m.race(ctx); err != nil {
				return false, err
			}
		}
		return update(items)
	})
}

func (m *metadataAPI) SerialPort(ctx context.Context, p, z, n string, port int, start int64) (string, int64, error) {
	return m.c.SerialPort(ctx, p, z, n, port, start)
}

func startEmulator(t *testing.T) *projects.Client {
	t.Helper()
	c, _ := startEmulatorEndpoints(t, nil)
	return c
}

func startEmulatorEndpoints(t *testing.T, backends map[string]string) (*projects.Client, endpoint.Endpoints) {
	t.Helper()
	s, err := emulator.Start(testWorld(), emulator.Options{AgentDelay: 20 * time.Millisecond, Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eps, err := endpoint.Parse(s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	c, err := projects.NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}))
	if err != nil {
		t.Fatal(err)
	}
	return c, eps
}

func request(name, hash string) rdp.CredentialRequest {
	return rdp.CredentialRequest{
		Project: "rdp-proj", Zone: "us-central1-a", Instance: name, Username: "alice", Email: "alice@example.com",
		Admin: true, HashFunction: hash, PollInterval: 10 * time.Millisecond, Timeout: 30 * time.Second,
	}
}

func TestCredentialsFromEmulatorAgent(t *testing.T) {
	c := startEmulator(t)
	for _, hash := range []string{"sha256", "sha1", "sha512"} {
		t.Run(hash, func(t *testing.T) {
			api := &metadataAPI{c: c}
			creds, err := rdp.GenerateCredentials(context.Background(), api, request("win-1", hash))
			if err != nil {
				t.Fatal(err)
			}
			if creds.Username != "alice" || len(creds.Password) < 15 {
				t.Fatalf("creds user %q, password length %d", creds.Username, len(creds.Password))
			}
			in, err := c.Instance(context.Background(), "rdp-proj", "us-central1-a", "win-1")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(in.Metadata[rdp.WindowsKeysKey], `"hashFunction":"`+hash+`"`) {
				t.Errorf("windows-keys = %q", in.Metadata[rdp.WindowsKeysKey])
			}
		})
	}
}

func TestCredentialsRetryAfterConcurrentWrite(t *testing.T) {
	c := startEmulator(t)
	api := &metadataAPI{c: c}
	api.race = func(ctx context.Context) error {
		// Another writer changes the metadata after our read: our write
		// carries a stale fingerprint, gets 412, and must be retried.
		return c.UpdateInstanceMetadata(ctx, "rdp-proj", "us-central1-a", "win-1", func(items map[string]string) (bool, error) {
			items["concurrent"] = "yes"
			return true, nil
		})
	}
	creds, err := rdp.GenerateCredentials(context.Background(), api, request("win-1", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if creds.Password == "" || api.calls.Load() < 2 {
		t.Fatalf("password %v, update rounds %d (want a retry)", creds.Password != "", api.calls.Load())
	}
	in, err := c.Instance(context.Background(), "rdp-proj", "us-central1-a", "win-1")
	if err != nil {
		t.Fatal(err)
	}
	if in.Metadata["concurrent"] != "yes" || !strings.Contains(in.Metadata[rdp.WindowsKeysKey], `"userName":"alice"`) {
		t.Fatalf("metadata lost a write: %v", in.Metadata)
	}
}

func TestCredentialsAgentErrorLine(t *testing.T) {
	c := startEmulator(t)
	// The agent refuses keys under 1024 bits with an errorMessage line.
	small, err := rsa.GenerateKey(rand.Reader, 768)
	if err != nil {
		t.Fatal(err)
	}
	req := request("win-1", "sha256")
	req.Key = small
	_, err = rdp.GenerateCredentials(context.Background(), &metadataAPI{c: c}, req)
	var ae *rdp.AgentError
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "modulus too small") {
		t.Fatalf("err = %v, want the agent's error line", err)
	}
}

func TestCredentialsTimeoutWhenAgentSilent(t *testing.T) {
	c := startEmulator(t)
	req := request("win-stopped", "sha256")
	req.Timeout = 300 * time.Millisecond
	_, err := rdp.GenerateCredentials(context.Background(), &metadataAPI{c: c}, req)
	if !errors.Is(err, rdp.ErrAgentTimeout) || !strings.Contains(err.Error(), "disable-account-manager") {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsAccountManagerDisabled(t *testing.T) {
	c := startEmulator(t)
	_, err := rdp.GenerateCredentials(context.Background(), &metadataAPI{c: c}, request("win-noam", "sha256"))
	if !errors.Is(err, rdp.ErrAccountManagerDisabled) {
		t.Fatalf("err = %v", err)
	}
	in, err := c.Instance(context.Background(), "rdp-proj", "us-central1-a", "win-noam")
	if err != nil {
		t.Fatal(err)
	}
	if in.Metadata[rdp.WindowsKeysKey] != "" {
		t.Fatal("metadata written although the account manager is off")
	}
}

func TestCredentialsCancelled(t *testing.T) {
	c := startEmulator(t)
	ctx, cancel := context.WithCancel(context.Background())
	req := request("win-stopped", "sha256")
	req.Progress = func(s string) {
		if strings.HasPrefix(s, "Waiting") {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
	}
	_, err := rdp.GenerateCredentials(ctx, &metadataAPI{c: c}, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestLaunchThroughEmulatorTunnel: Launch with a PoolForwarder opens a real
// relay tunnel; the (fake) client reaches the VM's port 3389 through it,
// and the tunnel is closed when the client exits.
func TestLaunchThroughEmulatorTunnel(t *testing.T) {
	// A stand-in RDP server that greets every connection with a line.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "RDP-STAND-IN\n")
			c.Close()
		}
	}()
	_, eps := startEmulatorEndpoints(t, map[string]string{"rdp-proj/us-central1-a/win-1:3389": ln.Addr().String()})
	d := &tunnel.Dialer{Endpoints: eps, Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken})}
	pool := tunnel.NewPool(d)
	defer pool.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "record.json")
	s := rdp.DefaultSettings()
	s.Username = "alice"
	sess, err := rdp.Launch(context.Background(), rdp.LaunchOptions{
		Client:   rdp.Client{Kind: rdp.FreeRDP, Path: self, Major: 3},
		Settings: s,
		Password: "pw",
		Forward:  rdp.PoolForwarder(pool, tunnel.Target{Project: "rdp-proj", Zone: "us-central1-a", Instance: "win-1"}, 0),
		Name:     "win-1",
		LogDir:   dir,
		Env:      append(os.Environ(), "IAPTERM_FAKE_RDP="+rec, "IAPTERM_FAKE_RDP_EXIT=0", "IAPTERM_FAKE_RDP_DIAL=1", "DISPLAY=:99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if open := pool.List(); len(open) != 1 || open[0].LocalAddr != sess.Addr || open[0].Target.Port != 3389 {
		t.Errorf("pool while the client runs: %+v (session addr %s)", open, sess.Addr)
	}
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ Banner, Stdin string }
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Banner != "RDP-STAND-IN\n" || r.Stdin != "pw\n" {
		t.Fatalf("client saw banner %q and stdin %q", r.Banner, r.Stdin)
	}
	if open := pool.List(); len(open) != 0 {
		t.Fatalf("tunnel still open after the client exited: %+v", open)
	}
}
