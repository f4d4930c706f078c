package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"google.golang.org/api/oslogin/v1"

	"iapterm/emulator/agent"
)

const emulatorFlagsWorld = `
users:
  - email: alice@example.com
    token: alice-token
projects:
  - id: proj
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    instances:
      - name: vm
        zone: us-central1-a
      - name: win
        zone: us-central1-a
        os: windows
`

// runEmulatorCmd runs `iapterm emulator --world W ARGS` in-process until
// the test ends and returns its endpoint.
func runEmulatorCmd(t *testing.T, args ...string) string {
	t.Helper()
	wf := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(wf, []byte(emulatorFlagsWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs(append([]string{"emulator", "--world", wf}, args...))
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	sc := bufio.NewScanner(pr)
	endpoint := ""
	for endpoint == "" && sc.Scan() {
		endpoint, _ = strings.CutPrefix(sc.Text(), "IAPTERM_ENDPOINT=")
	}
	go io.Copy(io.Discard, pr)
	if endpoint == "" {
		t.Fatalf("the emulator printed no endpoint: %v", <-done)
	}
	return endpoint
}

func emulatorClientOpts(endpoint string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(endpoint + "/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "alice-token"}))}
}

func TestEmulatorFlagsTakeEffect(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))

	t.Run("forbid-user-ssh-keys", func(t *testing.T) {
		for _, forbid := range []bool{false, true} {
			var args []string
			if forbid {
				args = []string{"--forbid-user-ssh-keys"}
			}
			svc, err := oslogin.NewService(ctx, emulatorClientOpts(runEmulatorCmd(t, args...))...)
			if err != nil {
				t.Fatal(err)
			}
			imp, err := svc.Users.ImportSshPublicKey("users/alice@example.com", &oslogin.SshPublicKey{Key: line}).Do()
			if err != nil {
				t.Fatal(err)
			}
			if added := len(imp.LoginProfile.SshPublicKeys) == 1; added == forbid {
				t.Fatalf("forbid %v: key added = %v", forbid, added)
			}
		}
	})

	t.Run("operation-delay", func(t *testing.T) {
		for _, args := range [][]string{nil, {"--operation-delay", "1h"}} {
			svc, err := compute.NewService(ctx, emulatorClientOpts(runEmulatorCmd(t, args...)+"/compute/v1")...)
			if err != nil {
				t.Fatal(err)
			}
			in, err := svc.Instances.Get("proj", "us-central1-a", "vm").Do()
			if err != nil {
				t.Fatal(err)
			}
			op, err := svc.Instances.SetMetadata("proj", "us-central1-a", "vm", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint}).Do()
			if err != nil {
				t.Fatal(err)
			}
			// An hour-long delay cannot have ended yet; without it the
			// operation is done in its answer.
			want := "DONE"
			if args != nil {
				want = "RUNNING"
			}
			if op.Status != want {
				t.Fatalf("%v: operation %s, want %s", args, op.Status, want)
			}
		}
	})

	t.Run("transition", func(t *testing.T) {
		svc, err := compute.NewService(ctx, emulatorClientOpts(runEmulatorCmd(t, "--transition", "1h")+"/compute/v1")...)
		if err != nil {
			t.Fatal(err)
		}
		op, err := svc.Instances.Stop("proj", "us-central1-a", "vm").Do()
		if err != nil {
			t.Fatal(err)
		}
		in, err := svc.Instances.Get("proj", "us-central1-a", "vm").Do()
		if err != nil || in.Status != "STOPPING" || op.Status == "DONE" {
			t.Fatalf("--transition 1h: status %v, operation %s, %v; want STOPPING and a running operation", in.Status, op.Status, err)
		}
	})

	t.Run("authorized-keys", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "authorized_keys")
		endpoint := runEmulatorCmd(t, "--agent-delay", "-1s", "--authorized-keys", "alice@proj/us-central1-a/vm="+path)
		svc, err := compute.NewService(ctx, emulatorClientOpts(endpoint+"/compute/v1")...)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Projects.Get("proj").Do()
		if err != nil {
			t.Fatal(err)
		}
		v := "alice:" + line + "\nbob:" + line
		if _, err := svc.Projects.SetCommonInstanceMetadata("proj", &compute.Metadata{Fingerprint: p.CommonInstanceMetadata.Fingerprint,
			Items: []*compute.MetadataItems{{Key: "ssh-keys", Value: &v}}}).Do(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), line+" alice\n") || strings.Contains(string(data), " bob") {
			t.Fatalf("authorized_keys after publishing: %v\n%s", err, data)
		}
	})
}

