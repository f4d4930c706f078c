package cloud

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Token errors. Neither names the token: tokens never go into messages.
var (
	ErrTokenInvalid = errors.New("invalid access token")
	ErrTokenExpired = errors.New("access token expired")
)

// Token is an access token of the emulated cloud.
type Token struct {
	Value string
	Email string
	// Expiry is when it stops working; zero for the world's fixed tokens.
	Expiry time.Time
}

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expiry.IsZero() && !now.Before(t.Expiry)
}

// TokenTTL is the lifetime of issued tokens.
func (c *Cloud) TokenTTL() time.Duration { return c.tokenTTL }

// Now is the cloud's clock.
func (c *Cloud) Now() time.Time { return c.now() }

// IssueToken creates an access token for a world user, valid for ttl
// (the configured TokenTTL when ttl <= 0).
func (c *Cloud) IssueToken(email string, ttl time.Duration) (Token, error) {
	u, ok := c.User(email)
	if !ok {
		return Token{}, fmt.Errorf("no user %q in this world", email)
	}
	if ttl <= 0 {
		ttl = c.tokenTTL
	}
	var b [24]byte
	rand.Read(b[:])
	// The ya29. prefix looks like a Google access token to any tool that
	// sniffs token kinds.
	t := Token{Value: "ya29.emu-" + base64.RawURLEncoding.EncodeToString(b[:]), Email: u.Email, Expiry: c.now().Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	c.tokens[t.Value] = &t
	return t, nil
}

// Authenticate returns the valid token value stands for, or ErrTokenInvalid
// or ErrTokenExpired.
func (c *Cloud) Authenticate(value string) (Token, error) {
	if value == "" {
		return Token{}, ErrTokenInvalid
	}
	c.mu.RLock()
	t, ok := c.tokens[value]
	c.mu.RUnlock()
	if !ok {
		return Token{}, ErrTokenInvalid
	}
	if t.Expired(c.now()) {
		return Token{}, ErrTokenExpired
	}
	return *t, nil
}

// RevokeToken makes a token invalid; it reports whether it existed.
func (c *Cloud) RevokeToken(value string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.tokens[value]
	delete(c.tokens, value)
	return ok
}

// expireLocked forgets tokens that expired over an hour ago, so a long
// running emulator does not grow without bound; recently expired ones are
// kept to answer "expired" rather than "invalid".
func (c *Cloud) expireLocked() {
	cutoff := c.now().Add(-time.Hour)
	for v, t := range c.tokens {
		if !t.Expiry.IsZero() && t.Expiry.Before(cutoff) {
			delete(c.tokens, v)
		}
	}
}
