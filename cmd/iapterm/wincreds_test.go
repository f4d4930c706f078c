package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
)

// windows-credentials prints the new password once, on stdout; --copy
// sends it to the terminal through the command's own stderr (where the
// terminal is), and nothing else it writes holds the password.
func TestWindowsCredentialsPasswordOnlyWhereAsked(t *testing.T) {
	w := ownedWindowsVM()
	s, _ := emutest.Serve(t, w, emulator.Options{AgentDelay: -1})
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	isolateHome(t)
	t.Setenv("TMUX", "")

	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"--endpoint", s.Endpoint(), "windows-credentials", "win", "--project", "proj", "--user", "bob", "--copy", "--yes"})
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^Password: (.+)$`).FindStringSubmatch(stdout.String())
	if m == nil || !strings.Contains(stdout.String(), "Username: bob\n") {
		t.Fatalf("stdout %q", stdout.String())
	}
	password := m[1]
	if n := strings.Count(stdout.String(), password); n != 1 {
		t.Errorf("password on stdout %d times", n)
	}
	if strings.Contains(stderr.String(), password) {
		t.Errorf("password in plain text on stderr: %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), "\x1b]52;c;") || !strings.Contains(stderr.String(), "Password sent to the terminal clipboard") {
		t.Errorf("--copy: no OSC 52 on the command's stderr: %q", stderr.String())
	}
}

// ownedWindowsVM is a world with one Windows VM, proj/us-central1-a/win,
// whose project alice (token tok-alice) owns.
func ownedWindowsVM() *world.World {
	return &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: "tok-alice"}},
		Projects: []world.Project{{
			ID:        "proj",
			IAM:       []world.Binding{{Role: "roles/owner", Members: []string{"user:alice@example.com"}}},
			Instances: []world.Instance{{Name: "win", Zone: "us-central1-a", OS: "windows"}},
		}},
	}
}
