package api

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 10 * time.Minute

type authCode struct {
	clientID, redirectURI, challenge, scope, email string
	expires                                        time.Time
	used                                           bool
}

type refreshToken struct {
	email, clientID, scope string
	access                 []string
}

// oauthState holds authorization codes and refresh tokens.
type oauthState struct {
	mu      sync.Mutex
	codes   map[string]*authCode
	refresh map[string]*refreshToken
	// scopes of access tokens issued here (for tokeninfo); the world's
	// fixed tokens have every scope.
	scopes map[string]string
}

func newOAuthState() *oauthState {
	return &oauthState{codes: map[string]*authCode{}, refresh: map[string]*refreshToken{}, scopes: map[string]string{}}
}

// allScopes are the scopes of tokens not issued through OAuth here.
const allScopes = "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform"

func randomString(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// authRequest is a validated authorization request.
type authRequest struct {
	ClientID, RedirectURI, Scope, State, Challenge, LoginHint string
}

// parseAuthRequest validates the parameters of the authorization endpoint
// as Google does for installed apps: a client, a loopback redirect, the
// code flow, and PKCE with S256 (this emulator insists on it).
func parseAuthRequest(v url.Values) (authRequest, string) {
	ar := authRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), Scope: v.Get("scope"),
		State: v.Get("state"), Challenge: v.Get("code_challenge"), LoginHint: v.Get("login_hint"),
	}
	switch {
	case ar.ClientID == "":
		return ar, "Missing required parameter: client_id"
	case ar.RedirectURI == "":
		return ar, "Missing required parameter: redirect_uri"
	case !loopbackRedirect(ar.RedirectURI):
		return ar, "redirect_uri_mismatch: installed apps must redirect to a loopback address such as http://127.0.0.1:PORT/"
	case v.Get("response_type") != "code":
		return ar, "Invalid response_type " + strconv.Quote(v.Get("response_type")) + ": use code"
	case ar.Scope == "":
		return ar, "Missing required parameter: scope"
	case ar.Challenge == "":
		return ar, "Missing required parameter: code_challenge (use PKCE with S256)"
	case v.Get("code_challenge_method") != "S256":
		return ar, "Invalid code_challenge_method " + strconv.Quote(v.Get("code_challenge_method")) + ": use S256"
	}
	return ar, ""
}

func loopbackRedirect(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

var consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in - iapterm emulator</title>
<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}label{display:block;margin:.4em 0}button{margin-right:1em;padding:.4em 1.2em}</style>
</head><body>
<h1>Sign in to the emulated Google Cloud</h1>
<p>The application <code>{{.ClientID}}</code> asks for access to your account.</p>

