package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"iapterm/auth"
	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/projects"
)

func startEmulator(t *testing.T) (*emulator.Server, endpoint.Endpoints) {
	t.Helper()
	srv, eps := emutest.Serve(t, world.Demo(), emulator.Options{AgentDelay: -1})
	t.Setenv(auth.EnvAccessToken, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	return srv, eps
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consent plays the user in a browser: it loads the authorization page,
// picks the account and presses Allow (or Cancel); the HTTP client follows
// the redirect to iapterm's loopback receiver.
func consent(t *testing.T, authURL, account, action string) {
	resp, err := http.Get(authURL)
	if err != nil {
		t.Error(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("authorize page: HTTP %d: %s", resp.StatusCode, body)
		return
	}
	form := url.Values{"login": {account}, "action": {action}}
	for _, m := range inputRE.FindAllStringSubmatch(string(body), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	u, _ := url.Parse(authURL)
	resp, err = http.PostForm(u.Scheme+"://"+u.Host+u.Path, form)
	if err != nil {
		t.Error(err)
		return
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if action == "allow" && !strings.Contains(string(page), "Signed in to iapterm") {
		t.Errorf("redirect page: %s", page)
	}
}

func TestLoginAgainstEmulator(t *testing.T) {
	srv, eps := startEmulator(t)
	ctx := context.Background()
	store := auth.NewFileStore(filepath.Join(t.TempDir(), "iapterm", "credentials.json"))
	done := make(chan struct{})
	creds, err := auth.Login(ctx, auth.LoginConfig{
		Endpoints: eps, ClientID: auth.DefaultClientID, ClientSecret: auth.DefaultClientSecret, Store: store,
		ShowURL: func(u string) { go func() { defer close(done); consent(t, u, "ops@example.com", "allow") }() },
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if creds.Email != "ops@example.com" {
		t.Fatalf("signed in as %q", creds.Email)
	}

	// Later commands resolve the stored sign-in and reach the APIs with it.
	rc, err := auth.Resolve(ctx, eps, store)
	if err != nil || rc.Source != auth.SourceSignIn || rc.Email != "ops@example.com" {
		t.Fatalf("Resolve: %+v, %v", rc, err)
	}
	c, err := projects.NewClient(ctx, eps, rc.TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Instance(ctx, "acme-prod", "us-central1-a", "web-1"); err != nil {
		t.Fatalf("API call with the stored sign-in: %v", err)
	}

	// Revoking the refresh token elsewhere: the next refresh says what to do.
	si, _, _ := store.Load(auth.StoreKey(eps))
	resp, err := http.PostForm(eps.OAuthRevoke, url.Values{"token": {si.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rc, err = auth.Resolve(ctx, eps, store)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rc.TokenSource.Token()
	if !errors.Is(err, auth.ErrSignInExpired) || !strings.Contains(err.Error(), "sign in again: the refresh token was revoked or expired (invalid_grant): run `iapterm auth login`") {
		t.Fatalf("revoked refresh token: %v", err)
	}
	c, _ = projects.NewClient(ctx, eps, rc.TokenSource)
	if _, err := c.Instance(ctx, "acme-prod", "us-central1-a", "web-1"); !errors.Is(err, auth.ErrSignInExpired) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("API call after revocation: %v", err)
	}
	_ = srv
}

func TestLoginCancelledOnConsentPage(t *testing.T) {
	_, eps := startEmulator(t)
	store := auth.NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
	done := make(chan struct{})
	_, err := auth.Login(context.Background(), auth.LoginConfig{
		Endpoints: eps, ClientID: "c", Store: store,
		ShowURL: func(u string) { go func() { defer close(done); consent(t, u, "demo@example.com", "deny") }() },
	})
	<-done
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("cancelled sign-in: %v", err)
	}
	if si, _, _ := store.Load(auth.StoreKey(eps)); si != nil {
		t.Fatal("a cancelled sign-in was stored")
	}
}

func TestLogoutRevokes(t *testing.T) {
	_, eps := startEmulator(t)
	ctx := context.Background()
	store := auth.NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
	done := make(chan struct{})
	_, err := auth.Login(ctx, auth.LoginConfig{
		Endpoints: eps, ClientID: "c", Store: store,
		ShowURL: func(u string) { go func() { defer close(done); consent(t, u, "demo@example.com", "allow") }() },
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	si, _, _ := store.Load(auth.StoreKey(eps))
	who, err := auth.Logout(ctx, eps, store)
	if err != nil || who != "demo@example.com" {
		t.Fatalf("Logout = %q, %v", who, err)
	}
	// The refresh token is dead at the server, not just forgotten locally.
	resp, err := http.PostForm(eps.OAuthToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {si.RefreshToken}, "client_id": {"c"}})
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body.Error != "invalid_grant" {
		t.Fatalf("refresh after logout: %d %q", resp.StatusCode, body.Error)
	}
	if _, err := auth.Resolve(ctx, eps, store); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Fatalf("Resolve after logout: %v", err)
	}
}

func TestResolveFromEmulator(t *testing.T) {
	srv, eps := startEmulator(t)
	ctx := context.Background()
	store := auth.NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))

	t.Setenv(auth.EnvAccessToken, srv.Token())
	c, err := auth.Resolve(ctx, eps, store)
	if err != nil || c.Email != "demo@example.com" || c.Source != auth.SourceEnv {
		t.Fatalf("env token: %+v, %v", c, err)
	}
	t.Setenv(auth.EnvAccessToken, "not-a-token")
	if _, err := auth.Resolve(ctx, eps, store); !errors.Is(err, auth.ErrSignInExpired) {
		t.Fatalf("bad env token: %v", err)
	}
	t.Setenv(auth.EnvAccessToken, "")

	// An authorized_user ADC file whose token_uri points at the emulator.
	rt := loginRefreshToken(t, eps)
	adc := filepath.Join(t.TempDir(), "adc.json")
	data, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": rt, "token_uri": eps.OAuthToken})
	if err := os.WriteFile(adc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
	c, err = auth.Resolve(ctx, eps, store)
	if err != nil || c.Email != "ops@example.com" || !strings.Contains(c.Source, "application default credentials ("+adc+")") {
		t.Fatalf("ADC: %+v, %v", c, err)
	}
	if exp, err := c.Expiry(); err != nil || exp.IsZero() {
		t.Fatalf("ADC token expiry: %v, %v", exp, err)
	}
}

// loginRefreshToken signs ops@example.com in without storing and returns the
// refresh token, as gcloud would have written it into an ADC file.
func loginRefreshToken(t *testing.T, eps endpoint.Endpoints) string {
	store := auth.NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
	done := make(chan struct{})
	_, err := auth.Login(context.Background(), auth.LoginConfig{
		Endpoints: eps, ClientID: "c", Store: store,
		ShowURL: func(u string) { go func() { defer close(done); consent(t, u, "ops@example.com", "allow") }() },
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	si, _, err := store.Load(auth.StoreKey(eps))
	if err != nil || si == nil {
		t.Fatal(err)
	}
	return si.RefreshToken
}
