package rdp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// sharedKey avoids generating a 2048-bit key per test under -race.
func sharedKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// fakeAgent is an instance's metadata and serial port 4 with a guest
// agent that answers new windows-keys entries.
type fakeAgent struct {
	mu      sync.Mutex
	items   map[string]string
	serial  string // what the port shows so far
	pending []string
	writes  int
	// answer builds the agent's reply to an entry; nil means silent.
	answer func(entry map[string]any) string
	// reads counts SerialPort calls.
	reads int
}

func (f *fakeAgent) UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(map[string]string) (bool, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := map[string]string{}
	for k, v := range f.items {
		items[k] = v
	}
	changed, err := update(items)
	if err != nil || !changed {
		return err
	}
	f.items = items
	f.writes++
	lines := strings.Split(items[WindowsKeysKey], "\n")
	var entry map[string]any
	if json.Unmarshal([]byte(lines[len(lines)-1]), &entry) == nil && f.answer != nil {
		if reply := f.answer(entry); reply != "" {
			// Written in two chunks, split inside the line, with noise first.
			half := len(reply) / 2
			f.pending = append(f.pending, "agent: noise line\n{\"not\":\"ours\"}\n"+reply[:half], reply[half:]+"\n")
		}
	}
	return nil
}

func (f *fakeAgent) SerialPort(ctx context.Context, project, zone, name string, port int, start int64) (string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if port != 4 {
		return "", 0, errors.New("wrong port")
	}
	f.reads++
	if f.reads > 1 && len(f.pending) > 0 {
		f.serial += f.pending[0]
		f.pending = f.pending[1:]
	}
	if start > int64(len(f.serial)) {
		start = int64(len(f.serial))
	}
	return f.serial[start:], int64(len(f.serial)), nil
}

// encryptingAgent answers like the real agent: the password encrypted
// with the entry's key, hash per hashFunction (omitted → SHA-1 and no
// hashFunction in the answer, like old agents when legacy is set).
func encryptingAgent(t *testing.T, password string, legacy bool) func(map[string]any) string {
	return func(e map[string]any) string {
		modB, _ := base64.StdEncoding.DecodeString(e["modulus"].(string))
		expB, _ := base64.StdEncoding.DecodeString(e["exponent"].(string))
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(modB), E: int(new(big.Int).SetBytes(expB).Int64())}
		hf, _ := e["hashFunction"].(string)
		if legacy {
			hf = ""
		}
		h, err := oaepHash(hf)
		if err != nil {
			t.Errorf("agent: %v", err)
			return ""
		}
		ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, []byte(password), nil)
		if err != nil {
			t.Errorf("agent: %v", err)
			return ""
		}
		ans := map[string]any{"encryptedPassword": base64.StdEncoding.EncodeToString(ct), "userName": e["userName"],
			"passwordFound": true, "exponent": e["exponent"], "modulus": e["modulus"]}
		if hf != "" {
			ans["hashFunction"] = hf
		}
		b, _ := json.Marshal(ans)
		return string(b)
	}
}

func baseRequest(t *testing.T) CredentialRequest {
	return CredentialRequest{
		Project: "p", Zone: "z", Instance: "win-1", Username: "alice", Email: "alice@example.com",
		Admin: true, Key: sharedKey(t), PollInterval: time.Millisecond, Timeout: 10 * time.Second,
	}
}

