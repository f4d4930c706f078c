package rdp

import (
	"strings"
	"testing"
)

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{"alice", ""},
		{"a", ""},
		{"Administrator", ""},
		{"exactly-twenty-chars", ""},
		{"first.last_name-1", ""},
		{"", "empty"},
		{"twenty-one-characters", "at most 20"},
		{"bad/name", "does not allow"},
		{`bad\name`, "does not allow"},
		{"a[b", "does not allow"},
		{"a]b", "does not allow"},
		{"a:b", "does not allow"},
		{"a;b", "does not allow"},
		{"a|b", "does not allow"},
		{"a=b", "does not allow"},
		{"a,b", "does not allow"},
		{"a+b", "does not allow"},
		{"a*b", "does not allow"},
		{"a?b", "does not allow"},
		{"a<b", "does not allow"},
		{"a>b", "does not allow"},
		{`a"b`, "does not allow"},
		{"a\tb", "control"},
		{"a\u0085b", "control"},      // C1 (next line)
		{"\u202eecila", "direction"}, // right-to-left override
		{"al\u200bice", "invisible"}, // zero-width space
		{"a\xffb", "invisible"},      // not UTF-8
		{"...", "dots and spaces"},
		{" . ", "dots and spaces"},
		{"ünïcödé", ""},
	}
	for _, tt := range tests {
		err := ValidateUsername(tt.name)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ValidateUsername(%q) = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ValidateUsername(%q) = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestSuggestUsername(t *testing.T) {
	tests := map[string]string{
		"alice@example.com":                     "alice",
		"first.last@example.com":                "first.last",
		"a+tag@example.com":                     "atag",
		"averyveryverylongusername@example.com": "averyveryverylonguse",
		"@example.com":                          "",
		"...@example.com":                       "",
	}
	for in, want := range tests {
		if got := SuggestUsername(in); got != want {
			t.Errorf("SuggestUsername(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []func(*Settings){
		func(s *Settings) { s.Port = 0 },
		func(s *Settings) { s.Port = 70000 },
		func(s *Settings) { s.Username = "a/b" },
		func(s *Settings) { s.Domain = "CORP\\X" },
		func(s *Settings) { s.Domain = "\u202ePROC" },
		func(s *Settings) { s.Domain = "CO\u0085RP" },
		func(s *Settings) { s.DesktopSize = DesktopClientSize; s.Width = 100000; s.Height = 10 },
		func(s *Settings) { s.Title = "a\nb" },
	}
	for i, f := range bad {
		s := DefaultSettings()
		f(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, s)
		}
	}
}

func TestColorDepthBits(t *testing.T) {
	for c, want := range map[ColorDepth]int{HighColor: 16, TrueColor: 24, DeepColor: 32} {
		if got := c.Bits(); got != want {
			t.Errorf("%d.Bits() = %d, want %d", c, got, want)
		}
	}
}

func TestSetDesktopSizeError(t *testing.T) {
	s := DefaultSettings()
	for _, v := range []string{"auto", "client", "screen", "1920x1080"} {
		if err := s.SetDesktopSize(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	// The message names the value --size documents (auto), not only "client".
	err := s.SetDesktopSize("fit")
	if err == nil || !strings.Contains(err.Error(), `"fit" is not auto`) || !strings.Contains(err.Error(), "WIDTHxHEIGHT") {
		t.Fatalf("err = %v", err)
	}
}

// A domain user may log on with user@domain, longer than the 20
// characters of an account name; credentials are still generated only
// for account names.
func TestSettingsValidateUPN(t *testing.T) {
	s := DefaultSettings()
	s.Username = "alice.smith@corp.example.com"
	if err := s.Validate(); err != nil {
		t.Fatalf("UPN refused: %v", err)
	}
	if ValidateUsername(s.Username) == nil {
		t.Error("ValidateUsername (for new local accounts) accepted a UPN")
	}
	for _, bad := range []string{"@corp.example.com", "alice@", "a@b@c", "al\u202eice@corp.example.com", "a<b@corp.example.com"} {
		s.Username = bad
		if err := s.Validate(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
