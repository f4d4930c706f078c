package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"iapterm/profiles"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/panel/paneltest"
)

const sample = `# Team settings: kept in git.
[settings.ssh]
user = "alice" # the shared login

[project.acme-dev.ssh]
port = 2222

[instance."acme-dev/us-east1-b/dev-alice".rdp]
admin = true

[custom]
keep = "me"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loader(path string) Loader {
	return func() (*profiles.Config, error) { return profiles.LoadOrLastGood(path) }
}

var devAlice = profiles.Node{Project: "acme-dev", Zone: "us-east1-b", Instance: "dev-alice"}

func newView(t *testing.T, path string, n profiles.Node) *Model {
	t.Helper()
	c := paneltest.Common(100, 30, time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), common.Backend{})
	return New(c, loader(path), n, nil)
}

func press(m *Model, keys ...string) (closed bool) {
	for _, k := range keys {
		seen, _ := paneltest.Drive(m, paneltest.Key(k))
		for _, msg := range seen {
			if _, ok := msg.(panel.ClosedMsg); ok {
				closed = true
			}
		}
	}
	return closed
}

func typeText(m *Model, s string) {
	for _, r := range s {
		press(m, string(r))
	}
}

func rowOf(view, key string) string {
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, key+" ") {
			return l
		}
	}
	return ""
}

func TestSourcesAndOwnMarking(t *testing.T) {
	m := newView(t, writeConfig(t, sample), devAlice)
	tests := []struct {
		key, text, explain string
		own                bool
	}{
		{"ssh.user", "alice", "inherited from global settings", false},
		{"ssh.port", "2222", "inherited from project acme-dev", false},
		{"rdp.admin", "true", "set here", true},
		{"ssh.key_type", "ed25519", "default", false},
		{"rdp.user", "", "not set", false},
	}
	view := m.View()
	for _, tc := range tests {
		v := m.Value(tc.key)
		if v.Text != tc.text || v.Explain() != tc.explain || v.Own != tc.own {
			t.Errorf("%s = %q (%s, own %v), want %q (%s, own %v)", tc.key, v.Text, v.Explain(), v.Own, tc.text, tc.explain, tc.own)
		}
		row := rowOf(view, tc.key)
		if !strings.Contains(row, tc.explain) {
			t.Errorf("row of %s lacks %q: %q", tc.key, tc.explain, row)
		}
		if bold := strings.Contains(row, "\x1b[1m"); bold != tc.own {
			t.Errorf("row of %s bold=%v, want %v: %q", tc.key, bold, tc.own, row)
		}
	}
}

func TestEditValidAndReset(t *testing.T) {
	path := writeConfig(t, sample)
	m := newView(t, path, devAlice)
	if !m.Select("ssh.user") {
		t.Fatal("no ssh.user row")
	}
	press(m, "e")
	if !m.Editing() {
		t.Fatal("e did not open the editor")
	}
	press(m, "ctrl+u")
	typeText(m, "bob")
	press(m, "enter")
	if m.Editing() || m.Err() != "" {
		t.Fatalf("still editing (%v) or error %q", m.Editing(), m.Err())
	}
	v := m.Value("ssh.user")
	if v.Text != "bob" || !v.Own || v.Explain() != "set here" {
		t.Fatalf("after edit: %+v %s", v.Text, v.Explain())
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# Team settings: kept in git.", `user = "alice" # the shared login`, `keep = "me"`, `user = "bob"`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("file lacks %q after the edit:\n%s", want, data)
		}
	}
	if _, err := os.Stat(path + ".bak"); err != nil {
		t.Fatalf("no backup: %v", err)
	}

	// Reset goes back to the inherited value and removes the line.
	press(m, "x")
	v = m.Value("ssh.user")
	if v.Text != "alice" || v.Own {
		t.Fatalf("after reset: %q own=%v", v.Text, v.Own)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), `"bob"`) || !strings.Contains(string(data), "# Team settings") {
		t.Fatalf("reset left:\n%s", data)
	}
	// Reset of an inherited value changes nothing and says why.
	press(m, "x")
	if !strings.Contains(m.View(), "nothing to reset") {
		t.Fatalf("no explanation:\n%s", m.View())
	}
}