<form method="post" action="/o/oauth2/v2/auth">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="code_challenge" value="{{.Challenge}}">
<input type="hidden" name="code_challenge_method" value="S256">
<input type="hidden" name="scopes_form" value="1">
<fieldset><legend>Permissions (untick to refuse one)</legend>
{{range .Scopes}}<label><input type="checkbox" name="grant_scope" value="{{.}}" checked> <code>{{.}}</code></label>
{{end}}</fieldset>
<fieldset><legend>Choose an account</legend>
{{range $i, $u := .Users}}<label><input type="radio" name="login" value="{{$u.Email}}"{{if $u.Checked}} checked{{end}}> {{$u.Email}}{{if $u.Name}} ({{$u.Name}}){{end}}</label>
{{end}}</fieldset>
<p><button type="submit" name="action" value="allow">Allow</button><button type="submit" name="action" value="deny">Cancel</button></p>
</form></body></html>
`))

type consentUser struct {
	Email, Name string
	Checked     bool
}

func oauthPageError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	template.Must(template.New("e").Parse(`<!DOCTYPE html><html><body><h1>Error 400: invalid_request</h1><p>{{.}}</p></body></html>`)).Execute(w, msg)
}

// authorize is the consent page (GET) and its answer (POST).
func (a *API) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthPageError(w, "Malformed request: "+err.Error())
		return
	}
	ar, problem := parseAuthRequest(r.Form)
	if problem != "" {
		oauthPageError(w, problem)
		return
	}
	if r.Method == http.MethodGet {
		var users []consentUser
		for i, u := range a.c.Users() {
			checked := i == 0
			if ar.LoginHint != "" {
				checked = strings.EqualFold(u.Email, ar.LoginHint)
			}
			users = append(users, consentUser{Email: u.Email, Name: u.Name, Checked: checked})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		consentPage.Execute(w, map[string]any{
			"ClientID": ar.ClientID, "RedirectURI": ar.RedirectURI, "Scope": ar.Scope, "Scopes": strings.Fields(ar.Scope),
			"State": ar.State, "Challenge": ar.Challenge, "Users": users,
		})
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := url.Values{}
	if r.PostForm.Get("action") != "allow" {
		q.Set("error", "access_denied")
	} else {
		u, ok := a.c.User(r.PostForm.Get("login"))
		if !ok {
			oauthPageError(w, "Choose one of the listed accounts.")
			return
		}
		scope := ar.Scope
		if r.PostForm.Get("scopes_form") != "" {
			// The page's checkboxes: users can refuse scopes, and clients
			// must check what was granted.
			var granted []string
			for _, sc := range strings.Fields(ar.Scope) {
				for _, g := range r.PostForm["grant_scope"] {
					if g == sc {
						granted = append(granted, sc)
						break
					}
				}
			}
			scope = strings.Join(granted, " ")
		}
		code := randomString("4/emu-", 24)
		a.oauth.mu.Lock()
		a.oauth.codes[code] = &authCode{clientID: ar.ClientID, redirectURI: ar.RedirectURI, challenge: ar.Challenge,
			scope: scope, email: u.Email, expires: a.c.Now().Add(codeTTL)}
		a.oauth.mu.Unlock()
		q.Set("code", code)
		q.Set("scope", scope)
	}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	target := ar.RedirectURI
	if strings.Contains(target, "?") {
		target += "&" + q.Encode()
	} else {
		target += "?" + q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

func oauthError(w http.ResponseWriter, code int, kind, desc string) {
	writeJSON(w, code, map[string]string{"error": kind, "error_description": desc})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token,omitempty"`
}

// token is the token endpoint: authorization_code (with PKCE) and
// refresh_token grants.
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Malformed form body.")
		return
	}
	f := r.PostForm
	var email, clientID, scope, refresh string
	switch f.Get("grant_type") {
	case "authorization_code":
		code, verifier := f.Get("code"), f.Get("code_verifier")
		if code == "" || f.Get("redirect_uri") == "" {
			oauthError(w, 400, "invalid_request", "Missing required parameter: code or redirect_uri.")
			return
		}
		if verifier == "" {
			oauthError(w, 400, "invalid_request", "Missing code verifier.")
			return
		}
		a.oauth.mu.Lock()
		c := a.oauth.codes[code]
		problem := ""
		switch {
		case c == nil || c.used:
			problem = "Malformed auth code."
		case !a.c.Now().Before(c.expires):
			problem = "Auth code expired."
		case f.Get("redirect_uri") != c.redirectURI:
			problem = "redirect_uri_mismatch"
		case f.Get("client_id") != "" && f.Get("client_id") != c.clientID:
			problem = "The OAuth client that asked for the code must exchange it."
		case !pkceOK(verifier, c.challenge):
			problem = "Invalid code verifier."
		}
		if c != nil {
			// A code is good for one attempt, as with Google.
			c.used = true
		}
		if problem != "" {
			a.oauth.mu.Unlock()
			if problem == "redirect_uri_mismatch" {
				oauthError(w, 400, "redirect_uri_mismatch", "Bad Request")
				return
			}
			oauthError(w, 400, "invalid_grant", problem)
			return
		}
		email, clientID, scope = c.email, c.clientID, c.scope
		refresh = randomString("1//emu-", 32)
		a.oauth.refresh[refresh] = &refreshToken{email: email, clientID: clientID, scope: scope}
		a.oauth.mu.Unlock()
	case "refresh_token":
		rt := f.Get("refresh_token")
		a.oauth.mu.Lock()
		t := a.oauth.refresh[rt]
		a.oauth.mu.Unlock()
		if rt == "" || t == nil {
			oauthError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		if _, ok := a.c.User(t.email); !ok {
			oauthError(w, 400, "invalid_grant", "Account not found.")
			return
		}
		email, clientID, scope = t.email, t.clientID, t.scope
	case "":
		oauthError(w, 400, "invalid_request", "Missing required parameter: grant_type.")
		return
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+f.Get("grant_type"))
		return
	}
	tok, err := a.c.IssueToken(email, 0)
	if err != nil {
		oauthError(w, 400, "invalid_grant", "Account not found.")
		return
	}
	a.oauth.mu.Lock()
	rtKey := refresh
	if rtKey == "" {
		rtKey = f.Get("refresh_token")
	}
	if t := a.oauth.refresh[rtKey]; t != nil {
		t.access = append(t.access, tok.Value)
	}
	a.oauth.scopes[tok.Value] = scope
	if len(a.oauth.scopes) > 1000 {
		// Forget tokens the cloud no longer knows, so a long-running
		// emulator does not grow without bound.
		for v := range a.oauth.scopes {
			if _, err := a.c.Authenticate(v); errors.Is(err, cloud.ErrTokenInvalid) {
				delete(a.oauth.scopes, v)
			}
		}
		for _, rt := range a.oauth.refresh {
			rt.access = slices.DeleteFunc(rt.access, func(v string) bool {
				_, ok := a.oauth.scopes[v]
				return !ok
			})
		}
	}
	a.oauth.mu.Unlock()
	resp := tokenResponse{
		AccessToken: tok.Value, ExpiresIn: int(tok.Expiry.Sub(a.c.Now()).Seconds()),
		RefreshToken: refresh, Scope: scope, TokenType: "Bearer",
	}
	if strings.Contains(" "+scope+" ", " openid ") {
		u, _ := a.c.User(email)
		resp.IDToken = a.idToken(u, clientID)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, 200, resp)
}

