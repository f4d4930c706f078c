package main

import (
	"net"
	"strings"
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
)

// doctorEmulator serves w's control plane and relay on loopback and
// returns its URL.
func doctorEmulator(t *testing.T, w *world.World) string {
	t.Helper()
	s, _ := emutest.Serve(t, w, emulator.Options{})
	return s.Endpoint()
}

func TestDoctorCommand(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	w := &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: "tok-alice"}},
		Projects: []world.Project{{
			ID:       "proj",
			Metadata: map[string]string{"enable-oslogin": "TRUE"},
			IAM: []world.Binding{
				{Role: "roles/viewer", Members: []string{"user:alice@example.com"}},
				{Role: "roles/compute.osLogin", Members: []string{"user:alice@example.com"}},
				{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"user:alice@example.com"},
					Condition: &world.Condition{Title: "ssh only", Expression: "destination.port == 22"}},
			},
			Firewalls: []world.Firewall{{Name: "allow-iap-ssh", SourceRanges: []string{"35.235.240.0/20"},
				Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22"}}}}},
			Instances: []world.Instance{{Name: "vm", Zone: "us-central1-a", Backends: map[int]string{22: l.Addr().String(), 3389: l.Addr().String()}}},
		}},
	}
	url := doctorEmulator(t, w)
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	isolateHome(t)
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("HTTP_PROXY", "")

	out, code := policyRunCLI(t, "--endpoint", url, "doctor", "vm", "--project", "proj")
	if code != 0 || !strings.Contains(out, "No blocking problem found") {
		t.Fatalf("port 22: exit %d\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "doctor", "proj/us-central1-a/vm", "--port", "3389")
	if code != 1 {
		t.Fatalf("port 3389: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"[failed]  Firewall",
		"--rules=tcp:3389",
		"`destination.port == 22` is false for destination.port = 3389",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, code = policyRunCLI(t, "--endpoint", url, "doctor", "vm", "--project", "proj", "--port", "3389", "--json")
	if code != 1 || !strings.Contains(out, `"canConnect": false`) || !strings.Contains(out, `"mark": "failed"`) {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	if out, code = policyRunCLI(t, "--endpoint", url, "doctor"); code != 2 {
		t.Fatalf("no instance: exit %d\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", url, "doctor", "vm")
	if code != 2 || !strings.Contains(out, "--project") {
		t.Fatalf("no project: exit %d\n%s", code, out)
	}
}

// Arguments that cannot be meant are usage errors (exit 2) before any
// check runs, so no emulator is needed.
func TestDoctorUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proj/us-central1-a/vm", "--project", "other"}, "is in project proj, but --project says other"},
		{[]string{"proj/us-central1-a/vm", "--zone", "europe-west1-b"}, "is in zone us-central1-a, but --zone says europe-west1-b"},
		{[]string{"proj/us-central1-a/"}, "has no name"},
		{[]string{"vm", "--project", "proj", "--port", "ssh"}, `invalid argument "ssh"`},
		{[]string{"vm", "--project", "proj", "--access-level", "corp_devices"}, "not a full access level name"},
	} {
		out, code := policyRunCLI(t, append([]string{"--endpoint", "http://127.0.0.1:1", "doctor"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("doctor %v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	// The same place given twice is fine.
	out, code := policyRunCLI(t, "--endpoint", "http://127.0.0.1:1", "doctor", "proj/us-central1-a/vm", "--project", "proj", "--port", "0")
	if code != 2 || !strings.Contains(out, "--port 0") {
		t.Errorf("matching --project: exit %d:\n%s", code, out)
	}
}