func TestGenerateCredentials(t *testing.T) {
	for _, tc := range []struct {
		hash   string
		legacy bool
	}{{"", false}, {"sha256", false}, {"sha512", false}, {"sha1", false}, {"sha256", true}} {
		t.Run(tc.hash+map[bool]string{true: "-legacy-agent"}[tc.legacy], func(t *testing.T) {
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			expired := `{"userName":"old","modulus":"AA==","exponent":"AQAB","expireOn":"2025-01-01T00:00:00+0000"}`
			valid := `{"userName":"other","modulus":"AA==","exponent":"AQAB","expireOn":"2027-01-01T00:00:00+0000"}`
			f := &fakeAgent{
				items:  map[string]string{WindowsKeysKey: expired + "\nnot json at all\n" + valid, "other": "x"},
				serial: `{"modulus":"stale answer from before","encryptedPassword":"x"}` + "\n",
				answer: encryptingAgent(t, "Pa$$w0rd-from-agent", tc.legacy),
			}
			req := baseRequest(t)
			req.HashFunction = tc.hash
			req.Now = func() time.Time { return now }
			var steps []string
			req.Progress = func(s string) { steps = append(steps, s) }
			creds, err := GenerateCredentials(context.Background(), f, req)
			if err != nil {
				t.Fatal(err)
			}
			if creds.Username != "alice" || creds.Password != "Pa$$w0rd-from-agent" {
				t.Fatalf("creds = %+v", creds)
			}
			lines := strings.Split(f.items[WindowsKeysKey], "\n")
			if len(lines) != 3 || lines[0] != "not json at all" || lines[1] != valid {
				t.Fatalf("windows-keys = %q", f.items[WindowsKeysKey])
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(lines[2]), &e); err != nil {
				t.Fatal(err)
			}
			wantHash := tc.hash
			if wantHash == "" {
				wantHash = "sha256"
			}
			if e["userName"] != "alice" || e["email"] != "alice@example.com" || e["exponent"] != "AQAB" ||
				e["expireOn"] != "2026-01-02T03:09:05+0000" || e["addToAdministrators"] != true || e["hashFunction"] != wantHash ||
				e["modulus"] != base64.StdEncoding.EncodeToString(sharedKey(t).N.Bytes()) {
				t.Fatalf("entry = %v", e)
			}
			if !strings.HasPrefix(lines[2], `{"userName":"alice","email":"alice@example.com","modulus":"`) {
				t.Errorf("entry field order: %s", lines[2])
			}
			if f.items["other"] != "x" || f.writes != 1 {
				t.Errorf("other metadata changed or %d writes", f.writes)
			}
			if len(steps) == 0 {
				t.Error("no progress reported")
			}
		})
	}
}

