package rdpdialog

import "testing"

func TestValidateDomain(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"CORP", true}, {"corp.example.com", true},
		{"CORP\\x", false}, {"a b", false}, {"a/b", false}, {"a:b", false}, {"a|b", false},
	} {
		if err := ValidateDomain(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateDomain(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
