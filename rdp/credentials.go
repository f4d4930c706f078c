package rdp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // the agent's default OAEP hash
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// MetadataAPI is what credential generation needs from the Compute
// client (projects.Client satisfies it).
type MetadataAPI interface {
	// UpdateInstanceMetadata reads the instance's metadata, calls update
	// with its items, and writes them back with the fingerprint just read,
	// retrying on 412 and waiting for the operation.
	UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(items map[string]string) (changed bool, err error)) error
	// SerialPort reads serial port output from offset start and returns
	// the offset to read from next.
	SerialPort(ctx context.Context, project, zone, name string, port int, start int64) (contents string, next int64, err error)
}

// WindowsKeysKey is the instance metadata key the guest agent watches.
const WindowsKeysKey = "windows-keys"

// CredentialsPort is the serial port the guest agent answers on.
const CredentialsPort = 4

// DefaultCredentialTimeout is how long GenerateCredentials waits for the
// guest agent's answer.
const DefaultCredentialTimeout = 5 * time.Minute

// CredentialRequest asks for a new password for a Windows account.
type CredentialRequest struct {
	Project, Zone, Instance string
	// Username is the Windows account; it is created if missing.
	Username string
	// Email is the signed-in user, recorded in the metadata entry.
	Email string
	// Admin adds the account to the Administrators group.
	Admin bool
	// HashFunction is the OAEP hash asked of the agent: "sha256" (default),
	// "sha512" or "sha1". Old agents ignore it and use SHA-1, and say so in
	// their answer, which is what decryption follows.
	HashFunction string
	// Timeout bounds the wait for the agent (default 5 minutes).
	Timeout time.Duration
	// PollInterval is the serial port polling period (default 1s).
	PollInterval time.Duration
	// Validity is how long the metadata entry stays valid (default 5
	// minutes); the agent ignores expired entries.
	Validity time.Duration
	// Progress, if set, receives short status lines.
	Progress func(string)
	// Now and Key replace the clock and the fresh RSA-2048 key in tests.
	Now func() time.Time
	Key *rsa.PrivateKey
}

// Credentials are a Windows logon.
type Credentials struct {
	Username string
	Password string
	Domain   string
}

// ErrAgentTimeout is wrapped when the guest agent did not answer in time.
var ErrAgentTimeout = errors.New("the Windows guest agent did not answer")

// ErrAccountManagerDisabled is returned when the instance's metadata turns
// the agent's account manager off.
var ErrAccountManagerDisabled = errors.New("the instance has metadata disable-account-manager=true, so its guest agent does not create Windows accounts: remove that key or ask an administrator for credentials")

// AgentError is the guest agent's own refusal (its errorMessage line).
type AgentError struct {
	Username string
	Message  string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("the Windows guest agent could not set a password for %q: %s", e.Username, e.Message)
}

// windowsKey is one entry of the windows-keys metadata value. The field
// order is the order of the JSON the agent documents.
type windowsKey struct {
	UserName            string `json:"userName"`
	Email               string `json:"email"`
	Modulus             string `json:"modulus"`
	Exponent            string `json:"exponent"`
	ExpireOn            string `json:"expireOn"`
	AddToAdministrators bool   `json:"addToAdministrators"`
	HashFunction        string `json:"hashFunction,omitempty"`
}

// agentAnswer is a line the agent writes on serial port 4.
type agentAnswer struct {
	EncryptedPassword string `json:"encryptedPassword"`
	UserName          string `json:"userName"`
	PasswordFound     bool   `json:"passwordFound"`
	Exponent          string `json:"exponent"`
	Modulus           string `json:"modulus"`
	HashFunction      string `json:"hashFunction"`
	ErrorMessage      string `json:"errorMessage"`
}

// expireLayout is the agent's expiry format; "+0000" rather than "Z" is
// understood by every agent version.
const expireLayout = "2006-01-02T15:04:05-0700"

