package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/world"
)

func TestSSHConfigBlock(t *testing.T) {
	tests := []struct {
		name  string
		block sshConfigBlock
		want  []string // lines the block must hold
	}{
		{"plain", sshConfigBlock{Hosts: []string{"vm", "vm.z.p"}, HostName: "vm", Port: 22, User: "alice",
			IdentityFile: "/home/a/.config/iapterm/id_ed25519", HostKeyAlias: "compute.1", KnownHosts: "/home/a/kh",
			Proxy: []string{"/usr/bin/iapterm", "tunnel", "vm", "%p", "--listen-on-stdin", "--project", "p", "--zone", "z"}},
			[]string{"Host vm vm.z.p", "  HostName vm", "  User alice", "  IdentityFile /home/a/.config/iapterm/id_ed25519",
				"  HostKeyAlias compute.1", "  UserKnownHostsFile /home/a/kh",
				"  ProxyCommand /usr/bin/iapterm tunnel vm %p --listen-on-stdin --project p --zone z"}},
		{"spaces, percent, hash and quotes", sshConfigBlock{Hosts: []string{"vm.z.p"}, HostName: "vm", Port: 2222,
			IdentityFile: `/Users/A B/100% "keys"/id`, HostKeyAlias: "compute.2", KnownHosts: "/x/#kh",
			Proxy: []string{"/opt/my apps/iapterm", "tunnel", "vm", "%p"}},
			[]string{"Host vm.z.p", "  Port 2222", `  IdentityFile "/Users/A B/100%% \"keys\"/id"`,
				`  UserKnownHostsFile "/x/#kh"`, `  ProxyCommand '/opt/my apps/iapterm' tunnel vm %p`}},
		{"note on one line", sshConfigBlock{Hosts: []string{"vm"}, HostName: "vm", Note: "key not published:\npermission denied",
			Proxy: []string{"iapterm", "tunnel", "vm", "%p"}},
			[]string{"  # key not published: permission denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.block.write(&b)
			lines := strings.Split(b.String(), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("no line %q in:\n%s", w, b.String())
				}
			}
			if tt.block.User == "" && strings.Contains(b.String(), "  User ") {
				t.Errorf("User line without a user:\n%s", b.String())
			}
			if tt.block.Port == 22 && strings.Contains(b.String(), "  Port ") {
				t.Errorf("Port line for port 22:\n%s", b.String())
			}
		})
	}
}

func TestSSHConfigCommand(t *testing.T) {
	w := &world.World{
		Users: []world.User{{Email: "alice@example.com", Token: "tok-alice"}},
		Projects: []world.Project{
			{ID: "proj", IAM: []world.Binding{{Role: "roles/owner", Members: []string{"user:alice@example.com"}}},
				Instances: []world.Instance{
					{Name: "web", Zone: "us-central1-a"},
					{Name: "db", Zone: "us-central1-b", Metadata: map[string]string{"ssh-port": "22"}},
					{Name: "win", Zone: "us-central1-a", OS: "windows"},
					{Name: "twin", Zone: "us-central1-a"},
					{Name: "twin", Zone: "us-central1-b"},
				}},
			{ID: "other", IAM: []world.Binding{{Role: "roles/owner", Members: []string{"user:alice@example.com"}}},
				Instances: []world.Instance{{Name: "elsewhere", Zone: "europe-west1-b"}}},
		},
	}
	s, err := emulator.Start(w, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// A configuration directory with a space, as on macOS.
	cfg := filepath.Join(t.TempDir(), "Application Support")
	t.Setenv("IAPTERM_ACCESS_TOKEN", "tok-alice")
	t.Setenv("IAPTERM_PROJECT", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")

	out, code := policyRunCLI(t, "--endpoint", s.Endpoint(), "ssh-config", "--project", "proj", "--no-publish", "--user", "alice")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Host web web.us-central1-a.proj\n", "Host db db.us-central1-b.proj\n",
		// Two VMs share a name: only the full names are hosts.
		"Host twin.us-central1-a.proj\n", "Host twin.us-central1-b.proj\n",
		"  User alice\n", `  IdentityFile "` + cfg, `  UserKnownHostsFile "` + cfg,
		"tunnel web %p --listen-on-stdin --project proj --zone us-central1-a\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"Host win", "tunnel win ", "elsewhere", "Host twin "} {
		if strings.Contains(out, not) {
			t.Errorf("output has %q:\n%s", not, out)
		}
	}
	if n := strings.Count(out, "\nHost "); n != 4 {
		t.Errorf("%d Host blocks, want 4:\n%s", n, out)
	}

	// Both projects when both are asked for; a file not written by
	// ssh-config is left alone.
	out, code = policyRunCLI(t, "--endpoint", s.Endpoint(), "ssh-config", "--project", "proj", "--project", "other", "--no-publish", "--user", "alice")
	if code != 0 || !strings.Contains(out, "Host elsewhere elsewhere.europe-west1-b.other\n") {
		t.Fatalf("two projects: exit %d:\n%s", code, out)
	}
	// ~/.ssh/config itself is refused even when it does not exist yet
	// (ssh-config would then ask to Include the file from itself).
	home := os.Getenv("HOME")
	for _, p := range []string{filepath.Join(home, ".ssh", "config"), filepath.Join(home, ".ssh", ".", "config")} {
		out, code = policyRunCLI(t, "--endpoint", s.Endpoint(), "ssh-config", "--project", "proj", "--no-publish", "--output", p)
		if _, err := os.Stat(p); code == 0 || err == nil || !strings.Contains(out, "OpenSSH's own configuration file") {
			t.Fatalf("--output %s: exit %d, stat %v:\n%s", p, code, err, out)
		}
	}
	mine := filepath.Join(t.TempDir(), "config")
	os.WriteFile(mine, []byte("Host *\n  User me\n"), 0o600)
	out, code = policyRunCLI(t, "--endpoint", s.Endpoint(), "ssh-config", "--project", "proj", "--no-publish", "--output", mine)
	if data, _ := os.ReadFile(mine); code == 0 || string(data) != "Host *\n  User me\n" || !strings.Contains(out, "was not written by iapterm ssh-config") {
		t.Fatalf("foreign file: exit %d %q, file now %q", code, out, data)
	}
}
