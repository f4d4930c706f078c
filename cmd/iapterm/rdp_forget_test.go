package main

import (
	"bufio"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"iapterm/emulator/world"
	"iapterm/rdp"
)

func TestRDPForgetPassword(t *testing.T) {
	keyring.MockInit()
	w := &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: "tok-alice"}},
		Projects: []world.Project{{
			ID:        "proj",
			IAM:       []world.Binding{{Role: "roles/viewer", Members: []string{"user:alice@example.com"}}},
			Instances: []world.Instance{{Name: "win", Zone: "us-central1-a", OS: "windows", Status: "TERMINATED"}},
		}},
	}
	url := doctorEmulator(t, w)
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	isolateHome(t)

	for _, user := range []string{"alice", "bob"} {
		if err := rdp.SavePassword("proj", "us-central1-a", "win", user, "pw-"+user); err != nil {
			t.Fatal(err)
		}
	}
	// A stopped VM: forgetting needs no connection.
	out, code := policyRunCLI(t, "--endpoint", url, "rdp", "win", "--project", "proj", "--user", "alice", "--forget-password")
	if code != 0 || !strings.Contains(out, "No password is saved for alice on proj/us-central1-a/win") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, found, err := rdp.LoadPassword("proj", "us-central1-a", "win", "alice"); err != nil || found {
		t.Fatalf("alice's password still saved (found %v, err %v)", found, err)
	}
	if pw, found, err := rdp.LoadPassword("proj", "us-central1-a", "win", "bob"); err != nil || !found || pw != "pw-bob" {
		t.Fatalf("bob's password was touched: %q %v %v", pw, found, err)
	}
	// Forgetting twice is not an error.
	if out, code := policyRunCLI(t, "--endpoint", url, "rdp", "win", "--project", "proj", "--user", "alice", "--forget-password"); code != 0 {
		t.Fatalf("second forget: exit %d\n%s", code, out)
	}
	// DOMAIN\user names the user (and the domain), as Windows writes it.
	if err := rdp.SavePassword("proj", "us-central1-a", "win", "carol", "pw-carol"); err != nil {
		t.Fatal(err)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "rdp", "win", "--project", "proj", "--user", `CORP\carol`, "--forget-password")
	if code != 0 || !strings.Contains(out, "No password is saved for carol on") {
		t.Fatalf("CORP\\carol: exit %d\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "rdp", "win", "--project", "proj", "--forget-password")
	if code == 0 || !strings.Contains(out, "give --user") {
		t.Fatalf("no user: exit %d\n%s", code, out)
	}
}

// --password-stdin typed at a terminal reads without echo (the hidden
// reader), and leaves stdin alone; piped, it takes stdin's first line.
func TestPasswordFromStdin(t *testing.T) {
	piped := bufio.NewReader(strings.NewReader("s3cret pass\nnext\n"))
	hidden := func() (string, error) { t.Fatal("hidden reader used for piped stdin"); return "", nil }
	if pw, err := passwordFromStdin(piped, false, hidden); err != nil || pw != "s3cret pass" {
		t.Fatalf("piped: %q, %v", pw, err)
	}
	typed := bufio.NewReader(strings.NewReader("not this\n"))
	pw, err := passwordFromStdin(typed, true, func() (string, error) { return "typed pw", nil })
	if err != nil || pw != "typed pw" {
		t.Fatalf("typed: %q, %v", pw, err)
	}
	if rest, _ := typed.ReadString('\n'); rest != "not this\n" {
		t.Fatalf("typed: stdin was read (%q left)", rest)
	}
	if _, err := passwordFromStdin(bufio.NewReader(strings.NewReader("\n")), false, hidden); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty line: %v", err)
	}
}
