package agent

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestParseSSHKeys(t *testing.T) {
	_, k := newKey(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	future := `google-ssh {"userName":"a@example.com","expireOn":"2026-06-01T12:00:00+0000"}`
	past := `google-ssh {"userName":"a@example.com","expireOn":"2025-06-01T12:00:00+0000"}`
	tests := []struct {
		name  string
		value string
		users []string
	}{
		{"plain", "alice:" + k + " alice@host", []string{"alice"}},
		{"two lines and blanks", "alice:" + k + "\n\n bob:" + k + " \n", []string{"alice", "bob"}},
		{"future expiry", "alice:" + k + " " + future, []string{"alice"}},
		{"past expiry", "alice:" + k + " " + past, nil},
		{"bad expiry", "alice:" + k + ` google-ssh {"userName":"a","expireOn":"soon"}`, nil},
		{"bad json", "alice:" + k + ` google-ssh {nope`, nil},
		{"no user", k, nil},
		{"garbage key", "alice:ssh-ed25519 AAAAnotbase64", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, key := range ParseSSHKeys(tt.value, now) {
				got = append(got, key.User)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.users) {
				t.Fatalf("users = %v, want %v", got, tt.users)
			}
		})
	}
}

func TestMetadataKeysBlocking(t *testing.T) {
	_, k := newKey(t)
	now := time.Now()
	proj := map[string]string{"ssh-keys": "proj:" + k}
	tests := []struct {
		name  string
		inst  map[string]string
		users string
	}{
		{"project keys apply", map[string]string{"ssh-keys": "inst:" + k}, "[inst proj]"},
		{"blocked", map[string]string{"ssh-keys": "inst:" + k, "block-project-ssh-keys": "TRUE"}, "[inst]"},
		{"not blocked when false", map[string]string{"block-project-ssh-keys": "false"}, "[proj]"},
		{"legacy sshKeys blocks", map[string]string{"sshKeys": "old:" + k}, "[old]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, key := range MetadataKeys(tt.inst, proj, now) {
				got = append(got, key.User)
			}
			if fmt.Sprint(got) != tt.users {
				t.Fatalf("users = %v, want %v", got, tt.users)
			}
		})
	}
}

func TestMetadataBoolInstanceOverridesProject(t *testing.T) {
	tests := []struct {
		inst, proj map[string]string
		want       bool
	}{
		{nil, map[string]string{"enable-oslogin": "TRUE"}, true},
		{map[string]string{"enable-oslogin": "false"}, map[string]string{"enable-oslogin": "true"}, false},
		{map[string]string{"enable-oslogin": "1"}, nil, true},
		{map[string]string{"enable-oslogin": "yes"}, map[string]string{"enable-oslogin": "true"}, true},
		{nil, nil, false},
	}
	for i, tt := range tests {
		if got := OSLoginEnabled(tt.inst, tt.proj); got != tt.want {
			t.Errorf("%d: got %v, want %v", i, got, tt.want)
		}
	}
}

func TestUsernames(t *testing.T) {
	tests := []struct{ email, osl string }{
		{"alice@example.com", "alice_example_com"},
		{"Bob.Smith@Example.com", "bob_smith_example_com"},
		{"1st@example.com", "g1st_example_com"},
		{"averyveryveryveryverylongname123456@example.com", "averyveryveryveryverylongname123"},
	}
	for _, tt := range tests {
		if got := OSLoginUsername(tt.email); got != tt.osl {
			t.Errorf("OSLoginUsername(%q) = %q, want %q", tt.email, got, tt.osl)
		}
	}
}

// fakeSource is a cloud with mutable VMs.
type fakeSource struct {
	mu     sync.Mutex
	vms    []VM
	osl    map[string][]Key
	serial map[string]*strings.Builder
	writes int
}

func (f *fakeSource) VMs() []VM {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]VM, len(f.vms))
	for i, v := range f.vms {
		v.Instance = clone(v.Instance)
		v.Project = clone(v.Project)
		out[i] = v
	}
	return out
}

