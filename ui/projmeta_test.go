package ui

import (
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/projects"
	"iapterm/ui/actions"
	"iapterm/ui/explorer"
)

// field returns the value the details pane shows for label, with the lines
// it wraps onto, or "".
func field(screen, label string) string {
	re := regexp.MustCompile(`│` + regexp.QuoteMeta(label) + ` +([^│]*?) *│`)
	cont := regexp.MustCompile(`│ {16}([^│]*?) *│`)
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		// The pane is the last box on the line.
		j := strings.LastIndex(l, "││")
		if j < 0 {
			continue
		}
		m := re.FindStringSubmatch(l[j+len("│"):])
		if m == nil {
			continue
		}
		v := m[1]
		for _, next := range lines[i+1:] {
			k := strings.LastIndex(next, "││")
			if k < 0 {
				break
			}
			c := cont.FindStringSubmatch(next[k+len("│"):])
			if c == nil || c[1] == "" {
				break
			}
			v += c[1]
		}
		return v
	}
	return ""
}

func flags(h *harness) []string {
	scr := h.screen()
	return []string{field(scr, "OS Login"), field(scr, "OS Login 2FA"), field(scr, "Block proj keys"), field(scr, "Serial access")}
}

// The details pane shows each flag's effective value: the instance's own
// value, else the project's, else the default, and where it came from.
func TestDetailsEffectiveFlags(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.fake.projMeta["acme-staging"] = map[string]string{"block-project-ssh-keys": "TRUE", "enable-oslogin": "maybe"}
	tests := []struct {
		row  string
		want []string
	}{
		// db-1 sets three flags itself; serial access comes from acme-prod.
		{"i:acme-prod/us-central1-b/db-1", []string{"on (instance)", "on (instance)", "on (instance)", "on (project)"}},
		// web-1 sets OS Login on, overriding the project's FALSE.
		{"i:acme-prod/us-central1-a/web-1", []string{"on (instance)", "on (project)", "off (default)", "on (project)"}},
		// win-jump sets nothing.
		{"i:acme-prod/europe-west1-b/win-jump", []string{"off (project)", "on (project)", "off (default)", "on (project)"}},
		// The project's unparseable OS Login value counts as unset.
		{"i:acme-staging/us-east1-c/win-build", []string{"on (instance)", "off (default)", "on (project)", "off (default)"}},
		{"i:data-lab/us-west1-a/notebook", []string{"on (instance)", "off (default)", "off (default)", "off (default)"}},
	}
	for _, tc := range tests {
		h.selectRow(tc.row)
		if got := flags(h); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: flags %q, want %q\n%s", tc.row, got, tc.want, h.screen())
		}
	}
	// Read once per project, lazily.
	if want := []string{"acme-prod", "acme-staging", "data-lab"}; !reflect.DeepEqual(h.fake.projReads, want) {
		t.Errorf("project metadata reads %v, want %v", h.fake.projReads, want)
	}
}

// An instance value overrides the project's even when it is false, and a
// project value set later shows after a refresh.
func TestDetailsInstanceOverridesProject(t *testing.T) {
	inv := loadFixture(t)
	web := &inv.Instances["acme-prod"][0]
	if web.Name != "web-1" {
		t.Fatalf("fixture order changed: %s", web.Name)
	}
	web.Metadata = map[string]string{"enable-oslogin": "false", "serial-port-enable": "0", "block-project-ssh-keys": "False"}
	fake := newFake(inv)
	fake.projMeta["acme-prod"] = map[string]string{"enable-oslogin": "TRUE", "serial-port-enable": "TRUE", "block-project-ssh-keys": "TRUE", "enable-oslogin-2fa": "1"}
	h := newHarness(t, Options{Projects: demoProjects, Backend: fake.backend()})
	h.fake = fake
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	want := []string{"off (instance)", "on (project)", "off (instance)", "off (instance)"}
	if got := flags(h); !reflect.DeepEqual(got, want) {
		t.Fatalf("flags %q, want %q", got, want)
	}

	// Refresh: the project is read again; the old value shows meanwhile.
	fake.mu.Lock()
	fake.projMeta["acme-prod"]["enable-oslogin-2fa"] = "false"
	fake.mu.Unlock()
	_, cmd := h.m.Update(keyMsg("r"))
	if got := field(h.screen(), "OS Login 2FA"); got != "on (project)" {
		t.Errorf("during the refresh 2FA shows %q", got)
	}
	h.run(cmd)
	if got := field(h.screen(), "OS Login 2FA"); got != "off (project)" {
		t.Errorf("after the refresh 2FA shows %q", got)
	}
	if n := strings.Count(strings.Join(fake.projReads, " "), "acme-prod"); n != 2 {
		t.Errorf("acme-prod read %d times, want 2 (%v)", n, fake.projReads)
	}
}

