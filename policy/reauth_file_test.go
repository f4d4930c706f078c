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

// Every misspelt key is reported, in the order of the keys, so the same
// file gives the same message on every run (it used to name whichever key
// map iteration met first); spellings with _ or - and small typos count,
// and settings given in two places (one would be ignored) are refused.
func TestParseReauthReportsEveryProblemInOrder(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"two misspelt fields": {"accessSettings:\n  reauthSettings:\n    polcyType: MINIMUM\n    max_age: 600s\n    method: LOGIN\n",
			`unknown key "max_age" in accessSettings.reauthSettings: IAP spells it "maxAge"; unknown key "polcyType" in accessSettings.reauthSettings: IAP spells it "policyType"`},
		"top-level typos": {"mehtod: LOGIN\nmax-age: 600s\npolicy_type: DEFAULT\n",
			`unknown key "max-age": IAP spells it "maxAge"; unknown key "mehtod": IAP spells it "method"; unknown key "policy_type": IAP spells it "policyType"`},
		"access settings spelt otherwise": {"access_settings:\n  reauthSettings:\n    method: LOGIN\n    maxAge: 600s\n",
			`unknown key "access_settings": IAP spells it "accessSettings"`},
		"two places": {"reauthSettings:\n  method: LOGIN\n  maxAge: 600s\naccessSettings:\n  reauthSettings:\n    method: SECURE_KEY\n    maxAge: 600s\n",
			"reauthentication settings are given in reauthSettings and accessSettings.reauthSettings: keep one"},
		"access settings not a mapping": {"accessSettings: LOGIN\nmethod: LOGIN\nmaxAge: 600s\n", "must be a mapping"},
	} {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				_, err := ParseReauth([]byte(tc.in))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
			}
		})
	}
	// IAP's other access settings are not mistaken for misspellings.
	ok := "accessSettings:\n  oauthSettings:\n    loginHint: a@example.com\n  gcipSettings: {}\n  reauthSettings:\n    method: LOGIN\n    maxAge: 600s\nname: x\n"
	if _, err := ParseReauth([]byte(ok)); err != nil {
		t.Errorf("%v", err)
	}
}

// A reauth settings file that is not YAML is not called a policy.
func TestParseReauthSyntaxErrorNamesSettings(t *testing.T) {
	_, err := ParseReauth([]byte("accessSettings: [\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1: not valid IAP settings YAML: ") || strings.Contains(err.Error(), "policy") {
		t.Fatalf("error %v", err)
	}
}
