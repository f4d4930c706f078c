package policy

import (
	"strings"
	"testing"
)

// A misspelt reauthentication key would make the level set nothing
// without a word; it is an error naming the spelling IAP uses.
func TestParseReauthRejectsMisspeltKeys(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"accessSettings key":   {"accessSettings:\n  reauthSetings:\n    method: LOGIN\n", `unknown key "reauthSetings" in accessSettings: IAP spells it "reauthSettings"`},
		"field in the object":  {"accessSettings:\n  reauthSettings:\n    method: LOGIN\n    maxage: 600s\n", `unknown key "maxage" in accessSettings.reauthSettings`},
		"bare object field":    {`{"reauthSettings": {"method": "LOGIN", "policy_type": "MINIMUM"}}`, `unknown key "policy_type" in reauthSettings`},
		"top-level field case": {"Method: LOGIN\nmaxAge: 600s\n", `unknown key "Method": IAP spells it "method"`},
		"not a mapping":        {"reauthSettings: LOGIN\n", "line 1: this must be a mapping, not a string"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseReauth([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// The rest of IAP's settings are not reauthentication settings and
	// pass; an empty reauthSettings sets nothing.
	for _, ok := range []string{
		"accessSettings:\n  corsSettings:\n    allowHttpOptions: true\n  reauthSettings:\n    method: LOGIN\n    maxAge: 600s\n    policyType: DEFAULT\napplicationSettings:\n  cookieDomain: example.com\nname: projects/1/iap_web\n",
		"accessSettings:\n  reauthSettings:\n",
	} {
		if _, err := ParseReauth([]byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
