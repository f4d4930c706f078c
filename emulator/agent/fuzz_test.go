package agent

import (
	"testing"
	"time"
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
