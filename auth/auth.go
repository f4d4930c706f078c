// Package auth decides who the user is: an access token from the
// environment, iapterm's own OAuth sign-in (loopback redirect with PKCE,
// refresh token kept in the OS keyring), or Application Default Credentials.
// It never prints; callers show what it returns.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"iapterm/endpoint"
)

// EnvAccessToken supplies a bearer token directly (CI, scripts, emulator).
const EnvAccessToken = "IAPTERM_ACCESS_TOKEN"

// Scopes iapterm asks for and requires in a granted token.
var Scopes = []string{
	"https://www.googleapis.com/auth/cloud-platform",
	"openid",
	"https://www.googleapis.com/auth/userinfo.email",
}

// Source names, as shown by `iapterm auth status`.
const (
	SourceEnv    = EnvAccessToken
	SourceSignIn = "iapterm sign-in"
	sourceADC    = "application default credentials"
)

// ErrNotSignedIn means no credential source is configured.
var ErrNotSignedIn = errors.New("not signed in: run `iapterm auth login`, or set IAPTERM_ACCESS_TOKEN, or set up application default credentials (`gcloud auth application-default login`)")

// ErrSignInExpired marks errors that only a new sign-in can fix (revoked or
// expired refresh token, rejected access token).
var ErrSignInExpired = errors.New("sign in again")

// signInError is an ErrSignInExpired whose message already says what to
// do, so it does not end in ": sign in again" as a wrapped error would.
type signInError string

func (e signInError) Error() string        { return string(e) }
func (e signInError) Is(target error) bool { return target == ErrSignInExpired }

// Credentials are the resolved identity and a source of access tokens.
type Credentials struct {
	TokenSource oauth2.TokenSource
	// Source is SourceEnv, SourceSignIn or
	// "application default credentials (PATH)".
	Source string
	// Email is the account, when known.
	Email string
	// Location says where a stored sign-in lives ("OS keyring" or a file).
	Location string
}

// Resolve finds credentials for the endpoints, in order: IAPTERM_ACCESS_TOKEN,
// iapterm's stored sign-in for these endpoints, then Application Default
// Credentials. For an emulator endpoint, ADC is used only from an explicit
// GOOGLE_APPLICATION_CREDENTIALS file, so real Google credentials never leave
// for an emulator by accident.
func Resolve(ctx context.Context, e endpoint.Endpoints, store *Store) (*Credentials, error) {
	hc, err := e.HTTPClient()
	if err != nil {
		return nil, err
	}
	if tok := strings.TrimSpace(os.Getenv(EnvAccessToken)); tok != "" {
		return fromAccessToken(ctx, e, hc, tok)
	}
	if store != nil {
		si, where, err := store.Load(StoreKey(e))
		if err != nil {
			return nil, err
		}
		if si != nil {
			return &Credentials{
				TokenSource: signInTokenSource(ctx, e, hc, si),
				Source:      SourceSignIn,
				Email:       si.Email,
				Location:    where,
			}, nil
		}
	}
	return fromADC(ctx, e, hc)
}

func fromAccessToken(ctx context.Context, e endpoint.Endpoints, hc *http.Client, tok string) (*Credentials, error) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
	c := &Credentials{TokenSource: ts, Source: SourceEnv}
	email, err := UserInfo(ctx, e, hc, ts)
	switch {
	case err == nil:
		c.Email = email
	case errors.Is(err, ErrSignInExpired):
		return nil, signInError(fmt.Sprintf("the access token in %s was rejected (expired or revoked): get a fresh one (e.g. `gcloud auth print-access-token`), or unset %s and sign in with `iapterm auth login`", EnvAccessToken, EnvAccessToken))
	default:
		// Unreachable userinfo must not block CI that only has API access.
	}
	return c, nil
}

// tokenTimeout bounds one request to the token or revoke endpoint. Token
// sources run without the caller's context (oauth2's transport asks them
// for a token with none), so without it a server that accepts the request
// and never answers would hang every API call, beyond the reach of Ctrl-C.
var tokenTimeout = 30 * time.Second

// tokenClient is hc with tokenTimeout.
func tokenClient(hc *http.Client) *http.Client {
	c := *hc
	c.Timeout = tokenTimeout
	return &c
}

// signInTokenSource refreshes the stored sign-in against the token endpoint.
func signInTokenSource(ctx context.Context, e endpoint.Endpoints, hc *http.Client, si *SignIn) oauth2.TokenSource {
	cfg := oauthConfig(e, si.ClientID, si.ClientSecret, "")
	// The token source outlives the command's context; keep only its values.
	rctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, tokenClient(hc))
	ts := cfg.TokenSource(rctx, &oauth2.Token{RefreshToken: si.RefreshToken})
	return explained{src: ts, hint: "run `iapterm auth login`", own: true}
}