func TestEditInvalidKeepsFile(t *testing.T) {
	path := writeConfig(t, sample)
	before, _ := os.ReadFile(path)
	m := newView(t, path, devAlice)
	m.Select("ssh.port")
	press(m, "enter") // a port is typed, not cycled
	press(m, "ctrl+u")
	typeText(m, "70000")
	press(m, "enter")
	if !m.Editing() || !strings.Contains(m.Err(), "between 1 and 65535") {
		t.Fatalf("editing=%v err=%q", m.Editing(), m.Err())
	}
	if !strings.Contains(m.View(), "between 1 and 65535") {
		t.Fatal("the error is not shown")
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Fatalf("file changed:\n%s", after)
	}
	press(m, "esc")
	if m.Editing() || m.Value("ssh.port").Text != "2222" {
		t.Fatal("esc did not cancel")
	}
}

func TestEnumAndBoolCycle(t *testing.T) {
	path := writeConfig(t, sample)
	m := newView(t, path, profiles.Node{Project: "acme-dev"})
	m.Select("ssh.key_type")
	press(m, "enter")
	if v := m.Value("ssh.key_type"); v.Text != "ecdsa-p256" || !v.Own {
		t.Fatalf("cycle gave %q own=%v", v.Text, v.Own)
	}
	m.Select("rdp.clipboard")
	press(m, "space")
	if v := m.Value("rdp.clipboard"); v.Text != "false" {
		t.Fatalf("toggle gave %q", v.Text)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `key_type = "ecdsa-p256"`) || !strings.Contains(string(data), "clipboard = false") {
		t.Fatalf("file:\n%s", data)
	}
}

func TestParentLevels(t *testing.T) {
	m := newView(t, writeConfig(t, sample), devAlice)
	want := []profiles.Node{{Project: "acme-dev", Zone: "us-east1-b"}, {Project: "acme-dev"}, {}, {}}
	for i, w := range want {
		press(m, "u")
		if m.Node() != w {
			t.Fatalf("step %d: node %+v, want %+v", i, m.Node(), w)
		}
	}
	if v := m.Value("ssh.user"); !v.Own || v.Explain() != "set here" {
		t.Fatalf("global ssh.user: %s", v.Explain())
	}
	if !strings.Contains(m.View(), "Settings · global settings") {
		t.Fatal("title")
	}
	if !press(m, "esc") {
		t.Fatal("esc did not close")
	}
}

func TestBrokenFileIsReportedAndNotEdited(t *testing.T) {
	path := writeConfig(t, sample)
	m := newView(t, path, devAlice)
	broken := sample + "\n[settings.ssh\nport = 1\n"
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	press(m, "r")
	view := m.View()
	if !strings.Contains(view, "config.toml:") || !strings.Contains(view, "press r") {
		t.Fatalf("no file error:\n%s", view)
	}
	// The last good settings are still shown.
	if m.Value("ssh.user").Text != "alice" {
		t.Fatal("last good settings lost")
	}
	m.Select("rdp.audio")
	press(m, "enter")
	if !strings.Contains(m.Err(), "does not load") {
		t.Fatalf("edit of a broken file: %q", m.Err())
	}
	after, _ := os.ReadFile(path)
	if string(after) != broken {
		t.Fatal("broken file was rewritten")
	}
}

func TestGoldenSettingsView(t *testing.T) {
	// A relative path keeps the screen the same whatever the temporary
	// directory is called.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("config.toml", []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newView(t, "config.toml", devAlice)
	screen := paneltest.Program(t, m, 100, 30, func(tm *teatest.TestModel, wait func(string)) {
		wait("Settings · instance dev-alice")
		tm.Send(paneltest.Key("e")) // ssh.user, the first row
		tm.Send(paneltest.Key("ctrl+u"))
		tm.Type("bob")
		tm.Send(paneltest.Key("enter"))
		wait("saved for instance")
		tm.Send(paneltest.Key("j"))
		tm.Send(paneltest.Key("j"))
		wait("key_type:")
	})
	if err := os.Chdir(wd); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, []byte(screen+"\n"))
}

