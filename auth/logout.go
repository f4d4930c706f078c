package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"iapterm/endpoint"
)

// Logout revokes the stored sign-in for the endpoints at the OAuth revoke
// endpoint and deletes it. It returns the account that was signed out ("" when
// nothing was stored). The sign-in is deleted even when revocation fails; the
// returned error then says so.
func Logout(ctx context.Context, e endpoint.Endpoints, store *Store) (string, error) {
	key := StoreKey(e)
	si, _, err := store.Load(key)
	if err != nil {
		return "", err
	}
	if si == nil {
		return "", nil
	}
	revokeErr := revoke(ctx, e, si.RefreshToken)
	if err := store.Delete(key); err != nil {
		return si.Email, fmt.Errorf("deleting the stored sign-in: %w", err)
	}
	if revokeErr != nil {
		return si.Email, fmt.Errorf("the sign-in was deleted locally but not revoked: %w", revokeErr)
	}
	return si.Email, nil
}

func revoke(ctx context.Context, e endpoint.Endpoints, token string) error {
	hc, err := e.HTTPClient()
	if err != nil {
		return err
	}
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.OAuthRevoke, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := tokenClient(hc).Do(req)
	if err != nil {
		return fmt.Errorf("revoking the refresh token: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	// 400 invalid_token means it was already revoked: the goal is reached.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
		return fmt.Errorf("revoking the refresh token: HTTP %d", resp.StatusCode)
	}
	return nil
}