// GenerateCredentials creates or resets a Windows account through the
// guest agent and returns its new password: a fresh RSA-2048 key is
// published in the instance metadata windows-keys (expired entries are
// dropped, lines that cannot be parsed are kept), and serial port 4 is
// polled, from the offset read before the write, for the agent's
// encrypted answer. The password must be shown to the user once and
// never logged.
func GenerateCredentials(ctx context.Context, api MetadataAPI, req CredentialRequest) (Credentials, error) {
	if err := ValidateUsername(req.Username); err != nil {
		return Credentials{}, err
	}
	if req.Project == "" || req.Zone == "" || req.Instance == "" {
		return Credentials{}, errors.New("project, zone and instance are needed to generate Windows credentials")
	}
	hashName := strings.ToLower(req.HashFunction)
	if hashName == "" {
		hashName = "sha256"
	}
	if _, err := oaepHash(hashName); err != nil {
		return Credentials{}, err
	}
	now := time.Now
	if req.Now != nil {
		now = req.Now
	}
	timeout, poll, validity := req.Timeout, req.PollInterval, req.Validity
	if timeout <= 0 {
		timeout = DefaultCredentialTimeout
	}
	if poll <= 0 {
		poll = time.Second
	}
	if validity <= 0 {
		validity = 5 * time.Minute
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}

	key := req.Key
	if key == nil {
		progress("Generating an RSA-2048 key")
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return Credentials{}, fmt.Errorf("generating an RSA key: %w", err)
		}
	}
	entry := windowsKey{
		UserName:            req.Username,
		Email:               req.Email,
		Modulus:             base64.StdEncoding.EncodeToString(key.N.Bytes()),
		Exponent:            base64.StdEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		ExpireOn:            now().Add(validity).UTC().Format(expireLayout),
		AddToAdministrators: req.Admin,
		HashFunction:        hashName,
	}
	line, err := json.Marshal(entry)
	if err != nil {
		return Credentials{}, err
	}

	// Read the end of serial port 4 before writing, so an answer cannot be
	// missed however fast the agent is.
	progress("Reading serial port 4")
	_, next, err := api.SerialPort(ctx, req.Project, req.Zone, req.Instance, CredentialsPort, 0)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading serial port %d of %s (needs compute.instances.getSerialPortOutput): %w", CredentialsPort, req.Instance, err)
	}

	progress("Publishing the key in instance metadata " + WindowsKeysKey)
	err = api.UpdateInstanceMetadata(ctx, req.Project, req.Zone, req.Instance, func(items map[string]string) (bool, error) {
		if v, ok := items["disable-account-manager"]; ok {
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil && b {
				return false, ErrAccountManagerDisabled
			}
		}
		value, err := RewriteWindowsKeys(items[WindowsKeysKey], string(line), now())
		if err != nil {
			return false, err
		}
		items[WindowsKeysKey] = value
		return true, nil
	})
	if err != nil {
		if errors.Is(err, ErrAccountManagerDisabled) {
			return Credentials{}, ErrAccountManagerDisabled
		}
		return Credentials{}, fmt.Errorf("writing instance metadata %s of %s (needs compute.instances.setMetadata, and iam.serviceAccounts.actAs if the VM runs as a service account): %w", WindowsKeysKey, req.Instance, err)
	}

	progress("Waiting for the guest agent to answer on serial port 4")
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var buf lineBuffer
	failures := 0
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		contents, n, err := api.SerialPort(waitCtx, req.Project, req.Zone, req.Instance, CredentialsPort, next)
		switch {
		case err != nil && waitCtx.Err() == nil:
			failures++
			if failures >= 3 {
				return Credentials{}, fmt.Errorf("reading serial port %d of %s: %w", CredentialsPort, req.Instance, err)
			}
		case err == nil:
			failures = 0
			next = n
			for _, l := range buf.Add(contents) {
				creds, done, err := matchAnswer(l, entry, key)
				if done {
					return creds, err
				}
			}
		}
		select {
		case <-waitCtx.Done():
			if ctx.Err() != nil {
				return Credentials{}, fmt.Errorf("generating Windows credentials cancelled: %w", ctx.Err())
			}
			return Credentials{}, fmt.Errorf("%w on serial port %d of %s within %s: the agent may not be running (is the VM a Windows VM that has finished booting?), "+
				"or the account manager is disabled with metadata disable-account-manager (instance or project)", ErrAgentTimeout, CredentialsPort, req.Instance, timeout)
		case <-ticker.C:
		}
	}
}

