package sshclient

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// ExpiryLayout is how expireOn is written: "+0000" is understood by every
// guest agent version.
const ExpiryLayout = "2006-01-02T15:04:05-0700"

// MetadataKey is one line of the ssh-keys metadata value.
type MetadataKey struct {
	Raw     string // the line as read
	User    string
	Type    string // e.g. ssh-ed25519
	Blob    string // base64 key data
	Comment string
	// Managed lines carry `google-ssh {"userName":EMAIL,"expireOn":TIME}`.
	Managed bool
	Email   string
	Expiry  time.Time // zero when absent or unparseable
	// Parsed is false for lines iapterm does not understand; they are kept
	// verbatim when the value is rewritten.
	Parsed bool
}

// ParseMetadataKey parses one ssh-keys line.
func ParseMetadataKey(line string) MetadataKey {
	k := MetadataKey{Raw: line}
	user, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok || !ValidUsername(user) {
		return k
	}
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return k
	}
	if _, err := base64.StdEncoding.DecodeString(fields[1]); err != nil {
		return k
	}
	k.User, k.Type, k.Blob = user, fields[0], fields[1]
	k.Comment = strings.Join(fields[2:], " ")
	if len(fields) >= 4 && fields[2] == "google-ssh" {
		var meta struct {
			UserName string `json:"userName"`
			ExpireOn string `json:"expireOn"`
		}
		// The JSON has no spaces, but tolerate some.
		if json.Unmarshal([]byte(strings.Join(fields[3:], " ")), &meta) == nil {
			k.Managed = true
			k.Email = meta.UserName
			k.Expiry = parseExpiry(meta.ExpireOn)
		}
	}
	k.Parsed = true
	return k
}

func parseExpiry(s string) time.Time {
	for _, layout := range []string{ExpiryLayout, time.RFC3339, "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Expired reports whether a managed key is no longer accepted by the guest
// agent at now (past or unparseable expiry). Unmanaged keys never expire.
func (k MetadataKey) Expired(now time.Time) bool {
	if !k.Managed {
		return false
	}
	return k.Expiry.IsZero() || !k.Expiry.After(now)
}

// ManagedKeyLine formats a managed (expiring) ssh-keys line.
func ManagedKeyLine(user, authorizedKey, email string, expiry time.Time) string {
	meta, _ := json.Marshal(struct {
		UserName string `json:"userName"`
		ExpireOn string `json:"expireOn"`
	}{email, expiry.UTC().Format(ExpiryLayout)})
	// A comment would sit where the agent expects "google-ssh": drop it.
	f := strings.Fields(authorizedKey)
	if len(f) > 2 {
		f = f[:2]
	}
	return user + ":" + strings.Join(f, " ") + " google-ssh " + string(meta)
}

// AddMetadataKey returns the ssh-keys value with user's key added as a
// managed key for email that expires at expiry. Expired managed keys of the
// same email are removed; lines it cannot parse are kept verbatim. When the
// key is already present for user and valid for at least minValidity more,
// the value is returned unchanged with changed false.
func AddMetadataKey(value, user, authorizedKey, email string, expiry, now time.Time, minValidity time.Duration) (newValue string, changed bool) {
	fields := strings.Fields(authorizedKey)
	if len(fields) < 2 {
		return value, false
	}
	typ, blob := fields[0], fields[1]
	var lines []string
	if value != "" {
		lines = strings.Split(strings.TrimRight(value, "\n"), "\n")
	}
	var kept []string
	for _, line := range lines {
		k := ParseMetadataKey(line)
		if !k.Parsed {
			kept = append(kept, line)
			continue
		}
		if k.User == user && k.Type == typ && k.Blob == blob {
			if !k.Managed || (!k.Expiry.IsZero() && k.Expiry.After(now.Add(minValidity))) {
				return value, false
			}
			continue // our key about to expire: the new line replaces it
		}
		if k.Managed && k.Email == email && k.Expired(now) {
			continue
		}
		kept = append(kept, line)
	}
	kept = append(kept, ManagedKeyLine(user, authorizedKey, email, expiry))
	return strings.Join(kept, "\n"), true
}
