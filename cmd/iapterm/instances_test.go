package main

import (
	"strings"
	"testing"

	"iapterm/emulator/world"
)

// A project that cannot be read is a warning, and the others are still
// listed; the exit status says so when the project was named or when no
// project could be read.
func TestInstancesListExitStatus(t *testing.T) {
	w := &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: "tok-alice"}},
		Projects: []world.Project{{
			ID:        "proj",
			IAM:       []world.Binding{{Role: "roles/viewer", Members: []string{"user:alice@example.com"}}},
			Instances: []world.Instance{{Name: "vm", Zone: "us-central1-a"}},
		}},
	}
	url := doctorEmulator(t, w)
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	isolateHome(t)

	out, code := policyRunCLI(t, "--endpoint", url, "instances", "list", "-p", "proj")
	if code != 0 || !strings.Contains(out, "vm") {
		t.Fatalf("readable project: exit %d\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "instances", "list", "-p", "proj,nope")
	if code != 1 || !strings.Contains(out, "vm") || !strings.Contains(out, "warning: nope:") ||
		!strings.Contains(out, "could not list the instances of nope (1 of 2 project(s)") {
		t.Fatalf("one named project missing: exit %d\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "instances", "list", "-p", "nope")
	if code != 1 || strings.Contains(out, "No instances found") {
		t.Fatalf("no project readable: exit %d, and no 'No instances found.'\n%s", code, out)
	}
}
