package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# iapterm settings
[settings.ssh]
user = "alice"     # my usual name
key_type = "ecdsa-p384"

[settings.rdp]
desktop_size = "1920x1080"

[project.web-prod.ssh]
user = "ops"
port = 2222

[zone."web-prod/us-central1-a".ssh]
connect_timeout = "45s"

[zone.europe-west1-b.rdp]
audio = "off"

[selector."env=prod,role!=db".ssh]
publish = "oslogin"

[instance."web-prod/us-central1-a/web-1".ssh]
user = "root"

[instance."web-prod/us-central1-a/web-1".tunnel.local_ports]
5432 = 15432

[future_section]
keep = "me"

[app.pgcli]
condition = "linux"
remote_port = 5432
executable = "pgcli"
args = ["-h", "{host}", "-p", "{port}", "-U", "{username}"]

[[profile]]
name = "prod-db"
project = "web-prod"
selector = "role=db"
app = "psql"
args = ["--command=SELECT 1", "postgres"]
[profile.tunnel.local_ports]
5432 = 25432
`

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse([]byte(s), "config.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestInheritance(t *testing.T) {
	c := mustParse(t, sample)
	web1 := Target{Project: "web-prod", Zone: "us-central1-a", Instance: "web-1", Labels: map[string]string{"env": "prod", "role": "web"}}
	cases := []struct {
		name    string
		target  Target
		key     string
		want    string
		explain string
	}{
		{"global", Target{}, "ssh.user", "alice", "set here"},
		{"default", Target{}, "ssh.port", "22", "default"},
		{"unset", Target{}, "rdp.user", "", "not set"},
		{"project overrides global", Target{Project: "web-prod"}, "ssh.user", "ops", "set here"},
		{"project inherits global", Target{Project: "web-prod"}, "ssh.key_type", "ecdsa-p384", "inherited from global settings"},
		{"zone inherits project", Target{Project: "web-prod", Zone: "us-central1-a"}, "ssh.port", "2222", "inherited from project web-prod"},
		{"zone own", Target{Project: "web-prod", Zone: "us-central1-a"}, "ssh.connect_timeout", "45s", "set here"},
		{"zone by name in any project", Target{Project: "other", Zone: "europe-west1-b", Instance: "x"}, "rdp.audio", "off", "inherited from zone europe-west1-b"},
		{"instance by full name", web1, "ssh.user", "root", "set here"},
		{"selector applies", web1, "ssh.publish", "oslogin", "inherited from instances labelled env=prod,role!=db"},
		{"selector excludes", Target{Project: "web-prod", Zone: "us-central1-a", Instance: "db-1", Labels: map[string]string{"env": "prod", "role": "db"}}, "ssh.publish", "auto", "default"},
		{"local port", web1, "tunnel.local_ports.5432", "15432", "set here"},
		{"other instance", Target{Project: "web-prod", Zone: "us-central1-a", Instance: "web-2"}, "ssh.user", "ops", "inherited from project web-prod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Resolve(tc.target).Get(tc.key)
			if v.Text != tc.want || v.Explain() != tc.explain {
				t.Errorf("%s = %q (%s), want %q (%s)", tc.key, v.Text, v.Explain(), tc.want, tc.explain)
			}
		})
	}
	if got := c.Resolve(web1).LocalPort(5432); got != 15432 {
		t.Errorf("LocalPort(5432) = %d", got)
	}
	if got := c.Resolve(web1).Duration("ssh.key_validity").Hours(); got != 720 {
		t.Errorf("key validity default = %vh", got)
	}
}

func TestWarningsKeepUnknown(t *testing.T) {
	c := mustParse(t, sample+"\n[settings.ssh2]\nx = 1\n")
	joined := strings.Join(c.Warnings, "\n")
	for _, want := range []string{"config.toml:28: unknown section \"future_section\"", "unknown setting ssh2.x"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", joined, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"syntax", "[settings.ssh]\nuser = \"x\nport = 1\n", "config.toml:2"},
		{"bad enum", "[settings.ssh]\n\nkey_type = \"dsa\"\n", "config.toml:3: ssh.key_type must be one of ed25519, ecdsa-p256, ecdsa-p384, rsa-3072, not \"dsa\""},
		{"bad port", "[project.p.ssh]\nport = 70000\n", "config.toml:2: ssh.port must be a port between 1 and 65535"},
		{"port 0 on the VM", "[settings.rdp]\nport = 0\n", "config.toml:2: rdp.port must be a port between 1 and 65535, not 0"},
		{"app remote port 0", "[app.x]\nexecutable = \"x\"\nremote_port = 0\n", "remote_port must be a port number between 1 and 65535"},
		{"bad local port", "[settings.tunnel.local_ports]\n5432 = -1\n", "between 1 and 65535 (or 0 for any free port)"},
		{"bad desktop size", "[settings.rdp]\ndesktop_size = \"huge\"\n", "config.toml:2: rdp.desktop_size: \"huge\" is not auto (or client: follow the window), screen or WIDTHxHEIGHT"},
		{"bad duration", "[settings.ssh]\nkey_validity = \"forever\"\n", "config.toml:2: ssh.key_validity must be a positive duration"},
		{"bad bool", "[settings.rdp]\nclipboard = \"maybe\"\n", "config.toml:2: rdp.clipboard must be true or false"},
		{"bad selector", "[selector.\"Env=prod\".ssh]\nuser = \"x\"\n", "config.toml:1: label selector \"Env=prod\""},
		{"profile without target", "[[profile]]\nname = \"a\"\nproject = \"p\"\nprotocol = \"ssh\"\n", "config.toml:1: profile \"a\": needs an instance"},
		{"profile bad app", "\n[[profile]]\nname = \"a\"\nproject = \"p\"\nselector = \"env=x\"\napp = \"nope\"\n", "config.toml:2: profile \"a\": unknown app \"nope\""},
		{"profile bad protocol", "[[profile]]\nname = \"a\"\nproject = \"p\"\nzone = \"z\"\ninstance = \"i\"\nprotocol = \"vnc\"\n", "protocol must be ssh, rdp or tunnel"},
		{"app without executable", "[app.x]\nremote_port = 1\n", "config.toml:1: app \"x\" needs an executable"},
		{"settings not a table", "settings = 3\n", "config.toml:1: settings must be a table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "config.toml")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v, want *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// A local port of 0 means any free port, so it is allowed where a port on
// the VM is not.
func TestLocalPortZeroIsAnyFreePort(t *testing.T) {
	c := mustParse(t, "[settings.tunnel.local_ports]\n5432 = 0\n\n[app.x]\nexecutable = \"x\"\nremote_port = 5432\nlocal_port = 0\n")
	if got := c.Resolve(Target{Project: "p", Zone: "z", Instance: "i"}).LocalPort(5432); got != 0 {
		t.Errorf("local port for 5432 = %d, want 0", got)
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iapterm", "config.toml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Edits change only the keys they touch: comments, unknown sections and
// every other byte survive.
func TestEditRoundTrip(t *testing.T) {
	path := writeConfig(t, sample)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	web1 := Node{Project: "web-prod", Zone: "us-central1-a", Instance: "web-1"}
	steps := []struct {
		node       Node
		key, value string
		reset      bool
	}{
		{Node{}, "ssh.user", "bob", false},                             // replace in place, keeping the comment
		{Node{Project: "web-prod"}, "ssh.key_type", "rsa-3072", false}, // insert into an existing table
		{Node{Project: "new-proj"}, "rdp.port", "3390", false},         // a new table
		{web1, "tunnel.local_ports.8080", "18080", false},              // map entry beside another
		{Node{Project: "web-prod"}, "ssh.port", "", true},              // reset to inherited
	}
	for _, s := range steps {
		var err error
		if s.reset {
			err = c.Reset(s.node, s.key)
		} else {
			err = c.Set(s.node, s.key, s.value)
		}
		if err != nil {
			t.Fatalf("edit %s: %v", s.key, err)
		}
	}
	data, _ := os.ReadFile(path)
	got := string(data)
	for _, want := range []string{
		"# iapterm settings\n",
		`user = "bob"     # my usual name` + "\n",
		"[future_section]\nkeep = \"me\"\n",
		"[project.web-prod.ssh]\nuser = \"ops\"\nkey_type = \"rsa-3072\"\n\n",
		"[project.new-proj.rdp]\nport = 3390\n",
		"5432 = 15432\n8080 = 18080\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("edited file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "port = 2222") {
		t.Errorf("reset did not remove port = 2222:\n%s", got)
	}
	// Everything else is byte-identical: undo the edits by hand and compare.
	restored := strings.Replace(got, `user = "bob"     # my usual name`, `user = "alice"     # my usual name`, 1)
	restored = strings.Replace(restored, "key_type = \"rsa-3072\"\n", "port = 2222\n", 1)
	restored = strings.Replace(restored, "\n[project.new-proj.rdp]\nport = 3390\n", "", 1)
	restored = strings.Replace(restored, "8080 = 18080\n", "", 1)
	if restored != sample {
		t.Errorf("bytes outside the edited keys changed:\n%s", restored)
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tgt := Target{Project: "web-prod", Zone: "us-central1-a", Instance: "web-1"}
	if v := c2.Resolve(tgt).Get("ssh.port"); v.Text != "22" {
		t.Errorf("after reset ssh.port = %q from %s", v.Text, v.Explain())
	}
	if c2.Resolve(tgt).LocalPort(8080) != 18080 {
		t.Errorf("local port 8080 not saved")
	}
	bak, err := os.ReadFile(path + ".bak")
	if err != nil || len(bak) == 0 {
		t.Fatalf("no backup: %v", err)
	}
	for _, f := range []string{path, path + ".bak"} {
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestEditDottedAndRefusals(t *testing.T) {
	path := writeConfig(t, "[project.p]\nssh.user = \"a\"\n\n[project.q]\nssh = { user = \"b\" }\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(Node{Project: "p"}, "ssh.port", "2200"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "ssh.user = \"a\"\nssh.port = 2200\n") {
		t.Errorf("dotted sibling not used:\n%s", data)
	}
	err = c.Set(Node{Project: "q"}, "ssh.port", "2200")
	if err == nil || !strings.Contains(err.Error(), "inline value on line 6") {
		t.Errorf("editing an inline table: %v", err)
	}
	if err := c.Set(Node{}, "ssh.port", "x"); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Errorf("invalid value accepted: %v", err)
	}
	if err := c.Set(Node{}, "ssh.nope", "x"); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestBrokenFileNeverRewritten(t *testing.T) {
	path := writeConfig(t, sample)
	if _, err := LoadOrLastGood(path); err != nil {
		t.Fatal(err)
	}
	broken := sample + "\n[settings.ssh\n"
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadOrLastGood(path)
	if err == nil || !strings.Contains(err.Error(), "config.toml:") || !strings.Contains(err.Error(), "last settings that loaded") {
		t.Fatalf("LoadOrLastGood error = %v", err)
	}
	if got := c.Resolve(Target{}).String("ssh.user"); got != "alice" {
		t.Errorf("fallback ssh.user = %q, want the last good alice", got)
	}
	if err := c.Set(Node{}, "ssh.user", "x"); err == nil {
		t.Error("edit of a broken file was allowed")
	}
	data, _ := os.ReadFile(path)
	if string(data) != broken {
		t.Error("broken file was rewritten")
	}
}

func TestProfilesAndApps(t *testing.T) {
	path := writeConfig(t, sample)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Profile("prod-db")
	if err != nil {
		t.Fatal(err)
	}
	if !p.MatchInstance("web-prod", "z", "db-7", map[string]string{"role": "db"}) || p.MatchInstance("web-prod", "z", "web-1", map[string]string{"role": "web"}) {
		t.Error("selector match wrong")
	}
	eff := c.Resolve(Target{Project: "web-prod", Zone: "z", Instance: "db-7"}, p.Settings)
	if eff.LocalPort(5432) != 25432 || eff.Get("tunnel.local_ports.5432").Explain() != "inherited from profile prod-db" {
		t.Errorf("profile layer: %v %s", eff.LocalPort(5432), eff.Get("tunnel.local_ports.5432").Explain())
	}
	app, err := c.App(p.App)
	if err != nil {
		t.Fatal(err)
	}
	exe, args := app.Command(AppContext{Host: "127.0.0.1", Port: 25432, Username: "alice"}, p.Args)
	if exe != "psql" || strings.Join(args, " ") != "--host=127.0.0.1 --port=25432 --username=alice --command=SELECT 1 postgres" {
		t.Errorf("command = %s %q", exe, args)
	}
	if a, _ := c.App("pgcli"); a.Builtin || a.RemotePort != 5432 {
		t.Errorf("user app = %+v", a)
	}
	if _, err := c.Profile("nope"); err == nil || !strings.Contains(err.Error(), "prod-db") {
		t.Errorf("missing profile error: %v", err)
	}
	err = c.AddProfile(Profile{Name: "web-ssh", Project: "web-prod", Zone: "us-central1-a", Instance: "web-1", Protocol: "ssh"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Profile("web-ssh"); err != nil {
		t.Errorf("added profile not loaded: %v", err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), sample) {
		t.Error("AddProfile changed existing bytes")
	}
	for _, name := range []string{"psql", "mysql", "browser-80", "browser-8080", "browser-443", "vscode"} {
		if _, err := c.App(name); err != nil {
			t.Errorf("built-in app %s missing", name)
		}
	}
}

func TestSelector(t *testing.T) {
	cases := []struct {
		sel    string
		labels map[string]string
		want   bool
	}{
		{"env=prod", map[string]string{"env": "prod"}, true},
		{"env=prod", map[string]string{"env": "dev"}, false},
		{"env=prod,role!=db", map[string]string{"env": "prod", "role": "web"}, true},
		{"env=prod,role!=db", map[string]string{"env": "prod", "role": "db"}, false},
		{"team", map[string]string{"team": ""}, true},
		{"!team", map[string]string{"env": "x"}, true},
		{"!team", map[string]string{"team": "a"}, false},
	}
	for _, tc := range cases {
		s, err := ParseSelector(tc.sel)
		if err != nil {
			t.Fatalf("%s: %v", tc.sel, err)
		}
		if got := s.Matches(tc.labels); got != tc.want {
			t.Errorf("%s on %v = %v", tc.sel, tc.labels, got)
		}
	}
	for _, bad := range []string{"", "Env=x", "env=Prod", "a=b,,c"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("[settings.ssh]\nuser = 1\n"))
	f.Add([]byte("[[profile]]\nname=\"x\"\n[profile.ssh]\nport=2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = c.Resolve(Target{Project: "p", Zone: "z", Instance: "i"})
	})
}
