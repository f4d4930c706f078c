package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolateHome gives the test its own home, config and cache directories,
// and no Application Default Credentials, so that nothing of the user's
// running the tests is read or written.
func isolateHome(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
}

func policyRunCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		code = 1
		var ec exitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		out.WriteString(err.Error())
	}
	return out.String(), code
}

func TestPolicyTestCommand(t *testing.T) {
	td := func(name string) string { return filepath.Join("..", "..", "policy", "testdata", name) }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"granted", []string{"--policy", td("port22.json"), "--member", "user:alice@example.com", "--port", "22"}, 0, "GRANTED"},
		{"denied with clause", []string{"--policy", td("port22.json"), "--member", "user:alice@example.com", "--port", "3389"}, 1, "`destination.port == 22` is false for destination.port = 3389"},
		{"group cannot tell", []string{"--policy", td("port22.json"), "--member", "bob@example.com", "--port", "22"}, 1, "cannot tell whether user:bob@example.com is in group:admins@example.com"},
		{"group given", []string{"--policy", td("port22.json"), "--member", "bob@example.com", "--port", "22", "--in-group", "admins@example.com"}, 0, "GRANTED"},
		{"other group given", []string{"--policy", td("port22.json"), "--member", "bob@example.com", "--port", "22", "--in-group", "ops@example.com"}, 1, "DENIED"},
		{"access level unverifiable", []string{"--policy", td("accesslevel.json"), "--member", "alice@example.com", "--port", "22", "--dest-ip", "10.0.0.1"}, 1, "requires access level accessPolicies/1234/accessLevels/corp_devices"},
		{"access level given", []string{"--policy", td("accesslevel.json"), "--member", "alice@example.com", "--port", "22", "--dest-ip", "10.0.0.1", "--access-level", "accessPolicies/1234/accessLevels/corp_devices"}, 0, "GRANTED"},
		{"expired time", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "22", "--time", "yesterday"}, 2, "RFC 3339"},
		{"malformed member", []string{"--policy", td("malformed-member.json"), "--member", "alice@example.com", "--port", "22"}, 2, "line 7, column 18"},
		{"malformed quotes", []string{"--policy", td("malformed-quotes.json"), "--member", "alice@example.com", "--port", "22"}, 2, "line 8"},
		{"missing file", []string{"--policy", td("nope.json"), "--member", "alice@example.com", "--port", "22"}, 2, "reading the policy"},
		{"no destination", []string{"--policy", td("port22.json"), "--member", "alice@example.com"}, 2, "--port"},
		{"web granted", []string{"--policy", td("web.yaml"), "--member", "alice@example.com", "--url", "https://APP.example.com/a/../b"}, 0, `normalised to "/b"`},
		{"web 400", []string{"--policy", td("web.yaml"), "--member", "alice@example.com", "--url", "https://app.example.com/bar/..;/"}, 1, "HTTP 400"},
		{"json", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "3389", "--json"}, 1, `"verdict": "denied"`},
		{"no policy flag", []string{"--member", "alice@example.com", "--port", "22"}, 2, "--policy FILE"},
		{"no member flag", []string{"--policy", td("port22.json"), "--port", "22"}, 2, "--member user:EMAIL"},
		{"member not an email", []string{"--policy", td("port22.json"), "--member", "alice", "--port", "22"}, 2, `--member "alice" is not an email`},
		{"dest-ip not an address", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "22", "--dest-ip", "db-1"}, 2, `--dest-ip "db-1" is not an IP address`},
		{"access level not a full name", []string{"--policy", td("accesslevel.json"), "--member", "alice@example.com", "--port", "22", "--access-level", "corp_devices"}, 2, "not a full access level name"},
		{"port not a number", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "ssh"}, 2, `invalid argument "ssh"`},
		{"empty file named as written", []string{"--policy", os.DevNull, "--member", "alice@example.com", "--port", "22"}, 2, os.DevNull + ": the policy file is empty"},
		{"url with port", []string{"--policy", td("web.yaml"), "--member", "alice@example.com", "--url", "https://app.example.com/", "--port", "22"}, 2, "--url tests a request to an IAP web app, which has no destination port or IP"},
		{"misspelt permission", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "22", "--permission", "iap.tunnelInstances.acessViaIAP"}, 1, "is in no role iapterm knows: check its spelling"},
		{"unknown role", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "22", "--permission", "roles/iap.tunnelResourceAccesor"}, 1, "is not a role iapterm knows"},
		{"group not an email", []string{"--policy", td("port22.json"), "--member", "bob@example.com", "--port", "22", "--in-group", "admins"}, 2, `--in-group "admins" is not a group's email`},
		{"stray argument", []string{"--policy", td("port22.json"), "--member", "alice@example.com", "--port", "22", "3389"}, 2, `unexpected argument "3389"`},
		{"condition on an ip not given", []string{"--policy", td("accesslevel.json"), "--member", "alice@example.com", "--port", "22", "--access-level", "accessPolicies/1234/accessLevels/corp_devices"}, 1, "empty without --dest-ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := policyRunCLI(t, append([]string{"policy", "test"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestPolicyReauthCommand(t *testing.T) {
	td := func(name string) string { return filepath.Join("..", "..", "policy", "testdata", name) }
	out, code := policyRunCLI(t, "policy", "reauth", td("reauth-org.yaml"), td("reauth-folder.json"), td("reauth-service.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"reauth-folder.json: ENROLLED_SECOND_FACTORS every 1200s (MINIMUM",
		"reauth-service.yaml: SECURE_KEY every 1200s (MINIMUM",
		"IAP TCP forwarding and service accounts are exempt",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, code = policyRunCLI(t, "policy", "reauth", td("port22.json"), td("malformed-member.json"))
	if code != 2 || !strings.Contains(out, "line 7") {
		t.Errorf("malformed: exit %d: %s", code, out)
	}
	out, code = policyRunCLI(t, "policy", "reauth")
	if code != 2 || !strings.Contains(out, "give the settings files") {
		t.Errorf("no files: exit %d: %s", code, out)
	}
	out, code = policyRunCLI(t, "policy", "reauth", "--jsn", td("reauth-org.yaml"))
	if code != 2 || !strings.Contains(out, "unknown flag: --jsn") {
		t.Errorf("unknown flag: exit %d: %s", code, out)
	}
}

// A policy read from standard input is named as such in errors.
func TestPolicyTestFromStdin(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		code     int
	}{
		{"", "iapterm policy test: standard input: the policy file is empty", 2},
		{`{"bindings": [{"role": "roles/iap.tunnelResourceAccessor", "members": ["user:alice@example.com"]}]}`, "GRANTED", 0},
	} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader(tc.in))
		root.SetArgs([]string{"policy", "test", "--policy", "-", "--member", "alice@example.com", "--port", "22"})
		err := root.Execute()
		code := 0
		var ec exitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
			out.WriteString("iapterm policy test: " + err.Error())
		}
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("input %q: exit %d, want %d and %q:\n%s", tc.in, code, tc.code, tc.want, out.String())
		}
	}
}

// As policy test --policy -, policy reauth reads one level from standard
// input when it is named -.
func TestPolicyReauthReadsStandardInput(t *testing.T) {
	td := func(name string) string { return filepath.Join("..", "..", "policy", "testdata", name) }
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader("accessSettings:\n  reauthSettings:\n    method: SECURE_KEY\n    maxAge: 600s\n"))
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("policy", "reauth", td("reauth-org.yaml"), "-")
	if err != nil || !strings.Contains(out, "standard input: SECURE_KEY every 600s (MINIMUM, from ") {
		t.Fatalf("%v:\n%s", err, out)
	}
	if _, err := run("policy", "reauth", "-", "-"); err == nil || !strings.Contains(err.Error(), "only one of the levels") {
		t.Fatalf("twice: %v", err)
	}
}
