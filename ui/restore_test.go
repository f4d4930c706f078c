package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"iapterm/doctor"
	"iapterm/projects"
	"iapterm/ui/backend"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/sessions"
)

// panelHarness is the explorer over the fake backend with a settings file.
func panelHarness(t *testing.T, config string, statePath string) (*harness, *fakeBackend, string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFake(loadFixture(t))
	be := fake.backend()
	be.Config = backend.ConfigFile{Path: cfgPath}
	if statePath == "" {
		statePath = filepath.Join(dir, "ui-state.json")
	}
	h := newHarness(t, Options{Backend: be, StatePath: statePath, Projects: demoProjects})
	return h, fake, cfgPath
}

func TestSettingsOnProjectAndInstance(t *testing.T) {
	h, _, cfgPath := panelHarness(t, "# mine\n[project.acme-prod.ssh]\nuser = \"ops\"\n", "")
	h.selectRow("p:acme-prod")
	h.key("s")
	scr := h.screen()
	if h.m.overlay != overlayPanel || !strings.Contains(scr, "Settings · project acme-prod") || !strings.Contains(scr, "set here") {
		t.Fatalf("settings of a project:\n%s", scr)
	}
	// The help line is the panel's.
	if !strings.Contains(scr, "reset to inherited") {
		t.Fatalf("help line:\n%s", scr)
	}
	h.key("esc")
	if h.m.overlay != overlayNone {
		t.Fatal("esc did not close the panel")
	}
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("s")
	if scr := h.screen(); !strings.Contains(scr, "Settings · instance web-1") || !strings.Contains(scr, "inherited from project acme-prod") {
		t.Fatalf("settings of an instance:\n%s", scr)
	}
	// An edit from the root's panel reaches the file.
	h.key("e", "backspace", "backspace", "backspace")
	h.typeText("me")
	h.key("enter")
	data, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(data), "# mine") || !strings.Contains(string(data), `[instance."acme-prod/us-central1-a/web-1".ssh]`) || !strings.Contains(string(data), `user = "me"`) {
		t.Fatalf("file:\n%s", data)
	}
}

// fakeDoctor fails the firewall check.
type fakeDoctor struct{ ports []int }

func (f *fakeDoctor) Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report {
	f.ports = append(f.ports, t.Port)
	return &doctor.Report{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port, Checks: []doctor.Check{
		{ID: doctor.CheckFirewall, Title: "Firewall", Mark: doctor.Failed, Summary: "no rule allows it",
			Fix: fmt.Sprintf("gcloud compute firewall-rules create allow-ingress-from-iap --rules=tcp:%d --project=%s", t.Port, t.Project)},
	}}
}

func (f *fakeDoctor) MayCreateFirewall(ctx context.Context, project string) (bool, error) {
	return false, nil
}

func TestDiagnoseFromExplorer(t *testing.T) {
	fake := newFake(loadFixture(t))
	be := fake.backend()
	fd := &fakeDoctor{}
	be.Doctor = fd
	h := newHarness(t, Options{Backend: be, Projects: demoProjects})
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("d")
	if !strings.Contains(h.screen(), "Port to check: 3389") {
		t.Fatalf("port prompt for Windows:\n%s", h.screen())
	}
	h.key("enter")
	scr := h.screen()
	for _, want := range []string{"[failed]", "fix: gcloud compute firewall-rules create", "--rules=tcp:3389"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("report lacks %q:\n%s", want, scr)
		}
	}
	if len(fd.ports) != 1 || fd.ports[0] != 3389 {
		t.Fatalf("doctor ran with %v", fd.ports)
	}
	// Without a doctor the action says what to run instead.
	h2 := newHarness(t, Options{Projects: demoProjects})
	h2.selectRow("i:acme-prod/us-central1-a/web-1")
	h2.key("d")
	if !strings.Contains(h2.screen(), "iapterm doctor web-1 --project acme-prod") {
		t.Fatalf("no hint:\n%s", h2.screen())
	}
}

func TestProfileConnectHandsOverTerminal(t *testing.T) {
	h, _, _ := panelHarness(t, "[[profile]]\nname = \"db\"\nproject = \"acme-prod\"\nzone = \"us-central1-b\"\ninstance = \"db-1\"\napp = \"psql\"\n", "")
	var ran []string
	h.m.c.Backend.Self = func(args ...string) *exec.Cmd { ran = args; return exec.Command("true") }
	h.selectRow("z:acme-prod/us-central1-a") // P works on any node
	h.key("P")
	if scr := h.screen(); !strings.Contains(scr, "acme-prod/us-central1-b/db-1") || !strings.Contains(scr, "app psql") {
		t.Fatalf("profiles list:\n%s", scr)
	}
	h.key("enter")
	if strings.Join(ran, " ") != "connect db" {
		t.Fatalf("ran iapterm %v", ran)
	}
	if h.m.overlay != overlayNone {
		t.Fatal("the list stayed open")
	}
}

