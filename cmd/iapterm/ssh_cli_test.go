package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iapterm/emulator"
	"iapterm/emulator/emutest"
)

const sshCLIWorld = `
users:
  - email: alice@example.com
    token: tok-alice
projects:
  - id: proj
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:alice@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp, ports: ["22"]}]
    instances:
      - name: vm-1
        zone: us-central1-a
        backends: {22: builtin-ssh}
`

// sshCLIEnv starts an emulator with one reachable VM and points the CLI at
// it, with its own home and config directories.
func sshCLIEnv(t *testing.T) string {
	t.Helper()
	return sshCLIEnvWithAgentDelay(t, 10*time.Millisecond)
}

// sshCLIEnvWithAgentDelay is sshCLIEnv with the VM's guest agent taking
// delay to apply a published key.
func sshCLIEnvWithAgentDelay(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv, _ := emutest.Start(t, sshCLIWorld, emulator.Options{AgentDelay: delay})
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	t.Setenv("IAPTERM_ENDPOINT", "")
	t.Setenv("IAPTERM_PROJECT", "")
	isolateHome(t)
	return srv.Endpoint()
}

// TestSSHExitStatusWhenNotConnected checks that every failure before the
// remote command runs exits 255, as OpenSSH does, so that a script can
// tell it from the command's own status (grep's 1, for one).
func TestSSHExitStatusWhenNotConnected(t *testing.T) {
	ep := sshCLIEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown instance", []string{"nosuch", "--project", "proj"}, "nosuch not found"},
		{"unknown project", []string{"vm-1", "--project", "nosuch"}, "nosuch not found"},
		{"unknown zone", []string{"vm-1", "--project", "proj", "--zone", "us-west1-a"}, "not found"},
		{"port 0", []string{"vm-1", "--project", "proj", "--port", "0"}, "--port 0 is not a TCP port"},
		{"port too large", []string{"vm-1", "--project", "proj", "--port", "70000"}, "not a TCP port"},
		{"bad user", []string{"vm-1", "--project", "proj", "--user", "bad user!"}, `--user "bad user!" is not a login name`},
		{"negative key validity", []string{"vm-1", "--project", "proj", "--key-validity", "-1h"}, "--key-validity -1h0m0s is not a positive duration"},
		{"zero key validity", []string{"vm-1", "--project", "proj", "--key-validity", "0s"}, "--key-validity 0s is not a positive duration"},
		{"conflicting project", []string{"proj/us-central1-a/vm-1", "--project", "other"}, "--project says other"},
		{"conflicting zone", []string{"proj/us-central1-a/vm-1", "--zone", "us-east1-b"}, "--zone says us-east1-b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--endpoint", ep, "ssh"}, tc.args...)
			out, code := policyRunCLI(t, append(args, "-q", "--", "true")...)
			if code != 255 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 255 with %q:\n%s", code, tc.want, out)
			}
		})
	}
	// The same VM written both ways is fine.
	out, code := policyRunCLI(t, "--endpoint", ep, "ssh", "proj/us-central1-a/vm-1", "--project", "proj", "--zone", "us-central1-a", "-q", "--", "exit 3")
	if code != 3 {
		t.Fatalf("exit %d, want the command's 3:\n%s", code, out)
	}
}

// TestSSHInterruptedCommandExits130 interrupts a running remote command
// (Ctrl-C) and expects 130, not 255 with "connection lost".
func TestSSHInterruptedCommandExits130(t *testing.T) {
	ep := sshCLIEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	var errOut bytes.Buffer
	root.SetOut(&errOut)
	root.SetErr(&errOut)
	root.SetArgs([]string{"--endpoint", ep, "ssh", "vm-1", "--project", "proj", "-q", "--", "echo started; sleep 60"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); w.Close() }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "started\n" {
		cancel()
		t.Fatalf("read %q (%v); command said: %v %s", line, err, <-done, errOut.String())
	}
	cancel()
	err = <-done
	var ec exitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != 130 {
		t.Fatalf("got %v, want exit status 130", err)
	}
	if ec.Error() != "" {
		t.Fatalf("message %q, want none", ec.Error())
	}
}

// TestCpMessages checks cp's messages for paths that cannot be copied.
func TestCpMessages(t *testing.T) {
	ep := sshCLIEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no remote file", []string{"vm-1:", dir}, "vm-1: names no file"},
		{"missing local directory", []string{"vm-1:/etc/hostname", dir + "/nodir/"}, "there is no directory " + dir + "/nodir/ here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--endpoint", ep, "cp", "--project", "proj", "-q"}, tc.args...)
			out, code := policyRunCLI(t, args...)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestSSHAgentMissingIsAMessage checks that --agent without an ssh-agent
// says so as a message, not as a timestamped log record.
func TestSSHAgentMissingIsAMessage(t *testing.T) {
	// The guest agent's delay makes the client retry: still one warning.
	ep := sshCLIEnvWithAgentDelay(t, 600*time.Millisecond)
	t.Setenv("SSH_AUTH_SOCK", "")
	out, code := policyRunCLI(t, "--endpoint", ep, "ssh", "vm-1", "--project", "proj", "--agent", "-q", "--", "true")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := "iapterm: warning: ssh-agent keys unavailable: no ssh-agent: SSH_AUTH_SOCK is not set\n"
	if out != want {
		t.Fatalf("stderr %q, want %q", out, want)
	}
}

