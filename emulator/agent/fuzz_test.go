package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func FuzzParseSSHKeys(f *testing.F) {
	f.Add("alice:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice")
	f.Add(`bob:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl google-ssh {"userName":"b@example.com","expireOn":"2030-01-01T00:00:00+0000"}`)
	f.Add(":\n\n:::x y z")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range ParseSSHKeys(s, now) {
			if k.User == "" || k.PublicKey == nil {
				t.Fatalf("key without user or public key from %q", s)
			}
			if !k.Expires.IsZero() && !now.Before(k.Expires) {
				t.Fatalf("expired key accepted from %q", s)
			}
		}
	})
}

func FuzzWindowsKeys(f *testing.F) {
	f.Add(`{"userName":"a","modulus":"AAAA","exponent":"AQAB","expireOn":"2030-01-01T00:00:00+0000"}`)
	f.Add(`{"userName":"a","modulus":"!!","exponent":"","expireOn":"x"}` + "\n{}")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		var w windowsState
		first := w.process(s, now)
		if again := w.process(s, now); len(again) != 0 {
			t.Fatalf("entries answered twice: %q", again)
		}
		for _, l := range first {
			if len(l) == 0 || l[len(l)-1] != '\n' {
				t.Fatalf("line without newline: %q", l)
			}
		}
	})
}

// FuzzAuthorizedKeysFiles feeds untrusted metadata to the file writer's
// renderer: every file stays in the pattern's directory and every line is
// a comment or an authorized key.
func FuzzAuthorizedKeysFiles(f *testing.F) {
	f.Add("alice:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice", "%u")
	f.Add("../x:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "keys-%u")
	f.Add("a\rb:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x", "all")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value, base string) {
		if base == "" || strings.ContainsAny(base, "/\x00") || base == "." || base == ".." {
			return
		}
		file := AuthorizedKeysFile{VM: "p/z/vm", Path: "/keys/" + base}
		keys := ParseSSHKeys(value, now)
		lines := 0
		for path, data := range file.render("p/z/vm", keys, now) {
			if filepath.Dir(path) != "/keys" {
				t.Fatalf("file %q outside /keys from user names in %q", path, value)
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				if strings.HasPrefix(l, "#") {
					continue
				}
				lines++
				if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(l)); err != nil || len(rest) != 0 {
					t.Fatalf("line %q from %q: %v", l, value, err)
				}
			}
		}
		if !strings.Contains(base, UserToken) && lines != len(keys) {
			t.Fatalf("%d key lines for %d keys", lines, len(keys))
		}
	})
}
