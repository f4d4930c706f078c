package sshclient

import (
	"strings"
	"testing"
	"time"
)

const (
	keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcuXjJ2m1mh1cR4Sx+Sh8tW6mKRm4kD8t6p6zY0Hq3B"
	keyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx0lJ0u8Yx7ULl6m2tb0pXo3Qk3kG6i1qv4tJcX8hVw"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseMetadataKey(t *testing.T) {
	tests := []struct {
		line    string
		parsed  bool
		managed bool
		user    string
		email   string
		expiry  string
	}{
		{"alice:" + keyA + " alice@laptop", true, false, "alice", "", ""},
		{"alice:" + keyA, true, false, "alice", "", ""},
		{`alice:` + keyA + ` google-ssh {"userName":"alice@example.com","expireOn":"2026-06-02T00:00:00+0000"}`, true, true, "alice", "alice@example.com", "2026-06-02T00:00:00Z"},
		{`alice:` + keyA + ` google-ssh {"userName":"alice@example.com","expireOn":"2026-06-02T00:00:00Z"}`, true, true, "alice", "alice@example.com", "2026-06-02T00:00:00Z"},
		{`alice:` + keyA + ` google-ssh {"userName":"alice@example.com","expireOn":"soon"}`, true, true, "alice", "alice@example.com", ""},
		{"no colon here", false, false, "", "", ""},
		{"alice:ssh-ed25519", false, false, "", "", ""},
		{"alice:ssh-ed25519 !!notbase64!!", false, false, "", "", ""},
		{"bad user:" + keyA, false, false, "", "", ""},
		{"", false, false, "", "", ""},
	}
	for _, tt := range tests {
		k := ParseMetadataKey(tt.line)
		if k.Parsed != tt.parsed || k.Managed != tt.managed || k.User != tt.user || k.Email != tt.email {
			t.Errorf("ParseMetadataKey(%q) = %+v", tt.line, k)
		}
		var exp string
		if !k.Expiry.IsZero() {
			exp = k.Expiry.UTC().Format(time.RFC3339)
		}
		if exp != tt.expiry {
			t.Errorf("ParseMetadataKey(%q) expiry %q, want %q", tt.line, exp, tt.expiry)
		}
		if k.Raw != tt.line {
			t.Errorf("Raw not kept")
		}
	}
}

func TestManagedKeyLine(t *testing.T) {
	got := ManagedKeyLine("alice", keyA+" comment", "alice@example.com", time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)))
	want := `alice:` + keyA + ` google-ssh {"userName":"alice@example.com","expireOn":"2026-07-01T11:00:00+0000"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if k := ParseMetadataKey(got); !k.Managed || k.Expired(now) {
		t.Errorf("line does not parse back as a valid managed key: %+v", k)
	}
}

func managed(user, key, email string, exp time.Time) string {
	return ManagedKeyLine(user, key, email, exp)
}

func TestAddMetadataKey(t *testing.T) {
	expiry := now.Add(30 * 24 * time.Hour)
	newLine := managed("alice", keyA, "alice@example.com", expiry)
	expiredMine := managed("alice", keyB, "alice@example.com", now.Add(-time.Hour))
	expiredOther := managed("bob", keyB, "bob@example.com", now.Add(-time.Hour))
	validMine := managed("alice", keyA, "alice@example.com", now.Add(10*24*time.Hour))
	expiringMine := managed("alice", keyA, "alice@example.com", now.Add(10*time.Minute))
	garbage := "this line is ~not~ a key"
	tests := []struct {
		name    string
		value   string
		want    string
		changed bool
	}{
		{"empty", "", newLine, true},
		{"appends", "bob:" + keyB + " bob", "bob:" + keyB + " bob\n" + newLine, true},
		{"removes my expired keys only", expiredMine + "\n" + expiredOther, expiredOther + "\n" + newLine, true},
		{"keeps unparseable lines verbatim", garbage + "\n\n" + expiredMine, garbage + "\n\n" + newLine, true},
		{"no-op when present and valid", "bob:" + keyB + "\n" + validMine + "\n", "bob:" + keyB + "\n" + validMine + "\n", false},
		{"no-op for an unmanaged copy", "alice:" + keyA + " laptop", "alice:" + keyA + " laptop", false},
		{"replaces an expiring copy", expiringMine + "\nbob:" + keyB, "bob:" + keyB + "\n" + newLine, true},
		{"other user with same key is separate", "bob:" + keyA, "bob:" + keyA + "\n" + newLine, true},
		{"trailing newline", "bob:" + keyB + "\n", "bob:" + keyB + "\n" + newLine, true},
	}
	for _, tt := range tests {
		got, changed := AddMetadataKey(tt.value, "alice", keyA, "alice@example.com", expiry, now, time.Hour)
		if got != tt.want || changed != tt.changed {
			t.Errorf("%s:\ngot  (%v)\n%s\nwant (%v)\n%s", tt.name, changed, got, tt.changed, tt.want)
		}
	}
}

func FuzzParseMetadataKey(f *testing.F) {
	f.Add("alice:" + keyA + " x")
	f.Add(`alice:` + keyA + ` google-ssh {"userName":"a@b","expireOn":"2026-06-02T00:00:00+0000"}`)
	f.Add("x:y z")
	f.Fuzz(func(t *testing.T, line string) {
		k := ParseMetadataKey(line)
		if k.Raw != line {
			t.Fatal("raw line lost")
		}
		if k.Parsed && !ValidUsername(k.User) {
			t.Fatalf("parsed an invalid user %q", k.User)
		}
		// Rewriting never loses a line it did not mean to drop.
		v, _ := AddMetadataKey(line, "alice", keyA, "alice@example.com", now.Add(time.Hour), now, time.Minute)
		if !k.Parsed && line != "" && !strings.Contains(line, "\n") && !strings.Contains(v, line) {
			t.Fatalf("unparsed line %q dropped: %q", line, v)
		}
	})
}