// matchAnswer decides whether a serial port line is the answer to entry.
func matchAnswer(line string, entry windowsKey, key *rsa.PrivateKey) (Credentials, bool, error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{") {
		return Credentials{}, false, nil
	}
	var a agentAnswer
	if json.Unmarshal([]byte(line), &a) != nil || !sameBase64(a.Modulus, entry.Modulus) {
		return Credentials{}, false, nil
	}
	if a.ErrorMessage != "" {
		return Credentials{}, true, &AgentError{Username: entry.UserName, Message: a.ErrorMessage}
	}
	if a.EncryptedPassword == "" {
		return Credentials{}, true, &AgentError{Username: entry.UserName, Message: "the answer has no encrypted password"}
	}
	pw, err := DecryptPassword(key, a.EncryptedPassword, a.HashFunction)
	if err != nil {
		return Credentials{}, true, err
	}
	user := a.UserName
	if user == "" {
		user = entry.UserName
	}
	return Credentials{Username: user, Password: pw}, true, nil
}

func sameBase64(a, b string) bool {
	if a == b {
		return a != ""
	}
	da, err1 := base64.StdEncoding.DecodeString(a)
	db, err2 := base64.StdEncoding.DecodeString(b)
	return err1 == nil && err2 == nil && len(da) > 0 && bytes.Equal(bytes.TrimLeft(da, "\x00"), bytes.TrimLeft(db, "\x00"))
}

// oaepHash maps the agent's hashFunction names to hashes: sha256 and
// sha512; missing or sha1 means SHA-1.
func oaepHash(name string) (crypto.Hash, error) {
	switch strings.ToLower(name) {
	case "", "sha1":
		return crypto.SHA1, nil
	case "sha256":
		return crypto.SHA256, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unknown hash function %q: use sha1, sha256 or sha512", name)
}

// DecryptPassword decrypts the agent's base64 encryptedPassword with
// RSA-OAEP (empty label) using the named hash.
func DecryptPassword(key *rsa.PrivateKey, encrypted, hashFunction string) (string, error) {
	h, err := oaepHash(hashFunction)
	if err != nil {
		return "", err
	}
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encrypted))
	if err != nil {
		return "", fmt.Errorf("the agent's encrypted password is not base64: %w", err)
	}
	pt, err := rsa.DecryptOAEP(h.New(), nil, key, ct, nil)
	if err != nil {
		return "", fmt.Errorf("decrypting the agent's answer with RSA-OAEP/%s failed: %w", h, err)
	}
	return string(pt), nil
}

// maxMetadataValue is Compute's limit for one metadata value.
const maxMetadataValue = 256 * 1024

// RewriteWindowsKeys returns the windows-keys value with newLine
// appended: entries whose expireOn is in the past are dropped, lines that
// are not JSON (or have an expiry that cannot be read) are kept verbatim,
// blank lines are removed.
func RewriteWindowsKeys(existing, newLine string, now time.Time) (string, error) {
	var out []string
	for _, l := range strings.Split(existing, "\n") {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		var k struct {
			ExpireOn *string `json:"expireOn"`
		}
		if json.Unmarshal([]byte(t), &k) == nil && k.ExpireOn != nil {
			if exp, ok := parseExpiry(*k.ExpireOn); ok && !exp.After(now) {
				continue
			}
		}
		out = append(out, strings.TrimRight(l, "\r"))
	}
	out = append(out, newLine)
	v := strings.Join(out, "\n")
	if len(v) > maxMetadataValue {
		return "", fmt.Errorf("instance metadata %s would be %d bytes, over Compute's %d-byte limit: remove old entries from it", WindowsKeysKey, len(v), maxMetadataValue)
	}
	return v, nil
}

func parseExpiry(s string) (time.Time, bool) {
	for _, layout := range []string{expireLayout, time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// lineBuffer joins serial port reads into whole lines: a line may arrive
// in several reads.
type lineBuffer struct{ partial string }

// Add appends data and returns the lines it completed.
func (b *lineBuffer) Add(data string) []string {
	if data == "" {
		return nil
	}
	s := b.partial + data
	lines := strings.Split(s, "\n")
	b.partial = lines[len(lines)-1]
	// Guard memory against a port that never ends a line.
	if len(b.partial) > 1<<20 {
		b.partial = b.partial[len(b.partial)-(1<<20):]
	}
	return lines[:len(lines)-1]
}
