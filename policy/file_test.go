package policy

import (
	"strings"
	"testing"
)

// A misspelt key must not be dropped: without its condition a conditional
// grant would read as an unconditional one.
func TestParsePolicyRejectsUnknownKeys(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"json condition typo": {
			`{"bindings": [{"role": "roles/iap.tunnelResourceAccessor", "members": ["user:a@example.com"], "conditon": {"expression": "destination.port == 22"}}]}`,
			`line 1, column 95: unknown key "conditon"`,
		},
		"json wrapped members typo": {
			`{"policy": {"bindings": [{"role": "roles/owner", "memebers": ["user:a@example.com"]}]}}`,
			`unknown key "memebers"`,
		},
		"json top-level typo": {
			`{"binding": []}`,
			`unknown key "binding"`,
		},
		"yaml condition typo": {
			"bindings:\n- role: roles/iap.tunnelResourceAccessor\n  members: [user:a@example.com]\n  conditon:\n    expression: destination.port == 22\n",
			`line 4: unknown key "conditon"`,
		},
		"yaml expression typo": {
			"bindings:\n- role: roles/owner\n  members: [user:a@example.com]\n  condition:\n    expresion: destination.port == 22\n",
			`line 5: unknown key "expresion"`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "check the spelling") {
				t.Fatalf("error %q does not say what to do", err)
			}
		})
	}
}

// What gcloud prints besides bindings is accepted.
func TestParsePolicyAcceptsGcloudKeys(t *testing.T) {
	for name, in := range map[string]string{
		"json":    `{"auditConfigs": [{"service": "allServices", "auditLogConfigs": [{"logType": "DATA_READ"}]}], "bindings": [{"role": "roles/owner", "members": ["user:a@example.com"], "condition": {"title": "t", "expression": "true", "location": "x"}}], "etag": "BwX=", "version": 3}`,
		"wrapped": `{"policy": {"auditConfigs": [], "bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}], "etag": "BwX=", "version": 1}, "updateMask": "bindings,etag"}`,
		"yaml":    "auditConfigs:\n- service: allServices\nbindings:\n- role: roles/owner\n  members:\n  - user:a@example.com\netag: BwX=\nversion: 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/owner" {
				t.Fatalf("bindings %+v", p.Bindings)
			}
		})
	}
}

// YAML type errors are said in the file's terms, not Go's.
func TestParsePolicyYAMLTypeErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"members string": {"bindings:\n- role: roles/owner\n  members: user:a@example.com\n", "line 3: this must be a list, not a string"},
		"list document":  {"- role: roles/owner\n", `line 1: this must be a policy (a mapping with "bindings"), not a list`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "policy.") || strings.Contains(err.Error(), "!!") {
				t.Fatalf("error %q, want %q without Go or YAML internals", err, tc.want)
			}
		})
	}
}
