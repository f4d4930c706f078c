//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// doctorWorld: vm-ok answers SSH (the emulator's built-in server) and
// passes every check; vm-cond's tunnel grant is limited to port 22; the
// project doc-nofw has no firewall rule for IAP but lets the user create one.
const doctorWorld = `
users:
  - email: doctor-user@example.com
projects:
  - id: doc-ok
    metadata: {enable-oslogin: "TRUE"}
    iam:
      - role: roles/viewer
        members: [user:doctor-user@example.com]
      - role: roles/compute.osAdminLogin
        members: [user:doctor-user@example.com]
      - role: roles/iap.tunnelResourceAccessor
        members: [user:doctor-user@example.com]
        condition:
          title: ssh only
          expression: destination.port == 22
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: vm-ok
        zone: us-central1-a
        backends: {22: builtin-ssh}
  - id: doc-nofw
    metadata: {enable-oslogin: "TRUE"}
    iam:
      - role: roles/viewer
        members: [user:doctor-user@example.com]
      - role: roles/compute.osLogin
        members: [user:doctor-user@example.com]
      - role: roles/compute.securityAdmin
        members: [user:doctor-user@example.com]
      - role: roles/iap.tunnelResourceAccessor
        members: [user:doctor-user@example.com]
    instances:
      - name: vm-closed
        zone: us-central1-c
        tags: [ssh]
        backends: {22: builtin-ssh}
`

func runDoctor(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	env = append(env, "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	return runIapterm(t, env, append([]string{"doctor"}, args...)...)
}

func TestDoctorAgainstTheEmulator(t *testing.T) {
	world := writeTestFile(t, t.TempDir(), "world.yaml", doctorWorld)
	emu := startEmulator(t, "--world", world, "--tls")
	env := emu.Env()

	out, code := runDoctor(t, env, "doc-ok/us-central1-a/vm-ok")
	if code != 0 || !strings.Contains(out, "opened and closed a tunnel to port 22") {
		t.Fatalf("healthy VM: exit %d\n%s", code, out)
	}

	out, code = runDoctor(t, env, "vm-ok", "--project", "doc-ok", "--port", "3389", "--json")
	if code != 1 {
		t.Fatalf("port 3389: exit %d\n%s", code, out)
	}
	var rep struct {
		CanConnect bool `json:"canConnect"`
		Checks     []struct{ ID, Mark, Summary, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	marks := map[string]string{}
	for _, c := range rep.Checks {
		marks[c.ID] = c.Mark
		if c.ID == "iap-permission" && !strings.Contains(c.Summary, "`destination.port == 22` is false for destination.port = 3389") {
			t.Errorf("IAP check does not name the failing clause: %q", c.Summary)
		}
	}
	if rep.CanConnect || marks["iap-permission"] != "failed" || marks["transport"] != "failed" || marks["firewall"] != "ok" {
		t.Fatalf("marks %v\n%s", marks, out)
	}

	out, code = runDoctor(t, env, "vm-closed", "--project", "doc-nofw")
	if code != 1 || !strings.Contains(out, "--network=default --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20 --target-tags=ssh --project=doc-nofw") {
		t.Fatalf("no firewall: exit %d\n%s", code, out)
	}
	out, code = runDoctor(t, env, "vm-closed", "--project", "doc-nofw", "--fix")
	if code != 0 || !strings.Contains(out, "created firewall rule allow-ingress-from-iap") {
		t.Fatalf("--fix: exit %d\n%s", code, out)
	}
	out, code = runDoctor(t, env, "vm-closed", "--project", "doc-nofw")
	if code != 0 {
		t.Fatalf("after --fix: exit %d\n%s", code, out)
	}
}
