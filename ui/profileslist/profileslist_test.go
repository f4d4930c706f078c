package profileslist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/panel/paneltest"
)

const sample = `# My profiles.
[[profile]]
name = "db"
project = "acme-dev"
zone = "us-east1-b"
instance = "postgres-1"
app = "psql"

[[profile]]
name = "web-prod"
project = "acme-prod"
selector = "role=web"
protocol = "ssh"
`

var (
	devAlice = projects.Instance{Project: "acme-dev", Zone: "us-east1-b", Name: "dev-alice", Status: "RUNNING", OS: projects.Linux}
	devWin   = projects.Instance{Project: "acme-dev", Zone: "us-east1-b", Name: "dev-win", Status: "RUNNING", OS: projects.Windows}
)

type connectMsg struct{ name string }

func setup(t *testing.T, inst *projects.Instance, create bool) (*Model, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() (*profiles.Config, error) { return profiles.LoadOrLastGood(path) }
	connect := func(name string) tea.Cmd { return func() tea.Msg { return connectMsg{name} } }
	m := New(paneltest.Common(100, 30, time.Now(), common.Backend{}), load, connect, inst, create)
	m.Init()
	return m, path
}

func press(m *Model, keys ...string) (seen []tea.Msg) {
	for _, k := range keys {
		s, _ := paneltest.Drive(m, paneltest.Key(k))
		seen = append(seen, s...)
	}
	return seen
}

func TestListAndConnect(t *testing.T) {
	m, _ := setup(t, nil, false)
	view := ansi.Strip(m.View())
	for _, want := range []string{"db", "acme-dev/us-east1-b/postgres-1", "app psql", "web-prod", "acme-prod labels role=web", "ssh"} {
		if !strings.Contains(view, want) {
			t.Fatalf("list lacks %q:\n%s", want, view)
		}
	}
	seen := press(m, "j", "enter")
	var closed *panel.ClosedMsg
	for _, msg := range seen {
		if c, ok := msg.(panel.ClosedMsg); ok {
			closed = &c
		}
	}
	if closed == nil || closed.Cmd == nil {
		t.Fatal("enter did not close the panel with the connect command")
	}
	if got := closed.Cmd(); got != (connectMsg{"web-prod"}) {
		t.Fatalf("connect ran %#v", got)
	}
	// n without an instance explains what to do.
	m, _ = setup(t, nil, false)
	press(m, "n")
	if m.Creating() || !strings.Contains(m.Err(), "Select an instance") {
		t.Fatalf("n without an instance: creating=%v err=%q", m.Creating(), m.Err())
	}
}