func TestGenerateCredentialsAgentError(t *testing.T) {
	f := &fakeAgent{items: map[string]string{}, answer: func(e map[string]any) string {
		b, _ := json.Marshal(map[string]any{"errorMessage": "user is a built-in account", "userName": e["userName"], "modulus": e["modulus"]})
		return string(b)
	}}
	_, err := GenerateCredentials(context.Background(), f, baseRequest(t))
	var ae *AgentError
	if !errors.As(err, &ae) || ae.Message != "user is a built-in account" || !strings.Contains(err.Error(), `"alice"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateCredentialsTimeout(t *testing.T) {
	f := &fakeAgent{items: map[string]string{}}
	req := baseRequest(t)
	req.Timeout = 30 * time.Millisecond
	_, err := GenerateCredentials(context.Background(), f, req)
	if !errors.Is(err, ErrAgentTimeout) || !strings.Contains(err.Error(), "disable-account-manager") || !strings.Contains(err.Error(), "not be running") {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateCredentialsCancel(t *testing.T) {
	f := &fakeAgent{items: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	req := baseRequest(t)
	req.Progress = func(s string) {
		if strings.HasPrefix(s, "Waiting") {
			cancel()
		}
	}
	_, err := GenerateCredentials(ctx, f, req)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrAgentTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestGenerateCredentialsAccountManagerDisabled(t *testing.T) {
	f := &fakeAgent{items: map[string]string{"disable-account-manager": "TRUE"}}
	_, err := GenerateCredentials(context.Background(), f, baseRequest(t))
	if !errors.Is(err, ErrAccountManagerDisabled) || f.writes != 0 {
		t.Fatalf("err = %v, writes %d", err, f.writes)
	}
	f = &fakeAgent{items: map[string]string{"disable-account-manager": "false"}, answer: encryptingAgent(t, "pw", false)}
	if _, err := GenerateCredentials(context.Background(), f, baseRequest(t)); err != nil {
		t.Fatalf("false value: %v", err)
	}
}

func TestGenerateCredentialsBadInput(t *testing.T) {
	f := &fakeAgent{items: map[string]string{}}
	for want, mod := range map[string]func(*CredentialRequest){
		"at most 20":            func(r *CredentialRequest) { r.Username = "a-very-long-windows-username" },
		"project, zone":         func(r *CredentialRequest) { r.Zone = "" },
		"unknown hash function": func(r *CredentialRequest) { r.HashFunction = "md5" },
	} {
		req := baseRequest(t)
		mod(&req)
		if _, err := GenerateCredentials(context.Background(), f, req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	if f.writes != 0 || f.reads != 0 {
		t.Error("bad input reached the API")
	}
}

func TestDecryptPassword(t *testing.T) {
	key := sharedKey(t)
	for _, tc := range []struct {
		name string
		hash crypto.Hash
	}{{"", crypto.SHA1}, {"sha1", crypto.SHA1}, {"SHA256", crypto.SHA256}, {"sha512", crypto.SHA512}} {
		ct, err := rsa.EncryptOAEP(tc.hash.New(), rand.Reader, &key.PublicKey, []byte("pässword"), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecryptPassword(key, base64.StdEncoding.EncodeToString(ct), tc.name)
		if err != nil || got != "pässword" {
			t.Errorf("%q: %q, %v", tc.name, got, err)
		}
	}
	ct, _ := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, &key.PublicKey, []byte("x"), nil)
	if _, err := DecryptPassword(key, base64.StdEncoding.EncodeToString(ct), "sha1"); err == nil {
		t.Error("wrong hash decrypted")
	}
	if _, err := DecryptPassword(key, "!!!", "sha256"); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("bad base64: %v", err)
	}
}

func TestRewriteWindowsKeys(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "NEW"},
		{"blank lines dropped", "\n\n  \n", "NEW"},
		{"expired dropped", `{"expireOn":"2026-06-01T11:59:59+0000"}`, "NEW"},
		{"expiring now dropped", `{"expireOn":"2026-06-01T12:00:00+0000"}`, "NEW"},
		{"future kept", `{"expireOn":"2026-06-01T12:00:01+0000"}`, `{"expireOn":"2026-06-01T12:00:01+0000"}` + "\nNEW"},
		{"RFC 3339 expiry understood", `{"expireOn":"2020-01-01T00:00:00Z"}`, "NEW"},
		{"offset expiry understood", `{"expireOn":"2026-06-01T13:30:00+0200"}`, "NEW"},
		{"unparseable expiry kept", `{"expireOn":"tomorrow"}`, `{"expireOn":"tomorrow"}` + "\nNEW"},
		{"no expiry kept", `{"userName":"x"}`, `{"userName":"x"}` + "\nNEW"},
		{"not JSON kept verbatim", "  garbage line  \r", "  garbage line  \nNEW"},
		{"mixed", "a\n" + `{"expireOn":"2000-01-01T00:00:00+0000"}` + "\nb", "a\nb\nNEW"},
	}
	for _, tt := range tests {
		got, err := RewriteWindowsKeys(tt.in, "NEW", now)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := RewriteWindowsKeys(strings.Repeat("x", maxMetadataValue), "NEW", now); err == nil {
		t.Error("oversized value accepted")
	}
}

func TestLineBuffer(t *testing.T) {
	var b lineBuffer
	var got []string
	for _, chunk := range []string{"", "ab", "c\nde", "", "f\n\ng", "h\n"} {
		got = append(got, b.Add(chunk)...)
	}
	if strings.Join(got, "|") != "abc|def||gh" {
		t.Fatalf("lines %q", got)
	}
}

func FuzzRewriteWindowsKeys(f *testing.F) {
	f.Add(`{"userName":"a","expireOn":"2020-01-01T00:00:00+0000"}` + "\nnot json\n\n" + `{"expireOn":"2099-01-01T00:00:00Z"}`)
	f.Add("")
	f.Add("{\"expireOn\":5}\r\n{")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, existing string) {
		out, err := RewriteWindowsKeys(existing, "NEW", now)
		if err != nil {
			if len(existing) < maxMetadataValue-10 {
				t.Fatalf("error for a small value: %v", err)
			}
			return
		}
		lines := strings.Split(out, "\n")
		if lines[len(lines)-1] != "NEW" {
			t.Fatalf("new entry not last: %q", out)
		}
		kept := map[string]bool{}
		for _, l := range lines[:len(lines)-1] {
			if strings.TrimSpace(l) == "" {
				t.Fatalf("blank line kept: %q", out)
			}
			kept[l] = true
		}
		// A line that is dropped must be a JSON entry with a past expiry.
		for _, l := range strings.Split(existing, "\n") {
			l = strings.TrimRight(l, "\r")
			if strings.TrimSpace(l) == "" || kept[l] {
				continue
			}
			var k struct{ ExpireOn *string }
			if json.Unmarshal([]byte(strings.TrimSpace(l)), &k) != nil || k.ExpireOn == nil {
				t.Fatalf("line %q dropped without being an expired entry", l)
			}
			if exp, ok := parseExpiry(*k.ExpireOn); !ok || exp.After(now) {
				t.Fatalf("line %q dropped but not expired", l)
			}
		}
	})
}

func FuzzLineBuffer(f *testing.F) {
	f.Add("ab\ncd", 1)
	f.Add("\n\n\n", 2)
	f.Fuzz(func(t *testing.T, data string, cut int) {
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		var b lineBuffer
		got := append(b.Add(data[:cut]), b.Add(data[cut:])...)
		want := strings.Split(data, "\n")
		want = want[:len(want)-1]
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
			t.Fatalf("split at %d of %q: %q, want %q", cut, data, got, want)
		}
	})
}
