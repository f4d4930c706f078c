package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/endpoint"
)

// fakeOAuth is a minimal authorization server for the unit tests; the
// emulator-backed tests in auth_test exercise the real one.
type fakeOAuth struct {
	srv       *httptest.Server
	mu        sync.Mutex
	challenge string
	exchanges atomic.Int32
	revoked   []string
	scope     string // granted scope to report
	email     string
}

func newFakeOAuth(t *testing.T) (*fakeOAuth, endpoint.Endpoints) {
	f := &fakeOAuth{scope: strings.Join(Scopes, " "), email: "alice@example.com"}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch r.Form.Get("grant_type") {
		case "authorization_code":
			f.exchanges.Add(1)
			f.mu.Lock()
			ch := f.challenge
			f.mu.Unlock()
			if r.Form.Get("code") != "good-code" || oauth2.S256ChallengeFromVerifier(r.Form.Get("code_verifier")) != ch {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "Bearer", "scope": f.scope})
		case "refresh_token":
			if r.Form.Get("refresh_token") != "rt-1" {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "at-2", "expires_in": 3600, "token_type": "Bearer"})
		}
	})
	mux.HandleFunc("/oauth2/v2/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "Bearer at-1" && a != "Bearer at-2" {
			w.WriteHeader(401)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"email": f.email})
	})
	mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		f.revoked = append(f.revoked, r.Form.Get("token"))
		f.mu.Unlock()
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	e, err := endpoint.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return f, e
}

// browse plays the browser: it checks the authorization URL and follows the
// redirect with the given answer (code and state overrides).
func (f *fakeOAuth) browse(t *testing.T, authURL string, answer func(q url.Values) url.Values) {
	u, err := url.Parse(authURL)
	if err != nil {
		t.Error(err)
		return
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "access_type": "offline", "code_challenge_method": "S256", "client_id": "test-client"} {
		if q.Get(k) != want {
			t.Errorf("authorize URL %s=%q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("state") == "" || q.Get("code_challenge") == "" {
		t.Errorf("authorize URL lacks state or code_challenge: %s", authURL)
	}
	if !strings.Contains(q.Get("scope"), "cloud-platform") {
		t.Errorf("scope = %q", q.Get("scope"))
	}
	redirect := q.Get("redirect_uri")
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") {
		t.Errorf("redirect_uri %q is not a loopback address", redirect)
	}
	f.mu.Lock()
	f.challenge = q.Get("code_challenge")
	f.mu.Unlock()
	resp, err := http.Get(redirect + "?" + answer(q).Encode())
	if err != nil {
		t.Error(err)
		return
	}
	resp.Body.Close()
}

func TestLogin(t *testing.T) {
	good := func(q url.Values) url.Values { return url.Values{"code": {"good-code"}, "state": {q.Get("state")}} }
	tests := []struct {
		name      string
		answer    func(url.Values) url.Values
		scope     string
		wantErr   string
		exchanges int32
	}{
		{name: "ok", answer: good, exchanges: 1},
		{name: "state mismatch", answer: func(q url.Values) url.Values {
			return url.Values{"code": {"good-code"}, "state": {"forged"}}
		}, wantErr: "state does not match", exchanges: 0},
		{name: "denied", answer: func(q url.Values) url.Values {
			return url.Values{"error": {"access_denied"}, "state": {q.Get("state")}}
		}, wantErr: "access_denied", exchanges: 0},
		{name: "scope unticked", answer: good, scope: "openid email", wantErr: "did not grant https://www.googleapis.com/auth/cloud-platform", exchanges: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, e := newFakeOAuth(t)
			if tt.scope != "" {
				f.scope = tt.scope
			}
			store := NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
			done := make(chan struct{})
			creds, err := Login(context.Background(), LoginConfig{
				Endpoints: e, ClientID: "test-client", ClientSecret: "s", Store: store,
				ShowURL: func(u string) { go func() { defer close(done); f.browse(t, u, tt.answer) }() },
			})
			<-done
			if f.exchanges.Load() != tt.exchanges {
				t.Errorf("code exchanges = %d, want %d", f.exchanges.Load(), tt.exchanges)
			}
			si, _, _ := store.Load(StoreKey(e))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Login error = %v, want %q", err, tt.wantErr)
				}
				if si != nil {
					t.Fatal("a failed sign-in was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if creds.Email != "alice@example.com" || creds.Source != SourceSignIn {
				t.Fatalf("creds = %+v", creds)
			}
			if si == nil || si.RefreshToken != "rt-1" || si.Email != "alice@example.com" || si.ClientID != "test-client" {
				t.Fatalf("stored = %+v", si)
			}
			// The stored sign-in resolves and refreshes.
			t.Setenv(EnvAccessToken, "")
			rc, err := Resolve(context.Background(), e, store)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := rc.TokenSource.Token()
			if err != nil || tok.AccessToken != "at-2" {
				t.Fatalf("refresh = %v, %v", tok, err)
			}
			who, err := Logout(context.Background(), e, store)
			if err != nil || who != "alice@example.com" {
				t.Fatalf("Logout = %q, %v", who, err)
			}
			if len(f.revoked) != 1 || f.revoked[0] != "rt-1" {
				t.Fatalf("revoked = %v", f.revoked)
			}
			if _, err := Resolve(context.Background(), e, store); !errors.Is(err, ErrNotSignedIn) {
				t.Fatalf("after logout Resolve = %v, want ErrNotSignedIn", err)
			}
		})
	}
}