func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// idToken returns an RS256-signed ID token with Google's claims. Its key is
// the emulator's own: it proves nothing outside it.
func (a *API) idToken(u world.User, clientID string) string {
	a.mu.Lock()
	if a.idKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			a.mu.Unlock()
			return ""
		}
		a.idKey = k
	}
	key := a.idKey
	a.mu.Unlock()
	now := a.c.Now()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "iapterm-emulator"})
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://accounts.google.com", "azp": clientID, "aud": clientID,
		"sub": strconv.FormatUint(hashID("user", strings.ToLower(u.Email)), 10), "email": u.Email,
		"email_verified": true, "name": u.Name, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return ""
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// revoke revokes an access or refresh token; revoking a refresh token also
// revokes the access tokens issued from it.
func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tok := r.Form.Get("token")
	a.oauth.mu.Lock()
	rt := a.oauth.refresh[tok]
	delete(a.oauth.refresh, tok)
	a.oauth.mu.Unlock()
	ok := false
	if rt != nil {
		ok = true
		for _, at := range rt.access {
			a.c.RevokeToken(at)
		}
	} else {
		ok = a.c.RevokeToken(tok)
	}
	a.oauth.mu.Lock()
	delete(a.oauth.scopes, tok)
	if rt != nil {
		for _, at := range rt.access {
			delete(a.oauth.scopes, at)
		}
	}
	a.oauth.mu.Unlock()
	if !ok {
		oauthError(w, 400, "invalid_token", "Token expired or revoked")
		return
	}
	writeJSON(w, 200, struct{}{})
}

func (a *API) userinfo(w http.ResponseWriter, r *http.Request) {
	a.authed(func(w http.ResponseWriter, r *http.Request, who caller) {
		u, _ := a.c.User(who.email)
		writeJSON(w, 200, map[string]any{
			"id": strconv.FormatUint(hashID("user", strings.ToLower(u.Email)), 10), "email": u.Email,
			"verified_email": true, "name": u.Name,
		})
	}).ServeHTTP(w, r)
}

// tokeninfo describes an access token (GET or POST, access_token
// parameter), as oauth2.googleapis.com/tokeninfo does.
func (a *API) tokeninfo(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	v := r.Form.Get("access_token")
	t, err := a.c.Authenticate(v)
	if err != nil {
		oauthError(w, 400, "invalid_token", "Invalid Value")
		return
	}
	a.oauth.mu.Lock()
	scope, ok := a.oauth.scopes[v]
	a.oauth.mu.Unlock()
	if !ok {
		scope = allScopes
	}
	out := map[string]any{
		"azp": "iapterm-emulator", "aud": "iapterm-emulator", "scope": scope, "email": t.Email,
		"email_verified": "true", "access_type": "offline",
		"sub": strconv.FormatUint(hashID("user", strings.ToLower(t.Email)), 10),
	}
	if !t.Expiry.IsZero() {
		out["exp"] = strconv.FormatInt(t.Expiry.Unix(), 10)
		out["expires_in"] = strconv.Itoa(int(t.Expiry.Sub(a.c.Now()).Seconds()))
	}
	writeJSON(w, 200, out)
}