func TestAddFixedLocalPort(t *testing.T) {
	path := writeConfig(t, sample)
	m := newView(t, path, devAlice)
	press(m, "a")
	typeText(m, "5432=99999")
	press(m, "enter")
	if !m.Editing() || !strings.Contains(m.Err(), "5432=15432") {
		t.Fatalf("bad port accepted: editing=%v err=%q", m.Editing(), m.Err())
	}
	press(m, "ctrl+u")
	typeText(m, "5432=15432")
	press(m, "enter")
	if m.Editing() {
		t.Fatalf("not saved: %s", m.Err())
	}
	v := m.Value("tunnel.local_ports.5432")
	if v.Text != "15432" || !v.Own || m.Cursor() != "tunnel.local_ports.5432" {
		t.Fatalf("value %+v, cursor %s", v.Text, m.Cursor())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "5432 = 15432") || !strings.Contains(string(data), "# Team settings") {
		t.Fatalf("file:\n%s", data)
	}
}

// At 80 columns a setting's description longer than the line wraps onto
// the free line below it instead of being cut.
func TestDescriptionWrapsAt80Columns(t *testing.T) {
	path := writeConfig(t, sample)
	c := paneltest.Common(80, 24, time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), common.Backend{})
	m := New(c, loader(path), devAlice, nil)
	m.Init()
	for _, k := range []string{"ssh.user", "tunnel.deterministic_ports"} {
		for i := 0; i < 40 && m.Cursor() != k; i++ {
			press(m, "j")
		}
		if m.Cursor() != k {
			t.Fatalf("cannot reach %s", k)
		}
		st, ok := profiles.Lookup(k)
		if !ok {
			t.Fatalf("no setting %s", k)
		}
		help := st.Help
		view := ansi.Strip(m.View())
		for _, l := range strings.Split(view, "\n") {
			if w := ansi.StringWidth(l); w > 80 {
				t.Errorf("line %d wide: %q", w, l)
			}
		}
		flat := strings.Join(strings.Fields(view), " ")
		if !strings.Contains(flat, k+": "+help) {
			t.Errorf("the description of %s is not shown whole:\n%s", k, view)
		}
	}
}

// When the file's path and the legend do not fit one line, the legend
// gets its own line, so its parent-level key is not cut; the list still
// fits the screen.
func TestLongPathKeepsLegend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a-rather-long-home-directory-name", ".config", "iapterm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	c := paneltest.Common(80, 24, time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), common.Backend{})
	m := New(c, loader(path), devAlice, nil)
	m.Init()
	view := ansi.Strip(m.View())
	lines := strings.Split(view, "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines, want 24", len(lines))
	}
	if !strings.Contains(view, "←/u: parent level") {
		t.Errorf("the legend is cut:\n%s", view)
	}
	if !strings.Contains(view, "ssh.user: ") {
		t.Errorf("the footer is gone:\n%s", view)
	}
}

// The notice after a save (what was saved, for which level, in which
// file) wraps onto the footer's second line instead of being cut.
func TestSaveNoticeWraps(t *testing.T) {
	path := writeConfig(t, sample)
	c := paneltest.Common(80, 24, time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC), common.Backend{})
	m := New(c, loader(path), devAlice, nil)
	m.Init()
	if !m.Select("ssh.user") {
		t.Fatal("no ssh.user row")
	}
	press(m, "e", "ctrl+u")
	typeText(m, "bob")
	press(m, "enter")
	view := ansi.Strip(m.View())
	lines := strings.Split(view, "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines, want 24", len(lines))
	}
	want := "ssh.user = bob saved for instance dev-alice (acme-dev/us-east1-b) in " + path
	if !strings.Contains(strings.Join(strings.Fields(view), " "), want) {
		t.Errorf("the notice is not shown whole:\n%s", view)
	}
}
