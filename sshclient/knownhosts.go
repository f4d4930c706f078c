package sshclient

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// KnownHosts is iapterm's own known_hosts file. Entries are keyed by a host
// key alias made from the instance ID (HostKeyAlias), in OpenSSH's format,
// so OpenSSH can use the same file with -o HostKeyAlias=compute.ID.
type KnownHosts struct {
	Path string
	mu   sync.Mutex
}

// DefaultKnownHostsPath is os.UserConfigDir()/iapterm/known_hosts.
func DefaultKnownHostsPath() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration directory for known_hosts: %w", err)
	}
	return filepath.Join(d, "iapterm", "known_hosts"), nil
}

// HostKeyAlias is the known_hosts name of an instance: "compute.ID" like
// gcloud, falling back to the project/zone/name key when the ID is unknown.
func HostKeyAlias(t Target) string {
	if t.ID != "" {
		return "compute." + t.ID
	}
	return "compute." + strings.NewReplacer("/", ".", " ", "_").Replace(t.Key())
}

// HostKeyChangedError refuses a connection whose host key differs from the
// one recorded.
type HostKeyChangedError struct {
	Instance string
	Alias    string
	File     string
	Known    []string // fingerprints
	Offered  string   // fingerprint
	Source   string   // "known_hosts" or "guest attributes"
}

func (e *HostKeyChangedError) Error() string {
	if e.Source == "guest attributes" {
		return fmt.Sprintf("WARNING: the host key of %s does not match the keys its guest agent published (guest attributes hostkeys/): offered %s, published %s. Someone may be intercepting the connection; iapterm refused to connect",
			e.Instance, e.Offered, strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("WARNING: the host key of %s has changed: offered %s, but %s records %s for %s. Someone may be intercepting the connection, or the VM's guest OS regenerated its keys. iapterm refused to connect; if you trust the change, delete the %s lines from %s",
		e.Instance, e.Offered, e.File, strings.Join(e.Known, ", "), e.Alias, e.Alias, e.File)
}

type knownLine struct {
	raw   string
	hosts []string
	key   ssh.PublicKey // nil for lines not understood (kept verbatim)
	// revoked is the key of a "@revoked HOSTS KEY" line (whose key is
	// nil, so it is kept verbatim like other marker lines).
	revoked ssh.PublicKey
}

// HostKeyRevokedError refuses a host key marked @revoked in known_hosts.
type HostKeyRevokedError struct {
	Instance string
	File     string
	Offered  string // fingerprint
}

func (e *HostKeyRevokedError) Error() string {
	return fmt.Sprintf("WARNING: the host key %s that %s offered is marked @revoked in %s; iapterm refused to connect", e.Offered, e.Instance, e.File)
}

func (k *KnownHosts) read() ([]knownLine, error) {
	data, err := os.ReadFile(k.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", k.Path, err)
	}
	var lines []knownLine
	for _, raw := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		l := knownLine{raw: raw}
		f := strings.Fields(raw)
		switch {
		case len(f) >= 3 && !strings.HasPrefix(f[0], "#") && !strings.HasPrefix(f[0], "@"):
			if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(f[1:], " "))); err == nil {
				l.hosts = strings.Split(f[0], ",")
				l.key = key
			}
		case len(f) >= 4 && f[0] == "@revoked":
			if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(f[2:], " "))); err == nil {
				l.hosts = strings.Split(f[1], ",")
				l.revoked = key
			}
		}
		lines = append(lines, l)
	}
	return lines, nil
}

func (k *KnownHosts) write(lines []knownLine) error {
	var b bytes.Buffer
	for _, l := range lines {
		if l.raw == "" && l.key == nil {
			continue
		}
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(k.Path), 0o700); err != nil {
		return err
	}
	// A known_hosts that is a symbolic link (shared with OpenSSH's, say)
	// stays one: the file it names is replaced, not the link.
	target := k.Path
	if p, err := filepath.EvalSymlinks(k.Path); err == nil {
		target = p
	}
	if err := writeFileAtomic(target, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", k.Path, err)
	}
	return nil
}

func lineFor(alias string, key ssh.PublicKey) knownLine {
	return knownLine{raw: alias + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), hosts: []string{alias}, key: key}
}

// Lookup returns the keys recorded for alias.
func (k *KnownHosts) Lookup(alias string) ([]ssh.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.read()
	if err != nil {
		return nil, err
	}
	var keys []ssh.PublicKey
	for _, l := range lines {
		if l.key != nil && contains(l.hosts, alias) {
			keys = append(keys, l.key)
		}
	}
	return keys, nil
}

// Replace records exactly keys for alias (used for keys the guest agent
// published, which are authoritative).
func (k *KnownHosts) Replace(alias string, keys []ssh.PublicKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.read()
	if err != nil {
		return err
	}
	var out []knownLine
	same := 0
	for _, l := range lines {
		if l.key != nil && len(l.hosts) == 1 && l.hosts[0] == alias {
			if containsKey(keys, l.key) {
				same++
				out = append(out, l)
			}
			continue
		}
		out = append(out, l)
	}
	if same == len(keys) && len(out) == len(lines) {
		return nil // nothing to change
	}
	for _, key := range keys {
		if !containsKeyLine(out, alias, key) {
			out = append(out, lineFor(alias, key))
		}
	}
	return k.write(out)
}

func containsKey(keys []ssh.PublicKey, key ssh.PublicKey) bool {
	for _, x := range keys {
		if bytes.Equal(x.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

func containsKeyLine(lines []knownLine, alias string, key ssh.PublicKey) bool {
	for _, l := range lines {
		if l.key != nil && contains(l.hosts, alias) && bytes.Equal(l.key.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

// refuseRevoked is a HostKeyRevokedError when lines mark key @revoked for
// alias (or for every host, "*"), else nil.
func (k *KnownHosts) refuseRevoked(lines []knownLine, instance, alias string, key ssh.PublicKey) error {
	for _, l := range lines {
		if l.revoked != nil && (contains(l.hosts, alias) || contains(l.hosts, "*")) && bytes.Equal(l.revoked.Marshal(), key.Marshal()) {
			return &HostKeyRevokedError{Instance: instance, File: k.Path, Offered: ssh.FingerprintSHA256(key)}
		}
	}
	return nil
}

// CheckRevoked refuses key when known_hosts marks it @revoked for alias,
// as OpenSSH does; Check does this too.
func (k *KnownHosts) CheckRevoked(instance, alias string, key ssh.PublicKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.read()
	if err != nil {
		return err
	}
	return k.refuseRevoked(lines, instance, alias, key)
}

// Check verifies key for alias with trust on first use: an alias without
// keys records this one; a recorded key of the same type must match.
// A key of a type not yet recorded is added (the server picks the type
// among those iapterm offers, which are the recorded ones first).
func (k *KnownHosts) Check(instance, alias string, key ssh.PublicKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.read()
	if err != nil {
		return err
	}
	if err := k.refuseRevoked(lines, instance, alias, key); err != nil {
		return err
	}
	var known []string
	for _, l := range lines {
		if l.key == nil || !contains(l.hosts, alias) {
			continue
		}
		if bytes.Equal(l.key.Marshal(), key.Marshal()) {
			return nil
		}
		if l.key.Type() == key.Type() {
			known = append(known, ssh.FingerprintSHA256(l.key))
		}
	}
	if len(known) > 0 {
		return &HostKeyChangedError{Instance: instance, Alias: alias, File: k.Path, Known: known, Offered: ssh.FingerprintSHA256(key), Source: "known_hosts"}
	}
	return k.write(append(lines, lineFor(alias, key)))
}
