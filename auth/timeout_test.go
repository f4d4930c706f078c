package auth

import (
	"context"
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
