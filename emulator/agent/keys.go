// Package agent simulates the Google guest agent inside the emulator's VMs:
// it turns metadata and OS Login profiles into the set of SSH keys a VM
// accepts, answers Windows password resets on serial port 4, and runs the
// built-in SSH server that stands behind "builtin-ssh" backends.
package agent

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Key is one (username, public key) pair a VM's SSH server accepts.
type Key struct {
	User      string
	PublicKey ssh.PublicKey
	// Expires is zero for keys without an expiry.
	Expires time.Time
	// SecondFactor, when set, is the one-time code keyboard-interactive
	// 2-step verification asks for after the public key (OS Login 2FA).
	SecondFactor string
}

// expired reports whether the key is no longer valid at now.
func (k Key) expired(now time.Time) bool {
	return !k.Expires.IsZero() && !now.Before(k.Expires)
}

// googleSSH is the JSON comment of a managed key.
type googleSSH struct {
	UserName string `json:"userName"`
	ExpireOn string `json:"expireOn"`
}

// expiryLayouts are the timestamp forms agents and clients write.
var expiryLayouts = []string{
	"2006-01-02T15:04:05-0700",
	time.RFC3339,
	time.RFC3339Nano,
}

// ParseExpiry parses an expireOn timestamp as the guest agent does.
func ParseExpiry(s string) (time.Time, bool) {
	for _, l := range expiryLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ParseSSHKeys parses the value of an ssh-keys (or legacy sshKeys) metadata
// entry: lines "USER:TYPE BASE64 [COMMENT]". A line whose comment is
// "google-ssh {...}" expires at its expireOn; one with a past or unparseable
// expiry is dropped, like lines that do not parse.
func ParseSSHKeys(value string, now time.Time) []Key {
	var keys []Key
	for line := range strings.SplitSeq(value, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		user, rest, ok := strings.Cut(line, ":")
		if !ok || user == "" || strings.ContainsAny(user, " \t") {
			continue
		}
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			continue
		}
		k := Key{User: user, PublicKey: pub}
		if js, ok := strings.CutPrefix(comment, "google-ssh "); ok {
			var g googleSSH
			if json.Unmarshal([]byte(js), &g) != nil {
				continue
			}
			t, ok := ParseExpiry(g.ExpireOn)
			if !ok || !now.Before(t) {
				continue
			}
			k.Expires = t
		}
		keys = append(keys, k)
	}
	return keys
}

// MetadataBool reads a boolean metadata key the way the guest agent does:
// the instance value overrides the project value, even when false; values
// parse like strconv.ParseBool, anything else counts as unset.
func MetadataBool(instance, project map[string]string, key string) bool {
	if v, ok := instance[key]; ok {
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	if v, ok := project[key]; ok {
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	return false
}

// OSLoginEnabled reports whether enable-oslogin is on for the VM.
func OSLoginEnabled(instance, project map[string]string) bool {
	return MetadataBool(instance, project, "enable-oslogin")
}

// MetadataKeys returns the keys a VM without OS Login accepts: instance
// ssh-keys and sshKeys, plus the project's unless the instance sets
// block-project-ssh-keys (read from the instance only) or has the legacy
// sshKeys entry, which implies blocking.
func MetadataKeys(instance, project map[string]string, now time.Time) []Key {
	keys := ParseSSHKeys(instance["ssh-keys"], now)
	keys = append(keys, ParseSSHKeys(instance["sshKeys"], now)...)
	block, _ := strconv.ParseBool(strings.TrimSpace(instance["block-project-ssh-keys"]))
	if _, legacy := instance["sshKeys"]; legacy {
		block = true
	}
	if !block {
		keys = append(keys, ParseSSHKeys(project["ssh-keys"], now)...)
		keys = append(keys, ParseSSHKeys(project["sshKeys"], now)...)
	}
	return keys
}

// OSLoginUsername derives the OS Login POSIX username of an email: the
// whole address lowercased with every character outside [a-z0-9] replaced
// by "_" (alice@example.com becomes alice_example_com), "g" prefixed when
// it does not start with a letter, at most 32
// characters.
func OSLoginUsername(email string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(email) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if n == "" || n[0] < 'a' || n[0] > 'z' {
		n = "g" + n
	}
	if len(n) > 32 {
		n = n[:32]
	}
	return n
}