// TestSSHSaysItWaitsForTheKey: without a terminal there is no progress
// line, so the wait for a newly published key is announced once on stderr
// instead of passing in silence.
func TestSSHSaysItWaitsForTheKey(t *testing.T) {
	ep := sshCLIEnvWithAgentDelay(t, 1500*time.Millisecond)
	out, code := policyRunCLI(t, "--endpoint", ep, "ssh", "vm-1", "--project", "proj", "--", "true")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := "iapterm: vm-1 has not accepted the new SSH key yet; waiting up to 1m30s for its guest agent to install it\n"
	if strings.Count(out, want) != 1 {
		t.Fatalf("stderr %q, want %q once", out, want)
	}
	// With -q nothing is said (a new emulator and home: a new key waits).
	ep = sshCLIEnvWithAgentDelay(t, 1500*time.Millisecond)
	out, code = policyRunCLI(t, "--endpoint", ep, "ssh", "vm-1", "--project", "proj", "-q", "--", "true")
	if code != 0 || out != "" {
		t.Fatalf("-q: exit %d, stderr %q", code, out)
	}
}

// TestCpRecurse copies a directory up and down with -r, and without it
// says how.
func TestCpRecurse(t *testing.T) {
	ep := sshCLIEnv(t)
	src := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("content\n"), 0o644)
	cp := func(args ...string) (string, int) {
		return policyRunCLI(t, append([]string{"--endpoint", ep, "cp", "--project", "proj", "-q"}, args...)...)
	}
	if out, code := cp(src, "vm-1:"); code != 1 || !strings.Contains(out, "add --recurse (-r)") {
		t.Fatalf("without -r: exit %d:\n%s", code, out)
	}
	if out, code := cp("-r", src, "vm-1:"); code != 0 {
		t.Fatalf("upload: exit %d:\n%s", code, out)
	}
	dst := t.TempDir()
	if out, code := cp("vm-1:tree", dst); code != 1 || !strings.Contains(out, "add --recurse (-r)") {
		t.Fatalf("download without -r: exit %d:\n%s", code, out)
	}
	if out, code := cp("--recurse", "vm-1:tree", dst); code != 0 {
		t.Fatalf("download: exit %d:\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "tree", "sub", "f")); string(b) != "content\n" {
		t.Fatalf("round trip: %q %v", b, err)
	}
}

// TestCpPort checks that cp takes --port as ssh does.
func TestCpPort(t *testing.T) {
	ep := sshCLIEnv(t)
	out, code := policyRunCLI(t, "--endpoint", ep, "cp", "--project", "proj", "-q", "--port", "2222", "vm-1:/etc/hostname", t.TempDir())
	if code != 1 || !strings.Contains(out, "port 2222") {
		t.Fatalf("exit %d, want a failure to reach port 2222:\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", ep, "cp", "--project", "proj", "-q", "--port", "0", "vm-1:/etc/hostname", t.TempDir())
	if code != 1 || !strings.Contains(out, "--port 0 is not a TCP port") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestSSHDryRunTTY checks that --dry-run carries -t and -T over to the
// OpenSSH command where they change what ssh does.
func TestSSHDryRunTTY(t *testing.T) {
	ep := sshCLIEnv(t)
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"-t", "--", "top"}, " -t alice@vm-1 -- top", " -T "},
		{[]string{"-T"}, " -T alice@vm-1\n", " -t "},
		{[]string{"--", "uname"}, " alice@vm-1 -- uname", " -t "},
	} {
		args := append([]string{"--endpoint", ep, "ssh", "vm-1", "--project", "proj", "--user", "alice", "-q", "--dry-run"}, tc.args...)
		out, code := policyRunCLI(t, args...)
		if code != 0 || !strings.Contains(out, tc.want) || strings.Contains(out, tc.not) {
			t.Errorf("%v: exit %d, want %q and no %q in:\n%s", tc.args, code, tc.want, tc.not, out)
		}
	}
}

// TestSSHForcedTTYWithoutTerminal checks that -t says so when it cannot
// give the VM a terminal (the test's input is not one), as OpenSSH does.
func TestSSHForcedTTYWithoutTerminal(t *testing.T) {
	ep := sshCLIEnv(t)
	out, code := policyRunCLI(t, "--endpoint", ep, "ssh", "vm-1", "--project", "proj", "-t", "--", "true")
	if code != 0 || !strings.Contains(out, "warning: -t: no terminal for the VM") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	out, code = policyRunCLI(t, "--endpoint", ep, "ssh", "vm-1", "--project", "proj", "-t", "-q", "--", "true")
	if code != 0 || out != "" {
		t.Fatalf("-q: exit %d:\n%s", code, out)
	}
}

