package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"iapterm/endpoint"
)

// OAuth client settings. The defaults name iapterm's own Desktop OAuth
// client; a real registration replaces DefaultClientID in release builds or
// comes from the environment.
const (
	EnvClientID     = "IAPTERM_OAUTH_CLIENT_ID"
	EnvClientSecret = "IAPTERM_OAUTH_CLIENT_SECRET"
	// DefaultClientID is a placeholder for iapterm's own Desktop client. It
	// is not registered with Google; the emulator accepts any client ID.
	DefaultClientID = "iapterm-desktop-client-placeholder.apps.googleusercontent.com"
	// DefaultClientSecret belongs to DefaultClientID. Desktop client secrets
	// are not confidential (RFC 8252); PKCE protects the exchange.
	DefaultClientSecret = "iapterm-desktop-client-placeholder-secret"
	// DefaultLoginTimeout bounds how long Login waits for the browser.
	DefaultLoginTimeout = 5 * time.Minute
)

// ClientFromEnv returns the OAuth client ID and secret: flag values first,
// then IAPTERM_OAUTH_CLIENT_ID / IAPTERM_OAUTH_CLIENT_SECRET, then the
// defaults.
func ClientFromEnv(flagID, flagSecret string) (id, secret string) {
	id, secret = flagID, flagSecret
	if id == "" {
		id = os.Getenv(EnvClientID)
	}
	if secret == "" {
		secret = os.Getenv(EnvClientSecret)
	}
	if id == "" {
		id = DefaultClientID
		if secret == "" {
			secret = DefaultClientSecret
		}
	}
	return id, secret
}

// LoginConfig configures the installed-app sign-in.
type LoginConfig struct {
	Endpoints    endpoint.Endpoints
	ClientID     string
	ClientSecret string
	// Store receives the refresh token; nil means do not store.
	Store *Store
	// ShowURL is called with the authorization URL once the loopback
	// receiver listens (print it for the user).
	ShowURL func(authURL string)
	// OpenBrowser opens the URL; nil means the user opens it.
	OpenBrowser func(authURL string) error
	// LoginHint pre-fills the account on the consent page.
	LoginHint string
	// Timeout bounds the wait for the browser (DefaultLoginTimeout when 0).
	Timeout time.Duration
}

// Login runs the OAuth installed-app flow: a loopback redirect on a free
// 127.0.0.1 port, PKCE (S256), a random state, offline access. It checks the
// granted scopes, learns the email from userinfo and stores the sign-in.
func Login(ctx context.Context, cfg LoginConfig) (*Credentials, error) {
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = ClientFromEnv("", "")
	}
	if cfg.ClientID == DefaultClientID && !cfg.Endpoints.IsEmulator() {
		return nil, fmt.Errorf("this build of iapterm has no registered Google OAuth client: create an OAuth client of type \"Desktop app\" in your Google Cloud project, then set %s and %s (or pass --client-id and --client-secret); or use `gcloud auth application-default login`", EnvClientID, EnvClientSecret)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultLoginTimeout
	}
	hc, err := cfg.Endpoints.HTTPClient()
	if err != nil {
		return nil, err
	}
	state, err := randomState()
	if err != nil {
		return nil, err
	}
	rcv, err := newReceiver(state)
	if err != nil {
		return nil, err
	}
	defer rcv.close()

	oc := oauthConfig(cfg.Endpoints, cfg.ClientID, cfg.ClientSecret, rcv.redirectURL())
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{
		oauth2.AccessTypeOffline,
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent"),
	}
	if cfg.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", cfg.LoginHint))
	}
	authURL := oc.AuthCodeURL(state, opts...)
	if cfg.ShowURL != nil {
		cfg.ShowURL(authURL)
	}
	if cfg.OpenBrowser != nil {
		// A browser that fails to open is not fatal: the URL was shown.
		_ = cfg.OpenBrowser(authURL)
	}

	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := rcv.wait(wctx)
	if err != nil {
		return nil, err
	}

	xctx := context.WithValue(ctx, oauth2.HTTPClient, tokenClient(hc))
	tok, err := oc.Exchange(xctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the authorization code: %w", explainTokenError(err, "run `iapterm auth login` again", true))
	}
	if missing := missingScopes(tok); len(missing) > 0 {
		return nil, fmt.Errorf("the sign-in did not grant %s: run `iapterm auth login` again and allow every requested permission", strings.Join(missing, ", "))
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("the sign-in returned no refresh token: remove iapterm's access in your Google account's third-party access settings, then run `iapterm auth login` again")
	}
	email, err := UserInfo(ctx, cfg.Endpoints, hc, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("signed in, but could not learn the account's email: %w", err)
	}
	si := SignIn{
		Email:        email,
		RefreshToken: tok.RefreshToken,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Scopes:       Scopes,
		Created:      time.Now().UTC(),
	}
	creds := &Credentials{Source: SourceSignIn, Email: email}
	if cfg.Store != nil {
		where, err := cfg.Store.Save(StoreKey(cfg.Endpoints), si)
		if err != nil {
			return nil, fmt.Errorf("signed in as %s but could not store the sign-in: %w", email, err)
		}
		creds.Location = where
	}
	rctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, tokenClient(hc))
	creds.TokenSource = explained{src: oc.TokenSource(rctx, tok), hint: "run `iapterm auth login`", own: true}
	return creds, nil
}

