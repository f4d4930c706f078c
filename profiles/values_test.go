package profiles

import (
	"path/filepath"
	"strings"
	"testing"
)

// String settings that no connection could use are refused when written
// (config set, the settings view) and when the file is read, with what is
// allowed; good values are kept (some in their canonical form).
func TestStringSettingsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       string // canonical text, or the error's words
		bad        bool
	}{
		{"ssh.user", "alice", "alice", false},
		{"ssh.user", "deploy_bot.2", "deploy_bot.2", false},
		{"ssh.user", "bad user!", "is not a login name: use at most 32 letters, digits", true},
		{"ssh.user", "-rf", "is not a login name", true},
		{"ssh.user", "alice@example.com", "is not a login name", true},
		{"ssh.user", "..", "is not a login name", true},
		{"ssh.user", strings.Repeat("a", 33), "at most 32", true},
		{"rdp.user", "Administrator", "Administrator", false},
		{"rdp.user", "bob smith", "bob smith", false},
		{"rdp.user", `corp\bob`, `has '\\', which Windows does not allow`, true},
		{"rdp.user", "averyveryverylongname1", "at most 20", true},
		{"rdp.user", "...", "only dots and spaces", true},
		{"rdp.domain", "corp.example.com", "corp.example.com", false},
		{"rdp.domain", "CORP DOMAIN", "has a space", true},
		{"rdp.domain", "corp/x", "cannot hold", true},
		{"rdp.client", "/usr/bin/xfreerdp", "/usr/bin/xfreerdp", false},
		{"rdp.client", "xfreerdp\n--evil", "control character", true},
		{"tunnel.bind", "localhost", "localhost", false},
		{"tunnel.bind", "0.0.0.0", "0.0.0.0", false},
		{"tunnel.bind", "[::1]", "::1", false},
		{"tunnel.bind", "127.0.0.1:8080", "has a port", true},
		{"tunnel.bind", "localhost:80", "has a port", true},
		{"tunnel.bind", "not an address", "is not an address to listen on", true},
	} {
		s, _ := Lookup(tc.key)
		got, err := s.Normalize(tc.value)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s = %q: %v, want an error with %q", tc.key, tc.value, err, tc.want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %q: %q, %v; want %q", tc.key, tc.value, got, err, tc.want)
		}
	}
}

// config set refuses the value and leaves the file alone; a file that
// holds one is reported with its line.
func TestBadUserRefusedBySetAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Set(Node{Project: "p"}, "ssh.user", "bad user!")
	if err == nil || !strings.Contains(err.Error(), `ssh.user "bad user!" is not a login name`) {
		t.Fatalf("Set: %v", err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	_, err = Parse([]byte("[settings.rdp]\nclipboard = true\n\n[project.p.ssh]\nuser = \"bad user!\"\n"), "config.toml")
	if err == nil || !strings.Contains(err.Error(), "config.toml:5:") || !strings.Contains(err.Error(), "is not a login name") {
		t.Fatalf("Parse: %v", err)
	}
}

// A fixed local port for a remote port that is not one names the problem
// instead of listing the tunnel settings.
func TestLocalPortForABadRemotePort(t *testing.T) {
	c := Empty(filepath.Join(t.TempDir(), "config.toml"))
	for _, key := range []string{"tunnel.local_ports.99999", "tunnel.local_ports.abc", "tunnel.local_ports.0"} {
		err := c.Set(Node{}, key, "15432")
		if err == nil || !strings.Contains(err.Error(), "is not a remote port: write tunnel.local_ports.REMOTE_PORT with a TCP port 1-65535") {
			t.Errorf("%s: %v", key, err)
		}
	}
}