// Until the project's metadata is read, the flags the instance does not
// set show "…"; the UI is not blocked meanwhile.
func TestDetailsWhileProjectMetadataLoads(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.m.Explorer().Select("i:acme-prod/us-central1-a/web-1")
	_, cmd := h.m.Update(explorer.StateChangedMsg{})
	want := []string{"on (instance)", "…", "…", "…"}
	if got := flags(h); !reflect.DeepEqual(got, want) {
		t.Fatalf("before the read: %q, want %q", got, want)
	}
	if len(h.fake.projReads) != 0 {
		t.Fatal("the metadata was read inside Update")
	}
	// Moving on while the read is under way starts no second read.
	h.m.Explorer().Select("i:acme-prod/us-central1-a/web-2")
	if _, again := h.m.Update(explorer.StateChangedMsg{}); again != nil {
		h.run(again)
	}
	h.run(cmd)
	if got := field(h.screen(), "Serial access"); got != "on (project)" {
		t.Fatalf("after the read serial access shows %q", got)
	}
	if !reflect.DeepEqual(h.fake.projReads, []string{"acme-prod"}) {
		t.Fatalf("reads %v", h.fake.projReads)
	}
}

// A project whose metadata cannot be read: the flags the instance sets
// still show, the others say why they are unknown; nothing fails.
func TestDetailsProjectMetadataErrors(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.fake.projMetaErr["acme-prod"] = &projects.Error{Code: http.StatusForbidden, Reason: "forbidden"}
	h.fake.projMetaErr["acme-staging"] = errors.New("dial tcp: connection refused")
	h.send(tea.WindowSizeMsg{Width: 100, Height: 50})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	perm := "unknown (no permission to read project metadata)"
	if got, want := flags(h), []string{"on (instance)", perm, perm, perm}; !reflect.DeepEqual(got, want) {
		t.Errorf("403: flags %q, want %q", got, want)
	}
	h.selectRow("i:acme-staging/us-central1-a/web-staging")
	other := "unknown (could not read project metadata)"
	if got, want := flags(h), []string{"on (instance)", other, other, other}; !reflect.DeepEqual(got, want) {
		t.Errorf("network error: flags %q, want %q", got, want)
	}
	if !strings.Contains(h.screen(), "connection refused") {
		t.Errorf("the pane does not say why:\n%s", h.screen())
	}
	if h.m.errs.Visible() {
		t.Error("a metadata error opened the error panel")
	}
	// r retries.
	delete(h.fake.projMetaErr, "acme-staging")
	h.key("r")
	if got := field(h.screen(), "OS Login 2FA"); got != "off (default)" {
		t.Errorf("after r 2FA shows %q", got)
	}
}

// A session that cannot read project metadata says so.
func TestDetailsWithoutProjectMetadata(t *testing.T) {
	fake := newFake(loadFixture(t))
	be := fake.backend()
	be.ProjectMetadata = nil
	h := newHarness(t, Options{Projects: demoProjects, Backend: be})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	na := "unknown (project metadata not available)"
	if got, want := flags(h), []string{"on (instance)", na, na, na}; !reflect.DeepEqual(got, want) {
		t.Errorf("flags %q, want %q", got, want)
	}
}

// Models with and without SSH tabs in one process, in either order: the
// registry is shared but what a model offers is its own.
func TestSSHTabsArePerModel(t *testing.T) {
	enterOn := func(h *harness) tea.Msg {
		h.t.Helper()
		h.selectRow("i:acme-prod/us-central1-a/web-1")
		_, cmd := h.m.Update(keyMsg("enter"))
		if cmd == nil {
			h.t.Fatal("enter gave no command")
		}
		return cmd()
	}
	for round := 0; round < 2; round++ {
		tabs := newHarness(t, Options{Projects: demoProjects, Sessions: nopOpener{}})
		plain := newHarness(t, Options{Projects: demoProjects})
		for _, h := range []*harness{plain, tabs, plain} {
			withTabs := h == tabs
			if _, isTab := enterOn(h).(actions.SessionRequestedMsg); isTab != withTabs {
				t.Errorf("round %d, tabs %v: enter opened a tab: %v", round, withTabs, isTab)
			}
			var help []string
			for _, group := range (helpKeys{c: h.m.c, root: h.m.keys, exp: h.m.explorer.KeyMap}).FullHelp() {
				for _, b := range group {
					help = append(help, b.Help().Desc)
				}
			}
			if got := slices.Contains(help, "new SSH tab"); got != withTabs {
				t.Errorf("round %d, tabs %v: help lists n: %v", round, withTabs, got)
			}
			h.key("m")
			ids := map[string]bool{}
			for _, a := range h.m.menu.Items() {
				ids[a.ID] = true
			}
			if ids["ssh.tab"] != withTabs || ids["ssh.fullscreen"] != withTabs {
				t.Errorf("round %d, tabs %v: menu %v", round, withTabs, ids)
			}
			h.key("esc")
			_, cmd := h.m.Update(keyMsg("n"))
			if cmd != nil {
				if _, isTab := cmd().(actions.SessionRequestedMsg); isTab != withTabs {
					t.Errorf("round %d, tabs %v: n opened a tab: %v", round, withTabs, isTab)
				}
			} else if withTabs {
				t.Errorf("round %d: n did nothing with tabs", round)
			}
		}
	}
}