func oauthConfig(e endpoint.Endpoints, id, secret, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Scopes:       Scopes,
		RedirectURL:  redirect,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.OAuthAuthorize,
			TokenURL:  e.OAuthToken,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// explained turns token-endpoint failures into what the user should do.
type explained struct {
	src  oauth2.TokenSource
	hint string
	// own: the OAuth client is iapterm's (IAPTERM_OAUTH_CLIENT_ID), not
	// one from a credentials file.
	own bool
}

func (x explained) Token() (*oauth2.Token, error) {
	t, err := x.src.Token()
	if err != nil {
		return nil, explainTokenError(err, x.hint, x.own)
	}
	return t, nil
}

func explainTokenError(err error, hint string, own bool) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		// signInError: these say what to do already, without a trailing
		// ": sign in again".
		case "invalid_grant":
			return signInError("sign in again: the refresh token was revoked or expired (invalid_grant): " + hint)
		case "invalid_client", "unauthorized_client":
			if own {
				return signInError(fmt.Sprintf("the OAuth client was rejected (%s): check %s/%s and %s", re.ErrorCode, EnvClientID, EnvClientSecret, hint))
			}
			return signInError(fmt.Sprintf("the OAuth client was rejected (%s): %s", re.ErrorCode, hint))
		}
		if re.Response != nil {
			status := fmt.Sprintf("HTTP %d", re.Response.StatusCode)
			if plainWord(re.ErrorCode) {
				status += ", " + re.ErrorCode
			}
			// The server's trouble, not the sign-in's: signing in again
			// would not help.
			if re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests {
				return fmt.Errorf("getting an access token failed: the token server answered %s, a problem on its side that usually passes: try again shortly", status)
			}
			return fmt.Errorf("refreshing the access token failed (%s): %s", status, hint)
		}
	}
	return fmt.Errorf("refreshing the access token: %w", err)
}

// plainWord says whether s is a non-empty OAuth error code made of
// letters, digits and "_.-", safe to show as it is.
func plainWord(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// adcPath is the ADC file: GOOGLE_APPLICATION_CREDENTIALS, else gcloud's
// well-known file. explicit tells which.
func adcPath() (path string, explicit bool) {
	if p := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		return p, true
	}
	const name = "application_default_credentials.json"
	if runtime.GOOS == "windows" {
		return filepath.Join(os.Getenv("APPDATA"), "gcloud", name), false
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".config", "gcloud", name), false
}

func fromADC(ctx context.Context, e endpoint.Endpoints, hc *http.Client) (*Credentials, error) {
	path, explicit := adcPath()
	if e.IsEmulator() && !explicit {
		return nil, ErrNotSignedIn
	}
	rctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, tokenClient(hc))
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS=%s: %w", path, err)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading application default credentials: %w", err)
		}
		// No file: on Google Compute Engine the metadata server still works.
		creds, ferr := google.FindDefaultCredentials(rctx, Scopes[0])
		if ferr != nil {
			return nil, ErrNotSignedIn
		}
		return &Credentials{
			TokenSource: explained{src: creds.TokenSource, hint: "check the VM's service account and scopes"},
			Source:      sourceADC + " (metadata server)",
		}, nil
	}
	var head struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("application default credentials %s are not valid JSON: %w", path, err)
	}
	switch google.CredentialsType(head.Type) {
	case google.AuthorizedUser, google.ServiceAccount, google.ExternalAccount,
		google.ExternalAccountAuthorizedUser, google.ImpersonatedServiceAccount:
	default:
		return nil, fmt.Errorf("application default credentials %s have unsupported type %q", path, head.Type)
	}
	creds, err := google.CredentialsFromJSONWithTypeAndParams(rctx, data, google.CredentialsType(head.Type), google.CredentialsParams{Scopes: []string{Scopes[0]}})
	if err != nil {
		return nil, fmt.Errorf("application default credentials %s: %w", path, err)
	}
	hint := "run `gcloud auth application-default login`"
	if explicit {
		hint = "fix or replace GOOGLE_APPLICATION_CREDENTIALS=" + path
	}
	c := &Credentials{
		TokenSource: oauth2.ReuseTokenSource(nil, explained{src: creds.TokenSource, hint: hint}),
		Source:      sourceADC + " (" + path + ")",
		Email:       head.ClientEmail,
	}
	if c.Email == "" && head.Type == string(google.AuthorizedUser) {
		if email, err := UserInfo(ctx, e, hc, c.TokenSource); err == nil {
			c.Email = email
		} else if errors.Is(err, ErrSignInExpired) {
			return nil, err
		}
	}
	return c, nil
}

// UserInfo returns the email of the token's account from the userinfo
// endpoint. A rejected token or refresh wraps ErrSignInExpired.
func UserInfo(ctx context.Context, e endpoint.Endpoints, hc *http.Client, ts oauth2.TokenSource) (string, error) {
	tok, err := ts.Token()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.UserInfo, nil)
	if err != nil {
		return "", err
	}
	tok.SetAuthHeader(req)
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("asking who the account is: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", fmt.Errorf("userinfo rejected the access token: %w", ErrSignInExpired)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("userinfo answered HTTP %d: check the endpoint (iapterm doctor) and try again", resp.StatusCode)
	}
	var info struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("userinfo answer is not JSON: %w", err)
	}
	if info.Email == "" {
		return "", errors.New("userinfo has no email: the token lacks the userinfo.email scope; sign in again with `iapterm auth login`")
	}
	return info.Email, nil
}

// Expiry fetches a current access token and returns its expiry (zero when
// unknown), for status displays. The token itself must never be printed.
func (c *Credentials) Expiry() (time.Time, error) {
	t, err := c.TokenSource.Token()
	if err != nil {
		return time.Time{}, err
	}
	return t.Expiry, nil
}