func TestLoginTimeoutAndCancel(t *testing.T) {
	_, e := newFakeOAuth(t)
	_, err := Login(context.Background(), LoginConfig{Endpoints: e, ClientID: "c", Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Login(ctx, LoginConfig{Endpoints: e, ClientID: "c", ShowURL: func(string) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestLoginRefusesPlaceholderClientForGoogle(t *testing.T) {
	_, err := Login(context.Background(), LoginConfig{Endpoints: endpoint.Google(), ClientID: DefaultClientID})
	if err == nil || !strings.Contains(err.Error(), EnvClientID) {
		t.Fatalf("err = %v", err)
	}
}

func TestReceiverIgnoresStrayRequests(t *testing.T) {
	r, err := newReceiver("st")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	for _, p := range []string{"favicon.ico", "", "other?code=x&state=st"} {
		resp, err := http.Get(r.redirectURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET /%s = %d, want 404", p, resp.StatusCode)
		}
	}
	resp, err := http.Get(r.redirectURL() + "?code=abc&state=st")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, err := r.wait(context.Background())
	if err != nil || code != "abc" {
		t.Fatalf("wait = %q, %v", code, err)
	}
}

func TestClientFromEnv(t *testing.T) {
	tests := []struct {
		flagID, flagSecret, envID, envSecret string
		wantID, wantSecret                   string
	}{
		{"", "", "", "", DefaultClientID, DefaultClientSecret},
		{"", "", "env-id", "env-s", "env-id", "env-s"},
		{"flag-id", "flag-s", "env-id", "env-s", "flag-id", "flag-s"},
		{"flag-id", "", "", "", "flag-id", ""},
	}
	for _, tt := range tests {
		t.Setenv(EnvClientID, tt.envID)
		t.Setenv(EnvClientSecret, tt.envSecret)
		id, s := ClientFromEnv(tt.flagID, tt.flagSecret)
		if id != tt.wantID || s != tt.wantSecret {
			t.Errorf("ClientFromEnv(%q,%q) with env (%q,%q) = %q,%q", tt.flagID, tt.flagSecret, tt.envID, tt.envSecret, id, s)
		}
	}
}

func TestMissingScopes(t *testing.T) {
	tests := []struct {
		scope string
		want  int
	}{
		{"", 0},
		{strings.Join(Scopes, " "), 0},
		{"openid email https://www.googleapis.com/auth/cloud-platform", 0},
		{"openid email", 1},
		{"https://www.googleapis.com/auth/cloud-platform", 2},
	}
	for _, tt := range tests {
		tok := (&oauth2.Token{}).WithExtra(map[string]any{"scope": tt.scope})
		if got := missingScopes(tok); len(got) != tt.want {
			t.Errorf("missingScopes(%q) = %v, want %d missing", tt.scope, got, tt.want)
		}
	}
}

func TestBrowserCommand(t *testing.T) {
	for goos, want := range map[string]string{"linux": "xdg-open", "freebsd": "xdg-open", "darwin": "open", "windows": "rundll32"} {
		name, args := browserCommand(goos, "http://x/")
		if name != want || args[len(args)-1] != "http://x/" {
			t.Errorf("%s: %s %v", goos, name, args)
		}
	}
}

func TestResolveSources(t *testing.T) {
	f, e := newFakeOAuth(t)
	store := NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")

	// A valid environment token wins and is identified through userinfo.
	t.Setenv(EnvAccessToken, "at-1")
	c, err := Resolve(context.Background(), e, store)
	if err != nil || c.Source != SourceEnv || c.Email != f.email {
		t.Fatalf("env token: %+v, %v", c, err)
	}
	// A rejected one says what to do.
	t.Setenv(EnvAccessToken, "expired")
	if _, err := Resolve(context.Background(), e, store); !errors.Is(err, ErrSignInExpired) || !strings.Contains(err.Error(), EnvAccessToken) ||
		!strings.HasSuffix(err.Error(), "and sign in with `iapterm auth login`") {
		t.Fatalf("expired env token: %v", err)
	}
	t.Setenv(EnvAccessToken, "")

	// A revoked stored refresh token gives the invalid_grant message.
	if _, err := store.Save(StoreKey(e), SignIn{Email: "alice@example.com", RefreshToken: "revoked", ClientID: "c"}); err != nil {
		t.Fatal(err)
	}
	c, err = Resolve(context.Background(), e, store)
	if err != nil || c.Source != SourceSignIn {
		t.Fatalf("stored: %+v, %v", c, err)
	}
	if _, err := c.TokenSource.Token(); !errors.Is(err, ErrSignInExpired) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "iapterm auth login") {
		t.Fatalf("revoked refresh: %v", err)
	}
	store.Delete(StoreKey(e))

	// ADC from an explicit authorized_user file refreshing at token_uri.
	adc := filepath.Join(t.TempDir(), "adc.json")
	data, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "rt-1", "token_uri": e.OAuthToken})
	if err := writeTestFile(adc, data); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
	c, err = Resolve(context.Background(), e, store)
	if err != nil || c.Email != f.email || !strings.Contains(c.Source, adc) {
		t.Fatalf("ADC: %+v, %v", c, err)
	}
	// Without it, an emulator endpoint never reads gcloud's well-known file.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	if _, err := Resolve(context.Background(), e, store); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("nothing configured: %v", err)
	}
}

func writeTestFile(path string, data []byte) error { return WriteFileAtomic(path, data, 0o600) }