func clone(m map[string]string) map[string]string {
	c := map[string]string{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (f *fakeSource) OSLoginKeys(vm string) []Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.osl[vm]
}

func (f *fakeSource) AppendSerial(vm string, port int, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.serial == nil {
		f.serial = map[string]*strings.Builder{}
	}
	k := fmt.Sprint(vm, port)
	if f.serial[k] == nil {
		f.serial[k] = &strings.Builder{}
	}
	f.serial[k].WriteString(data)
	f.writes++
}

func (f *fakeSource) setInstance(i int, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vms[i].Instance[key] = value
}

func TestAgentAcceptsAndRemovesKeysAfterDelay(t *testing.T) {
	signer, k := newKey(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := &fakeSource{vms: []VM{{Key: "p/z/vm", Running: true, Instance: map[string]string{}, Project: map[string]string{}}}}
	a := New(src, Options{Delay: time.Millisecond, Now: clock})
	defer a.Close()
	if ok, _ := a.Authorize("p/z/vm", "alice", signer.PublicKey()); ok {
		t.Fatal("key accepted before it was added")
	}
	src.setInstance(0, "ssh-keys", "alice:"+k+` google-ssh {"userName":"a@example.com","expireOn":"2026-01-01T01:00:00+0000"}`)
	a.Changed()
	waitFor(t, func() bool { ok, _ := a.Authorize("p/z/vm", "alice", signer.PublicKey()); return ok })
	if ok, _ := a.Authorize("p/z/vm", "bob", signer.PublicKey()); ok {
		t.Fatal("key accepted for another user")
	}
	// Expiry is honoured at login time, without a metadata change.
	now = now.Add(2 * time.Hour)
	if ok, _ := a.Authorize("p/z/vm", "alice", signer.PublicKey()); ok {
		t.Fatal("expired key accepted")
	}
	now = now.Add(-2 * time.Hour)
	src.setInstance(0, "ssh-keys", "")
	a.Changed()
	waitFor(t, func() bool { ok, _ := a.Authorize("p/z/vm", "alice", signer.PublicKey()); return !ok })
}

func TestAgentOSLoginAndTwoFactor(t *testing.T) {
	signer, k := newKey(t)
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(k))
	src := &fakeSource{
		vms: []VM{{Key: "p/z/vm", Running: true,
			Instance: map[string]string{"ssh-keys": "meta:" + k},
			Project:  map[string]string{"enable-oslogin": "true", "enable-oslogin-2fa": "true"}}},
		osl: map[string][]Key{"p/z/vm": {{User: "alice_example_com", PublicKey: pub, SecondFactor: "123456"}}},
	}
	a := New(src, Options{Delay: -1})
	if ok, _ := a.Authorize("p/z/vm", "meta", signer.PublicKey()); ok {
		t.Fatal("metadata key accepted with OS Login on")
	}
	ok, code := a.Authorize("p/z/vm", "alice_example_com", signer.PublicKey())
	if !ok || code != "123456" {
		t.Fatalf("Authorize = %v, %q; want true, 123456", ok, code)
	}
	src.setInstance(0, "enable-oslogin", "false")
	a.Changed()
	if ok, _ := a.Authorize("p/z/vm", "meta", signer.PublicKey()); !ok {
		t.Fatal("instance enable-oslogin=false did not override the project")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWindowsPassword(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mod := base64.StdEncoding.EncodeToString(priv.N.Bytes())
	hashes := map[string]func() hash.Hash{"": sha1.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	for name, h := range hashes {
		t.Run("hash="+name, func(t *testing.T) {
			src := &fakeSource{vms: []VM{{Key: "p/z/win", Windows: true, Running: true, Instance: map[string]string{}, Project: map[string]string{}}}}
			a := New(src, Options{Delay: -1})
			entry := map[string]any{"userName": "alice", "email": "alice@example.com", "modulus": mod, "exponent": "AQAB",
				"expireOn": time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05-0700")}
			if name != "" {
				entry["hashFunction"] = name
			}
			line, _ := json.Marshal(entry)
			src.setInstance(0, "windows-keys", string(line))
			a.Changed()
			a.Changed() // the same entry is answered once
			out := src.serial["p/z/win4"].String()
			if src.writes != 2 {
				t.Fatalf("%d serial writes, want 2 (one line in two chunks)", src.writes)
			}
			var res struct {
				EncryptedPassword string
				PasswordFound     bool
				UserName          string
				Modulus           string
				HashFunction      string
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			if !sc.Scan() || json.Unmarshal(sc.Bytes(), &res) != nil {
				t.Fatalf("serial port 4 = %q", out)
			}
			ct, _ := base64.StdEncoding.DecodeString(res.EncryptedPassword)
			pw, err := rsa.DecryptOAEP(h(), nil, priv, ct, nil)
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if len(pw) < 15 || !res.PasswordFound || res.UserName != "alice" || res.Modulus != mod {
				t.Fatalf("bad answer %+v (password length %d)", res, len(pw))
			}
		})
	}
}

func TestWindowsInvalidEntries(t *testing.T) {
	src := &fakeSource{vms: []VM{{Key: "p/z/win", Windows: true, Running: true, Instance: map[string]string{}, Project: map[string]string{}}}}
	a := New(src, Options{Delay: -1})
	future := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05-0700")
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05-0700")
	lines := []string{
		`{"userName":"a","modulus":"AAAA","exponent":"AQAB","expireOn":"` + past + `"}`, // expired: ignored
		`{"modulus":"AAAA","exponent":"AQAB","expireOn":"` + future + `"}`,              // no user: ignored
		`not json`, // ignored
		`{"userName":"b","modulus":"!!!","exponent":"AQAB","expireOn":"` + future + `"}`, // error line
	}
	src.setInstance(0, "windows-keys", strings.Join(lines, "\n"))
	a.Changed()
	out := src.serial["p/z/win4"].String()
	var res map[string]any
	if strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("serial port 4 = %q, want one error line", out)
	}
	if res["errorMessage"] == nil || res["userName"] != "b" || res["passwordFound"] != nil {
		t.Fatalf("line = %v", res)
	}
}

func TestAgentSecurityKeyModeAndDisabledAccountManager(t *testing.T) {
	signer, k := newKey(t)
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(k))
	src := &fakeSource{
		vms: []VM{{Key: "p/z/vm", Running: true, Instance: map[string]string{},
			Project: map[string]string{"enable-oslogin": "true", "enable-oslogin-sk": "true"}}},
		osl: map[string][]Key{"p/z/vm": {{User: "alice_example_com", PublicKey: pub}}},
	}
	a := New(src, Options{Delay: -1})
	if ok, _ := a.Authorize("p/z/vm", "alice_example_com", signer.PublicKey()); ok {
		t.Fatal("an ed25519 key was accepted in security-key mode")
	}
	src.setInstance(0, "enable-oslogin-sk", "false")
	a.Changed()
	if ok, _ := a.Authorize("p/z/vm", "alice_example_com", signer.PublicKey()); !ok {
		t.Fatal("key refused with security-key mode off")
	}
	// With the account manager disabled, changes no longer reach the VM.
	src.setInstance(0, "disable-account-manager", "true")
	src.setInstance(0, "enable-oslogin", "false")
	a.Changed()
	if ok, _ := a.Authorize("p/z/vm", "alice_example_com", signer.PublicKey()); !ok {
		t.Fatal("the disabled account manager still changed the VM's keys")
	}
}

func TestWindowsResetUnansweredWithoutAccountManager(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{vms: []VM{{Key: "p/z/win", Windows: true, Running: true,
		Instance: map[string]string{}, Project: map[string]string{"disable-account-manager": "TRUE"}}}}
	a := New(src, Options{Delay: -1})
	line, _ := json.Marshal(map[string]any{"userName": "a", "modulus": base64.StdEncoding.EncodeToString(priv.N.Bytes()), "exponent": "AQAB",
		"expireOn": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05-0700")})
	src.setInstance(0, "windows-keys", string(line))
	a.Changed()
	if src.writes != 0 {
		t.Fatalf("%d serial writes with the account manager disabled", src.writes)
	}
	// The instance value overrides the project's.
	src.setInstance(0, "disable-account-manager", "false")
	a.Changed()
	if src.writes != 2 {
		t.Fatalf("%d serial writes once enabled, want 2", src.writes)
	}
}