// With SSH tabs the menu of a running Linux VM is taller than 80x24: it
// scrolls with the cursor and its frame and hint stay on screen.
func TestMenuScrollsOnSmallScreens(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects, Sessions: nopOpener{}})
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("m")
	items := h.m.menu.Items()
	check := func(where string, want ...string) {
		t.Helper()
		scr := h.screen()
		if n := len(strings.Split(scr, "\n")); n != 24 {
			t.Fatalf("%s: screen has %d lines", where, n)
		}
		for _, s := range append(want, "esc close", "╰") {
			if !strings.Contains(scr, s) {
				t.Errorf("%s: no %q on screen:\n%s", where, s, scr)
			}
		}
	}
	check("top", "SSH in a tab", "↓ ", "Connect")
	if strings.Contains(h.screen(), "Copy iapterm tunnel") {
		t.Fatal("the whole menu fits: the test needs a taller menu")
	}
	for range items {
		h.key("down")
	}
	check("bottom", "Copy iapterm tunnel", "↑ ")
	if strings.Contains(h.screen(), "↓ ") {
		t.Error("more below the last item")
	}
	for range items {
		h.key("up")
	}
	check("back to the top", "Connect", "↓ ")
	if strings.Contains(h.screen(), "↑ ") {
		t.Error("more above the first item")
	}
	// The last item runs from the scrolled menu.
	for range items {
		h.key("down")
	}
	h.key("enter")
	if h.m.overlay != overlayNone || !strings.Contains(h.m.notice, "iapterm tunnel") {
		t.Errorf("overlay %v, notice %q", h.m.overlay, h.m.notice)
	}
}

// Back in the explorer with SSH tabs open, the status bar counts them and
// the help says how to return to them. The tabs' commands (which wait for
// the session) are not run.
func TestExplorerShowsOpenSSHTabs(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects, Sessions: nopOpener{}})
	h.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	if strings.Contains(h.screen(), "SSH tab") {
		t.Fatalf("SSH tabs mentioned before any is open:\n%s", h.screen())
	}
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	press := func(keys ...string) {
		for _, k := range keys {
			if _, cmd := h.m.Update(keyMsg(k)); cmd != nil && k == "e" {
				h.m.Update(cmd()) // the tab asking for the explorer
			}
		}
	}
	_, cmd := h.m.Update(keyMsg("n"))
	if cmd == nil {
		t.Fatal("n gave no command")
	}
	h.m.Update(cmd())
	if !h.m.inSession || h.m.sessions.Len() != 1 {
		t.Fatalf("n did not show a tab: in session %v, %d tabs", h.m.inSession, h.m.sessions.Len())
	}
	press("ctrl+]", "e")
	if h.m.inSession {
		t.Fatal("ctrl+] e did not return to the explorer")
	}
	scr := h.screen()
	for _, want := range []string{"1 SSH tab (ctrl+])", "ctrl+] back to SSH tabs"} {
		if !strings.Contains(scr, want) {
			t.Errorf("no %q on the explorer screen:\n%s", want, scr)
		}
	}
	press("?")
	if scr := h.screen(); !strings.Contains(scr, "back to SSH tabs") {
		t.Errorf("the full help does not list ctrl+]:\n%s", scr)
	}
	press("esc", "ctrl+]")
	if !h.m.inSession {
		t.Error("ctrl+] in the explorer did not go back to the tabs")
	}
}

// q with an SSH session open asks first (the default is to stay); y quits.
func TestQuitAsksWithSSHSessionsOpen(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects, Sessions: nopOpener{}})
	h.send(tea.WindowSizeMsg{Width: 140, Height: 30})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	_, cmd := h.m.Update(keyMsg("n"))
	h.m.Update(cmd())
	h.m.Update(keyMsg("ctrl+]"))
	_, cmd = h.m.Update(keyMsg("e"))
	h.m.Update(cmd())
	// feed delivers what key's command produces, one level deep.
	feed := func(k string) {
		t.Helper()
		if _, cmd := h.m.Update(keyMsg(k)); cmd != nil {
			if _, cmd := h.m.Update(cmd()); cmd != nil {
				if msg := cmd(); msg != nil {
					h.m.Update(msg)
				}
			}
		}
	}
	feed("q")
	if h.m.Quitting() {
		t.Fatal("q quit with an SSH session open without asking")
	}
	if scr := h.screen(); !strings.Contains(scr, "1 SSH session open (web-1). Quitting closes it. Quit?") {
		t.Fatalf("no question on screen:\n%s", scr)
	}
	feed("enter") // the default button is Cancel
	if h.m.Quitting() || h.m.overlay != overlayNone {
		t.Fatalf("enter: quitting %v, overlay %v", h.m.Quitting(), h.m.overlay)
	}
	feed("q")
	feed("y")
	if !h.m.Quitting() {
		t.Error("y did not quit")
	}
}

// The full help fits in the width of small screens (its frame included).
func TestFullHelpFitsNarrowScreens(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects, Sessions: nopOpener{}})
	for _, size := range [][2]int{{40, 10}, {60, 20}, {80, 24}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		if w := lipgloss.Width(h.m.fullHelp()); w > size[0] {
			t.Errorf("%dx%d: the help box is %d wide", size[0], size[1], w)
		}
	}
}
