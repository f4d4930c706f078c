package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A config file that is a symbolic link keeps being one: the edit goes to
// the file it points to.
func TestEditThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "config.toml")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("# mine\n[settings.ssh]\nuser = \"alice\" # me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.toml")
	if err := os.Symlink(filepath.Join("dotfiles", "config.toml"), link); err != nil {
		t.Fatal(err)
	}
	c, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(Node{}, "ssh.connect_timeout", "45s"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a %v file", st.Mode())
	}
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `connect_timeout = "45s"`) || !strings.Contains(string(data), "# me") {
		t.Fatalf("the linked file is not edited in place:\n%s", data)
	}
	if st, _ := os.Stat(real); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

// A table that fails for a missing key names its unknown keys: the missing
// key is often one of them misspelt, and the warning that would have named
// it is lost with the error.
func TestMissingKeyErrorNamesUnknownKeys(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"profile protocol": {"[[profile]]\nname = \"x\"\nproject = \"p\"\nzone = \"z\"\ninstance = \"vm\"\nprotcol = \"rdp\"\n", `needs a protocol (ssh, rdp, tunnel) or an app (the table also has the unknown key(s) "protcol"`},
		"profile name":     {"[[profile]]\nnmae = \"x\"\n", `needs a name (the table also has the unknown key(s) "nmae"`},
		"app executable":   {"[app.foo]\nremote_port = 1\nexecutible = \"foo\"\n", `"executible": check their spelling`},
		"app remote port":  {"[app.foo]\nexecutable = \"foo\"\nremote-port = 1\n", `app "foo" needs a remote_port (the table also has the unknown key(s) "remote-port"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "config.toml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// Without unknown keys the message stays as it was.
	_, err := Parse([]byte("[[profile]]\nname = \"x\"\n"), "config.toml")
	if err == nil || strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("error %v", err)
	}
}

// An unknown setting says which keys exist nearby.
func TestUnknownSettingSuggests(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"user":          "did you mean ssh.user or rdp.user?",
		"rdp.usr":       "rdp settings are user, domain, port",
		"tunnel.ports":  "local_ports.REMOTE_PORT",
		"sshh.user":     "did you mean ssh.user or rdp.user?",
		"network.proxy": "categories ssh, rdp, tunnel and ui",
	} {
		if err := c.Set(Node{}, key, "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("set %s: %v, want %q", key, err, want)
		}
		if err := c.Reset(Node{}, key); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reset %s: %v, want %q", key, err, want)
		}
	}
	p, err := Parse([]byte("[settings.ssh]\nusr = \"a\"\n"), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "ssh settings are user, port") {
		t.Fatalf("warnings %q", p.Warnings)
	}
}

// A file broken by hand after it was loaded is reported as broken, not as
// an edit that would break it, and stays as it is.
func TestEditOfAFileBrokenSinceLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[settings.ssh]\nuser = \"alice\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte("[settings.ssh]\nuser = \"alice\"\nport = 70000\n")
	if err := os.WriteFile(path, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	err = c.Set(Node{}, "ssh.user", "bob")
	if err == nil || !strings.Contains(err.Error(), "does not load, so it is not edited") || !strings.Contains(err.Error(), ":3: ssh.port must be a port") {
		t.Fatalf("error %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != string(broken) {
		t.Fatalf("file changed:\n%s", data)
	}
}

// The first profile of a new file starts on its first line.
func TestAddProfileToANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iapterm", "config.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddProfile(Profile{Name: "vm-ssh", Project: "p", Zone: "z", Instance: "vm", Protocol: "ssh"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "[[profile]]\nname = \"vm-ssh\"\n") {
		t.Fatalf("file:\n%q", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	// A second one is set apart by a blank line.
	if err := c.AddProfile(Profile{Name: "vm-rdp", Project: "p", Zone: "z", Instance: "vm", Protocol: "rdp"}); err != nil {
		t.Fatal(err)
	}
	if data, _ = os.ReadFile(path); !strings.Contains(string(data), "protocol = \"ssh\"\n\n[[profile]]\nname = \"vm-rdp\"") {
		t.Fatalf("file:\n%s", data)
	}
}

// A config file that is a dangling link (the dotfiles checkout has no
// config.toml yet) stays a link: the first edit creates the file it points
// to. A link into a folder that does not exist is refused, link untouched.
func TestEditThroughDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "dotfiles"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.toml")
	if err := os.Symlink(filepath.Join("dotfiles", "config.toml"), link); err != nil {
		t.Fatal(err)
	}
	c, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(Node{}, "ssh.user", "alice"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "dotfiles", "config.toml"))
	if err != nil || !strings.Contains(string(data), `user = "alice"`) {
		t.Fatalf("target not written: %v\n%s", err, data)
	}

	gone := filepath.Join(dir, "gone.toml")
	if err := os.Symlink(filepath.Join(dir, "no-such-folder", "config.toml"), gone); err != nil {
		t.Fatal(err)
	}
	c, err = Load(gone)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Set(Node{}, "ssh.user", "alice")
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link to") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("error %v", err)
	}
	if st, err := os.Lstat(gone); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no-such-folder")); !os.IsNotExist(err) {
		t.Fatalf("the folder was created: %v", err)
	}
}

// A file with Windows line endings keeps them when keys are added (a new
// key, a new table, a profile), so editors and git do not see mixed line
// endings; a file with Unix endings is untouched by this.
func TestEditKeepsWindowsLineEndings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[settings.ssh]\r\nuser = \"alice\"\r\n\r\n[settings.rdp]\r\nuser = \"bob\"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		node       Node
		key, value string
	}{
		{Node{}, "ssh.port", "2222"},
		{Node{}, "rdp.domain", "CORP"},
		{Node{Project: "p"}, "tunnel.bind", "localhost"},
	} {
		if err := c.Set(set.node, set.key, set.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddProfile(Profile{Name: "x", Project: "p", Zone: "z", Instance: "vm", Protocol: "ssh"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !crlfOnly(data) || !strings.Contains(string(data), "port = 2222\r\n") || !strings.Contains(string(data), "[[profile]]\r\n") {
		t.Fatalf("line endings mixed:\n%q", data)
	}
	if _, err := Parse(data, path); err != nil {
		t.Fatal(err)
	}
	unix := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(unix, []byte("[settings.ssh]\nuser = \"alice\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ = Load(unix)
	if err := c.Set(Node{}, "ssh.port", "2222"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(unix); strings.Contains(string(data), "\r") {
		t.Fatalf("carriage returns in a Unix file:\n%q", data)
	}
}
