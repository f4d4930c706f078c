package sshclient

import "testing"

func TestUsernameFromEmail(t *testing.T) {
	tests := []struct{ email, want string }{
		{"alice@example.com", "alice"},
		{"Alice.Smith@example.com", "alice_smith"},
		{"bob+test@example.com", "bob_test"},
		{"1st@example.com", "g1st"},
		{"_x@example.com", "g_x"},
		{"@example.com", "g"},
		{"noatsign", "noatsign"},
		{"j-doe@example.com", "j_doe"},
		{"élodie@example.com", "g_lodie"},
		{"averyveryveryveryverylongusername12345@example.com", "averyveryveryveryverylongusernam"},
		{"9999999999999999999999999999999999@x", "g9999999999999999999999999999999"},
	}
	for _, tt := range tests {
		got := UsernameFromEmail(tt.email)
		if got != tt.want {
			t.Errorf("UsernameFromEmail(%q) = %q, want %q", tt.email, got, tt.want)
		}
		if len(got) > 32 || !ValidUsername(got) {
			t.Errorf("UsernameFromEmail(%q) = %q is not a valid username", tt.email, got)
		}
	}
}

func TestValidUsername(t *testing.T) {
	for s, want := range map[string]bool{
		"alice": true, "a.b-c_d": true, "_x": true, "-x": false, "": false,
		"a b": false, "a:b": false, "abcdefghijklmnopqrstuvwxyz0123456": false,
	} {
		if got := ValidUsername(s); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", s, got, want)
		}
	}
}