func TestCreateFromInstanceWritesFile(t *testing.T) {
	m, path := setup(t, &devAlice, true)
	if !m.Creating() {
		t.Fatal("form not open")
	}
	// The default for a Linux VM is SSH, named after it.
	if v := ansi.Strip(m.View()); !strings.Contains(v, "dev-alice-ssh") || !strings.Contains(v, "‹ ssh ›") {
		t.Fatalf("form:\n%s", v)
	}
	press(m, "enter")
	if m.Creating() {
		t.Fatalf("not saved: %s", m.Err())
	}
	data, _ := os.ReadFile(path)
	text := string(data)
	for _, want := range []string{"# My profiles.", `name = "db"`, `name = "dev-alice-ssh"`, `instance = "dev-alice"`, `protocol = "ssh"`, `zone = "us-east1-b"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("file lacks %q:\n%s", want, text)
		}
	}
	if !slices.ContainsFunc(m.Profiles(), func(p profiles.Profile) bool { return p.Name == "dev-alice-ssh" }) {
		t.Fatal("the list does not show the new profile")
	}
	// The same name again is refused without touching the file.
	press(m, "n", "enter")
	if !strings.Contains(m.Err(), "exists already") {
		t.Fatalf("duplicate: %q", m.Err())
	}
	after, _ := os.ReadFile(path)
	if string(after) != text {
		t.Fatal("file changed on a refused save")
	}
}

func TestCreateTunnelAndApp(t *testing.T) {
	m, path := setup(t, &devAlice, true)
	// tab to the choice, right to "tunnel", tab to the port.
	press(m, "tab", "right", "tab", "backspace", "backspace", "5", "4", "3", "2", "enter")
	if m.Creating() {
		t.Fatalf("not saved: %s", m.Err())
	}
	press(m, "n", "tab", "right", "right") // the first app for Linux
	if m.form.kind() == "ssh" || m.form.kind() == "tunnel" {
		t.Fatalf("choice %q", m.form.kind())
	}
	app := m.form.kind()
	press(m, "enter")
	data, _ := os.ReadFile(path)
	for _, want := range []string{`name = "dev-alice-tunnel-5432"`, "remote_port = 5432", `protocol = "tunnel"`, `app = "` + app + `"`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("file lacks %q:\n%s", want, data)
		}
	}
	// The file still loads with the new profiles.
	cfg, err := profiles.Load(path)
	if err != nil || len(cfg.Profiles) != 4 {
		t.Fatalf("reload: %v, %d profiles", err, len(cfg.Profiles))
	}
}

func TestAppsFilteredByOS(t *testing.T) {
	m, _ := setup(t, &devWin, true)
	if m.form.choices[0] != "rdp" {
		t.Fatalf("first choice for Windows: %q", m.form.choices[0])
	}
	for _, c := range m.form.choices {
		if c == "psql" || c == "mysql" || c == "ssh" || c == "vscode" {
			t.Fatalf("%s offered for a Windows VM: %v", c, m.form.choices)
		}
	}
	m, _ = setup(t, &devAlice, true)
	if !slices.Contains(m.form.choices, "psql") || slices.Contains(m.form.choices, "rdp") {
		t.Fatalf("Linux choices: %v", m.form.choices)
	}
}

// With a tunnel open to 5432, a new profile defaults to that tunnel.
func TestSuggestedTunnel(t *testing.T) {
	m, path := setup(t, &devAlice, false)
	m.SuggestTunnel(5432)
	press(m, "n")
	if m.form.kind() != "tunnel" || !strings.Contains(ansi.Strip(m.View()), "dev-alice-tunnel-5432") {
		t.Fatalf("form:\n%s", ansi.Strip(m.View()))
	}
	press(m, "enter")
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "remote_port = 5432") {
		t.Fatalf("file:\n%s", data)
	}
}

// On a 60-column screen nothing the user needs is cut: the form's
// choices and the chosen client's description wrap, and so does the
// message naming the file the profile was saved in and the command that
// connects it.
func TestNarrowScreenWraps(t *testing.T) {
	m, path := setup(t, &devAlice, true)
	m.c.Width, m.c.Height = 60, 20
	check := func(want ...string) {
		t.Helper()
		view := ansi.Strip(m.View())
		for _, l := range strings.Split(view, "\n") {
			if w := ansi.StringWidth(l); w > 60 {
				t.Errorf("line %d wide: %q", w, l)
			}
		}
		flat := strings.Join(strings.Fields(view), " ")
		for _, w := range want {
			if !strings.Contains(flat, w) {
				t.Errorf("%q is not shown whole:\n%s", w, view)
			}
		}
	}
	check("choices: " + strings.Join(m.form.choices, ", "))
	press(m, "tab")
	for i := 0; i < len(m.form.choices); i++ {
		if k := m.form.kind(); k != "ssh" && k != "tunnel" && k != "rdp" {
			check(m.form.apps[k].Description)
		}
		press(m, "right")
	}
	for m.form.kind() != "ssh" {
		press(m, "right")
	}
	press(m, "enter")
	if m.Creating() {
		t.Fatalf("not saved: %s", m.Err())
	}
	check("Saved profile dev-alice-ssh in " + path + "; enter connects, or run iapterm connect dev-alice-ssh")
}