func TestRestoreSessions(t *testing.T) {
	const on = "[settings.ui]\nrestore_sessions = true\n"
	state := filepath.Join(t.TempDir(), "ui-state.json")
	h, _, _ := panelHarness(t, on, state)
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("c")
	list := h.m.c.Backend.Tunnels.List()
	if len(list) != 1 {
		t.Fatalf("tunnels: %v", list)
	}
	addr := list[0].LocalAddr
	h.key("q")
	if err := h.m.SaveSessions(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(state), "ui-state-sessions.json")
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `"instance": "web-1"`) || !strings.Contains(string(data), `"port": 22`) {
		t.Fatalf("sessions file: %v\n%s", err, data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}

	// The next start reopens it on the same local port once acme-prod loads.
	h2, fake2, _ := panelHarness(t, on, state)
	got := fake2.List()
	if len(got) != 1 || got[0].Target != (common.TunnelTarget{Project: "acme-prod", Zone: "us-central1-a", Instance: "web-1", Port: 22}) || got[0].LocalAddr != addr {
		t.Fatalf("restored: %+v, want %s", got, addr)
	}
	if !strings.Contains(h2.screen(), "Tunnel open: "+addr+" → web-1:22") {
		t.Fatalf("no notice:\n%s", h2.screen())
	}

	// With the setting off nothing is reopened, and quitting forgets them.
	h3, fake3, _ := panelHarness(t, "", state)
	if n := len(fake3.List()); n != 0 {
		t.Fatalf("%d tunnels reopened with the setting off", n)
	}
	if err := h3.m.SaveSessions(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), "web-1") {
		t.Fatalf("sessions kept with the setting off:\n%s", data)
	}
}

// A panel's own messages reach it through the root.
func TestPanelReceivesItsMessages(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	p := &recordingPanel{}
	h.send(panel.OpenedMsg{Panel: p})
	h.send(struct{ x int }{1})
	h.key("z")
	if len(p.got) != 2 {
		t.Fatalf("panel got %v", p.got)
	}
	if !strings.Contains(h.screen(), "recording panel") {
		t.Fatalf("screen:\n%s", h.screen())
	}
	h.send(panel.ClosedMsg{})
	if h.m.overlay != overlayNone {
		t.Fatal("not closed")
	}
}

// A new profile for an instance with a tunnel open to 5432 defaults to
// that tunnel: the profile saves what the user is doing.
func TestNewProfileFromCurrentTunnel(t *testing.T) {
	h, _, cfgPath := panelHarness(t, "", "")
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("p")
	h.typeText("5432")
	h.key("enter")
	h.key("P", "n")
	if scr := h.screen(); !strings.Contains(scr, "web-1-tunnel-5432") || !strings.Contains(scr, "‹ tunnel ›") {
		t.Fatalf("form:\n%s", scr)
	}
	h.key("enter")
	data, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(data), `name = "web-1-tunnel-5432"`) || !strings.Contains(string(data), "remote_port = 5432") {
		t.Fatalf("file:\n%s", data)
	}
}

// A project that fails to load keeps its tunnels for a later load or the
// next start; a removed project drops them.
func TestRestorePendingUntilLoaded(t *testing.T) {
	state := filepath.Join(t.TempDir(), "ui-state.json")
	path := filepath.Join(filepath.Dir(state), "ui-state-sessions.json")
	saved := `{"version":1,"tunnels":[{"project":"acme-prod","zone":"us-central1-a","instance":"web-1","port":8080,"localPort":18080}]}`
	if err := os.WriteFile(path, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFake(loadFixture(t))
	fake.loadErr["acme-prod"] = fmt.Errorf("network down")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgPath, []byte("[settings.ui]\nrestore_sessions = true\n"), 0o600)
	be := fake.backend()
	be.Config = backend.ConfigFile{Path: cfgPath}
	h := newHarness(t, Options{Backend: be, StatePath: state, Projects: demoProjects})
	if n := len(fake.List()); n != 0 {
		t.Fatalf("%d tunnels opened for a project that did not load", n)
	}
	// The refresh succeeds: now it opens.
	delete(fake.loadErr, "acme-prod")
	h.run(h.m.refresh([]string{"acme-prod"}))
	if got := fake.List(); len(got) != 1 || got[0].LocalAddr != "127.0.0.1:18080" {
		t.Fatalf("after the refresh: %+v", got)
	}
}

// FuzzLoadSessions: any file content gives tunnels or an error naming the
// file, never a panic.
func FuzzLoadSessions(f *testing.F) {
	f.Add(`{"version":1,"tunnels":[{"project":"p","zone":"z","instance":"i","port":22,"localPort":10022}]}`)
	f.Add(`{"tunnels":null}`)
	f.Add(`[1,2`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "s.json")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadSessions(path); err != nil && !strings.Contains(err.Error(), path) {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}

// nopOpener never connects: the tests below do not run the tabs' commands.
type nopOpener struct{}

func (nopOpener) Open(ctx context.Context, inst projects.Instance, cols, rows int, h sessions.Hooks) (sessions.Conn, error) {
	return nil, fmt.Errorf("not connecting in this test")
}

// SSH tabs open at quit are remembered and reopened as tabs once their
// project loads.
func TestRestoreSSHTabs(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "ui-state.json")
	path := filepath.Join(dir, "ui-state-sessions.json")
	saved := `{"version":1,"tunnels":[],"ssh":[{"project":"acme-prod","zone":"us-central1-a","instance":"web-1"}]}`
	if err := os.WriteFile(path, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte("[settings.ui]\nrestore_sessions = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFake(loadFixture(t))
	be := fake.backend()
	be.Config = backend.ConfigFile{Path: cfgPath}
	m := New(context.Background(), Options{Backend: be, StatePath: state, Projects: demoProjects, Sessions: nopOpener{}})
	inv, err := fake.Load(context.Background(), demoProjects)
	if err != nil {
		t.Fatal(err)
	}
	m.explorer.SetInventory(inv)
	if cmd := m.restoreLoaded(demoProjects); cmd == nil || m.sessions.Len() != 1 {
		t.Fatalf("tabs after restore: %d", m.sessions.Len())
	}
	// Quitting takes note of the open tab before closing it.
	m.quit()
	if err := m.SaveSessions(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"ssh"`) || !strings.Contains(string(data), `"instance": "web-1"`) {
		t.Fatalf("sessions file:\n%s", data)
	}
}
