package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iapterm/endpoint"
)

// TestTokenAndRevokeRequestsGiveUp: a token or revoke endpoint that takes
// the request and does not answer ends in an error after tokenTimeout,
// instead of hanging the API call (token sources run without a context) or
// the logout. The server answers after a long wait, so without the limit
// the calls succeed late and the test fails rather than hangs.
func TestTokenAndRevokeRequestsGiveUp(t *testing.T) {
	old := tokenTimeout
	tokenTimeout = 50 * time.Millisecond
	t.Cleanup(func() { tokenTimeout = old })
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"late","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	e, err := endpoint.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAccessToken, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	store := NewFileStore(filepath.Join(t.TempDir(), "credentials.json"))
	if _, err := store.Save(StoreKey(e), SignIn{Email: "alice@example.com", RefreshToken: "rt-secret", ClientID: "c"}); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(context.Background(), e, store)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource.Token()
	if err == nil {
		t.Fatalf("a token endpoint that does not answer gave the token %q", tok.AccessToken)
	}
	if !strings.Contains(err.Error(), "refreshing the access token") || strings.Contains(err.Error(), "rt-secret") {
		t.Fatalf("refresh error %q", err)
	}
	who, err := Logout(context.Background(), e, store)
	if err == nil || who != "alice@example.com" || !strings.Contains(err.Error(), "not revoked") || strings.Contains(err.Error(), "rt-secret") {
		t.Fatalf("Logout = %q, %v; want the account and a 'not revoked' error", who, err)
	}
}

// TestTokenServerErrorsSayWhatToDo: a token server in trouble (5xx, 429)
// is not a reason to sign in again; a rejected client names the settings
// only for iapterm's own client, not for one from an ADC file.
func TestTokenServerErrorsSayWhatToDo(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	e, err := endpoint.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAccessToken, "")
	dir := t.TempDir()
	store := NewFileStore(filepath.Join(dir, "credentials.json"))
	if _, err := store.Save(StoreKey(e), SignIn{Email: "alice@example.com", RefreshToken: "rt-secret", ClientID: "c"}); err != nil {
		t.Fatal(err)
	}
	adc := filepath.Join(dir, "adc.json")
	if err := writeTestFile(adc, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"rt-secret","token_uri":"`+e.OAuthToken+`"}`)); err != nil {
		t.Fatal(err)
	}
	signIn := func() (*Credentials, error) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
		return Resolve(context.Background(), e, store)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"unavailable", `{"error":"backend_error"}`, 503,
			"getting an access token failed: the token server answered HTTP 503, backend_error, a problem on its side that usually passes: try again shortly"},
		{"rate limited", `{}`, 429,
			"getting an access token failed: the token server answered HTTP 429, a problem on its side that usually passes: try again shortly"},
		{"bad request", `{"error":"invalid_scope"}`, 400,
			"refreshing the access token failed (HTTP 400, invalid_scope): run `iapterm auth login`"},
		{"odd error code", `{"error":"\u001b[2Jx"}`, 400,
			"refreshing the access token failed (HTTP 400): run `iapterm auth login`"},
		{"client", `{"error":"invalid_client"}`, 401,
			"the OAuth client was rejected (invalid_client): check " + EnvClientID + "/" + EnvClientSecret + " and run `iapterm auth login`"},
		{"revoked", `{"error":"invalid_grant"}`, 400,
			"sign in again: the refresh token was revoked or expired (invalid_grant): run `iapterm auth login`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := signIn()
			if err != nil {
				t.Fatal(err)
			}
			status, body = tc.status, tc.body
			if _, err = c.TokenSource.Token(); err == nil || err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}

	// A client from an ADC file is not iapterm's to configure.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
	status, body = 401, `{"error":"invalid_client"}`
	_, err = Resolve(context.Background(), e, nil)
	if !errors.Is(err, ErrSignInExpired) || !strings.HasSuffix(err.Error(), "fix or replace GOOGLE_APPLICATION_CREDENTIALS="+adc) || strings.Contains(err.Error(), EnvClientID) {
		t.Fatalf("ADC with a rejected client: %v", err)
	}
}
