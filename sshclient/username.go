package sshclient

import (
	"regexp"
	"strings"
)

var validUsername = regexp.MustCompile(`^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*$`)

// ValidUsername reports whether s is a username the guest agent accepts.
func ValidUsername(s string) bool { return len(s) <= 32 && validUsername.MatchString(s) }

// UsernameFromEmail derives the Linux username for metadata keys from an
// email the way gcloud and IAP Desktop do: the part before "@", lowercased,
// every character other than a-z and 0-9 replaced by "_", "g" prefixed when
// it does not start with a letter, at most 32 characters.
func UsernameFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	local = strings.ToLower(local)
	var b strings.Builder
	for _, r := range local {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	u := b.String()
	if u == "" || u[0] < 'a' || u[0] > 'z' {
		u = "g" + u
	}
	if len(u) > 32 {
		u = u[:32]
	}
	return u
}