// TestEmulatorFlagsReachOptions checks each flag lands in the emulator's
// options (the transition's length cannot be told from outside without
// timing it; emulator/api tests what each option does).
func TestEmulatorFlagsReachOptions(t *testing.T) {
	cmd, f := newEmulatorCmdFlags()
	dir := t.TempDir()
	if err := cmd.ParseFlags([]string{"--transition", "-1s", "--operation-delay", "3s", "--forbid-user-ssh-keys",
		"--authorized-keys", "p/z/vm=" + dir + "/all", "--authorized-keys", "alice@p/z/vm2=" + dir + "/%u"}); err != nil {
		t.Fatal(err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Transition != -time.Second || o.OperationDelay != 3*time.Second || !o.ForbidUserSSHKeys {
		t.Fatalf("options: transition %v, operation delay %v, forbid %v", o.Transition, o.OperationDelay, o.ForbidUserSSHKeys)
	}
	if len(o.AuthorizedKeys) != 2 || o.AuthorizedKeys[0] != (agent.AuthorizedKeysFile{VM: "p/z/vm", Path: dir + "/all"}) ||
		o.AuthorizedKeys[1] != (agent.AuthorizedKeysFile{VM: "p/z/vm2", Path: dir + "/%u", User: "alice"}) {
		t.Fatalf("authorized keys: %+v", o.AuthorizedKeys)
	}
	// A relative path is taken from the working directory.
	cmd, f = newEmulatorCmdFlags()
	cmd.ParseFlags([]string{"--authorized-keys", "p/z/vm=keys"})
	o, err = f.options()
	wd, _ := os.Getwd()
	if err != nil || o.AuthorizedKeys[0].Path != filepath.Join(wd, "keys") {
		t.Fatalf("relative path: %+v %v", o.AuthorizedKeys, err)
	}
}

func TestEmulatorAuthorizedKeysFlagErrors(t *testing.T) {
	wf := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(wf, []byte(emulatorFlagsWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct{ value, want string }{
		{"proj/us-central1-a/vm", "must be [USER@]PROJECT/ZONE/INSTANCE=PATH"},
		{"vm=" + dir + "/k", `"vm" must be PROJECT/ZONE/INSTANCE`},
		{"@proj/us-central1-a/vm=" + dir + "/k", "the user before @ is empty"},
		{"a/b@proj/us-central1-a/vm=" + dir + "/k", "not a login name"},
		{"proj/us-central1-a/vm=" + dir + "/%u/k", "only in the file name"},
		{"proj/us-central1-a/nope=" + dir + "/k", "no such VM proj/us-central1-a/nope"},
		{"proj/us-central1-a/win=" + dir + "/k", "Windows VM"},
		{"proj/us-central1-a/vm=" + dir + "/missing/k", "create it first"},
	}
	for _, tt := range tests {
		out, code := policyRunCLI(t, "emulator", "--world", wf, "--authorized-keys", tt.value)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("--authorized-keys %s: exit %d, %q; want an error with %q", tt.value, code, out, tt.want)
		}
	}
	out, code := policyRunCLI(t, "emulator", "--world", wf, "--operation-delay", "-1s")
	if code == 0 || !strings.Contains(out, "--operation-delay must not be negative") {
		t.Errorf("--operation-delay -1s: exit %d %q", code, out)
	}
}

func FuzzParseAuthorizedKeysFlags(f *testing.F) {
	f.Add("alice@p/z/vm=/srv/keys/%u")
	f.Add("p/z/vm=keys")
	f.Add("@/=/")
	f.Fuzz(func(t *testing.T, v string) {
		files, err := parseAuthorizedKeysFlags([]string{v})
		if err != nil {
			return
		}
		fl := files[0]
		if strings.Count(fl.VM, "/") != 2 || !filepath.IsAbs(fl.Path) || (fl.User != "" && !agent.ValidUsername(fl.User)) {
			t.Fatalf("%q parsed as %+v", v, fl)
		}
	})
}

// A world file that cannot be read is not called invalid: the message
// names the flag and why it could not be read.
func TestEmulatorWorldFileNotRead(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "world.yaml")
	out, code := policyRunCLI(t, "emulator", "--world", missing)
	if code == 0 || !strings.Contains(out, "--world "+missing+": no such file or directory") || strings.Contains(out, "invalid") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(bad, []byte("projects:\n  - id: x\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = policyRunCLI(t, "emulator", "--world", bad)
	if code == 0 || !strings.Contains(out, "invalid world file") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A --backend that names no VM of the world, or a VM port twice, is refused
// before the emulator starts, with what the world does have.
func TestEmulatorBackendFlagErrors(t *testing.T) {
	wf := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(wf, []byte(emulatorFlagsWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "proj/us-central1-a/vm:abc=127.0.0.1:22"}, `"proj/us-central1-a/vm:abc" must be PROJECT/ZONE/INSTANCE:PORT with PORT 1-65535`},
		{[]string{"--backend", "nope/us-central1-a/vm:22=127.0.0.1:22"}, "the world has no project nope (it has proj)"},
		{[]string{"--backend", "proj/us-central1-a/mv:22=127.0.0.1:22"}, "project proj has no VM mv in zone us-central1-a (its VMs: us-central1-a/vm, us-central1-a/win)"},
	}
	for _, tt := range tests {
		out, code := policyRunCLI(t, append([]string{"emulator", "--world", wf}, tt.args...)...)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", tt.args, code, out, tt.want)
		}
	}
	// Checked on the flags alone: run in full, a world that accepts them
	// would serve until interrupted.
	_, err := parseBackendFlags([]string{"proj/us-central1-a/vm:22=127.0.0.1:22", "proj/us-central1-a/vm:22=127.0.0.1:2222"})
	if err == nil || !strings.Contains(err.Error(), "proj/us-central1-a/vm:22 is already given (=127.0.0.1:22)") {
		t.Errorf("the same VM port twice: %v", err)
	}
}

// The help tells what -v logs, as the README does.
func TestEmulatorVerboseHelp(t *testing.T) {
	cmd, _ := newEmulatorCmdFlags()
	if u := cmd.Flags().Lookup("verbose").Usage; !strings.Contains(u, "status") || !strings.Contains(u, "never tokens") {
		t.Fatalf("usage %q", u)
	}
}