// TestCpRemoteSpec checks which arguments name a VM.
func TestCpRemoteSpec(t *testing.T) {
	t.Chdir(t.TempDir())
	os.MkdirAll(filepath.Join("sub", "dir"), 0o755)
	os.MkdirAll("acme-prod", 0o755) // a folder per project
	for _, tc := range []struct {
		arg, inst, path string
		remote          bool
	}{
		{"web-1:/tmp/x", "web-1", "/tmp/x", true},
		{"proj/us-central1-a/web-1:logs", "proj/us-central1-a/web-1", "logs", true},
		{"web-1:", "web-1", "", true},
		{"./a:b", "", "", false},
		{"/tmp/a:b", "", "", false},
		{"dir/a:b", "", "", false},
		// Three parts, but a path here: its directory exists.
		{"sub/dir/c:d", "", "", false},
		// A folder named like the project does not make the VM local.
		{"acme-prod/us-central1-a/web-1:/x", "acme-prod/us-central1-a/web-1", "/x", true},
		{"plain", "", "", false},
	} {
		inst, p, ok := cpRemoteSpec(tc.arg)
		if ok != tc.remote || inst != tc.inst || p != tc.path {
			t.Errorf("%q: got (%q, %q, %v), want (%q, %q, %v)", tc.arg, inst, p, ok, tc.inst, tc.path, tc.remote)
		}
	}
}

// --export-key exports the key iapterm ssh would use: with an INSTANCE,
// the key type of its settings (here the instance's own layer), without
// one the global settings' type; --key-type still wins.
func TestSSHExportKeyFollowsSettings(t *testing.T) {
	ep := sshCLIEnv(t)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[settings.ssh]\nkey_type = \"ecdsa-p384\"\n\n[instance.\"proj/us-central1-a/vm-1\".ssh]\nkey_type = \"ecdsa-p256\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vm-1", "--project", "proj"}, "iapterm_ecdsa_p256"},
		{[]string{"proj/us-central1-a/vm-1"}, "iapterm_ecdsa_p256"},
		{nil, "iapterm_ecdsa_p384"},
		{[]string{"vm-1", "--project", "proj", "--key-type", "ed25519"}, "iapterm_ed25519"},
	} {
		args := append([]string{"--endpoint", ep, "--config", cfg, "ssh", "--export-key"}, tc.args...)
		out, code := policyRunCLI(t, args...)
		if code != 0 || !strings.Contains(out, string(filepath.Separator)+tc.want+"\n") {
			t.Errorf("%v: exit %d, want %s:\n%s", tc.args, code, tc.want, out)
		}
	}
	out, code := policyRunCLI(t, "--endpoint", ep, "--config", cfg, "ssh", "--export-key", "vm-1", "--project", "proj", "--", "uname")
	if code == 0 || !strings.Contains(out, "runs nothing") {
		t.Errorf("with a command: exit %d:\n%s", code, out)
	}
}

// iapterm rdp on a Linux VM goes on (xrdp exists) but says first that it
// needs an RDP server there and that iapterm ssh is the way to a shell.
func TestRDPOnLinuxVMSaysWhatItNeeds(t *testing.T) {
	ep := sshCLIEnv(t)
	out, code := policyRunCLI(t, "--endpoint", ep, "rdp", "vm-1", "--project", "proj", "--client", filepath.Join(t.TempDir(), "no-such-client"))
	if code == 0 || !strings.Contains(out, "vm-1 runs linux, not Windows: RDP works only if it runs an RDP server (such as xrdp) on port 3389; for a shell, use iapterm ssh vm-1 --project proj --zone us-central1-a") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// connect says what stops a profile before it opens a tunnel: an app
// that is not installed (it used to open and test the tunnel first, and
// fail on that), or an instance that is not running (a relay error).
func TestConnectChecksBeforeTheTunnel(t *testing.T) {
	srv, _ := emutest.Start(t, `
users:
  - email: alice@example.com
    token: tok-alice
projects:
  - id: proj
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    instances:
      - name: vm-1
        zone: us-central1-a
      - name: vm-2
        zone: us-central1-a
        status: TERMINATED
`, emulator.Options{})
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	isolateHome(t)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(`[app.nosuch]
remote_port = 5432
executable = "iapterm-test-no-such-program"

[[profile]]
name = "missing-app"
project = "proj"
zone = "us-central1-a"
instance = "vm-1"
app = "nosuch"

[[profile]]
name = "stopped"
project = "proj"
zone = "us-central1-a"
instance = "vm-2"
protocol = "tunnel"
remote_port = 22
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"missing-app": `app nosuch runs "iapterm-test-no-such-program", which is not installed or not on PATH`,
		"stopped":     "vm-2 is TERMINATED, not RUNNING: start it first",
	} {
		out, code := policyRunCLI(t, "--endpoint", srv.Endpoint(), "--config", cfg, "connect", name)
		if code == 0 || !strings.Contains(out, want) || strings.Contains(out, "relay") {
			t.Errorf("%s: exit %d, want %q:\n%s", name, code, want, out)
		}
	}
}