// missingScopes lists required scopes absent from the token's granted
// "scope". An absent field means the request was granted as asked (RFC 6749
// section 5.1).
func missingScopes(tok *oauth2.Token) []string {
	s, _ := tok.Extra("scope").(string)
	if s == "" {
		return nil
	}
	granted := strings.Fields(s)
	var missing []string
	for _, want := range Scopes {
		ok := slices.Contains(granted, want)
		// Google sometimes reports the email scope by its short name.
		if !ok && want == Scopes[2] {
			ok = slices.Contains(granted, "email")
		}
		if !ok {
			missing = append(missing, want)
		}
	}
	return missing
}

func randomState() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// receiver is the loopback HTTP server the browser is redirected to.
type receiver struct {
	ln     net.Listener
	srv    *http.Server
	state  string
	result chan redirectResult
}

type redirectResult struct {
	code string
	err  error
}

func newReceiver(state string) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("opening a loopback port for the sign-in redirect: %w", err)
	}
	r := &receiver{ln: ln, state: state, result: make(chan redirectResult, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) redirectURL() string { return "http://" + r.ln.Addr().String() + "/" }

// close lets a page being written finish (closing at once would show the
// browser a reset connection instead of the outcome), then stops.
func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r.srv.Shutdown(ctx) != nil {
		r.srv.Close()
	}
}

func (r *receiver) deliver(res redirectResult) {
	select {
	case r.result <- res:
	default: // only the first redirect counts
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if req.URL.Path != "/" || (q.Get("code") == "" && q.Get("error") == "" && q.Get("state") == "") {
		http.NotFound(w, req)
		return
	}
	switch {
	case q.Get("state") != r.state:
		page(w, http.StatusBadRequest, "Sign-in failed", "The answer did not carry the state iapterm sent, so it was refused. Run <code>iapterm auth login</code> again.")
		r.deliver(redirectResult{err: errors.New("sign-in refused: the redirect's state does not match the one iapterm sent (a stale or forged redirect); run `iapterm auth login` again")})
	case q.Get("error") != "":
		e := q.Get("error")
		page(w, http.StatusOK, "Sign-in cancelled", "iapterm was not given access ("+html.EscapeString(e)+"). You can close this tab.")
		r.deliver(redirectResult{err: fmt.Errorf("sign-in was not completed: the authorization server answered %q", e)})
	case q.Get("code") == "":
		page(w, http.StatusBadRequest, "Sign-in failed", "The answer carried no authorization code. Run <code>iapterm auth login</code> again.")
		r.deliver(redirectResult{err: errors.New("the sign-in redirect carried no authorization code")})
	default:
		page(w, http.StatusOK, "Signed in to iapterm", "You can close this tab and return to the terminal.")
		r.deliver(redirectResult{code: q.Get("code")})
	}
}

func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title>
<style>body{font-family:system-ui,sans-serif;margin:4em auto;max-width:32em;color:#222}h1{font-size:1.4em}</style>
</head><body><h1>%s</h1><p>%s</p></body></html>`, title, title, body)
}

func (r *receiver) wait(ctx context.Context) (string, error) {
	select {
	case res := <-r.result:
		return res.code, res.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", errors.New("timed out waiting for the browser sign-in: run `iapterm auth login` again (use --no-browser to open the URL yourself)")
		}
		return "", fmt.Errorf("sign-in cancelled: %w", ctx.Err())
	}
}
