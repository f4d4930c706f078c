package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"iapterm/ui/common"
	"iapterm/ui/explorer"
	"iapterm/ui/tunnels"
)

var demoProjects = []string{"acme-prod", "acme-staging", "data-lab"}

func visibleNames(m *Model) []string {
	var out []string
	for _, r := range m.Explorer().Rows() {
		switch r.Kind {
		case explorer.ProjectRow:
			out = append(out, r.Project)
		case explorer.ZoneRow:
			out = append(out, "  "+r.Zone)
		default:
			out = append(out, "    "+r.Instance.Name)
		}
	}
	return out
}

func instanceNames(m *Model) []string {
	var out []string
	for _, r := range m.Explorer().Rows() {
		if r.Kind == explorer.InstanceRow {
			out = append(out, r.Instance.Name)
		}
	}
	return out
}

func (h *harness) selectRow(k string) {
	h.t.Helper()
	h.m.Explorer().Select(k)
	if r, ok := h.m.Explorer().Selected(); !ok || r.Key() != k {
		h.t.Fatalf("cannot select %s", k)
	}
	h.send(explorer.StateChangedMsg{})
}

func TestExplorerLoadsSortedTree(t *testing.T) {
	h := newHarness(t, Options{Projects: []string{"data-lab", "acme-staging", "acme-prod"}})
	got := visibleNames(h.m)
	want := []string{
		"acme-prod", "  europe-west1-b", "    win-jump", "  us-central1-a", "    web-1", "    web-2", "  us-central1-b", "    db-1",
		"acme-staging", "  us-central1-a", "    batch-old", "    web-staging", "  us-east1-c", "    win-build",
		"data-lab", "  us-west1-a", "    notebook",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExplorerNavigation(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	e := h.m.Explorer()
	tests := []struct {
		keys []string
		want string
	}{
		{nil, "p:acme-prod"},
		{[]string{"j"}, "z:acme-prod/europe-west1-b"},
		{[]string{"j", "down"}, "z:acme-prod/us-central1-a"},
		{[]string{"k"}, "i:acme-prod/europe-west1-b/win-jump"},
		{[]string{"G"}, "i:data-lab/us-west1-a/notebook"},
		{[]string{"down"}, "i:data-lab/us-west1-a/notebook"}, // stays at the end
		{[]string{"g"}, "p:acme-prod"},
		{[]string{"up"}, "p:acme-prod"},
		{[]string{"pgdown"}, "i:data-lab/us-west1-a/notebook"}, // 17 rows fit in one page
		{[]string{"h"}, "z:data-lab/us-west1-a"},               // left on an instance goes to its zone
		{[]string{"h"}, "z:data-lab/us-west1-a"},               // left on an open zone collapses it
		{[]string{"h"}, "p:data-lab"},                          // left on a closed zone goes to the project
	}
	for i, tt := range tests {
		h.key(tt.keys...)
		r, _ := e.Selected()
		if r.Key() != tt.want {
			t.Fatalf("step %d (%v): selected %s, want %s", i, tt.keys, r.Key(), tt.want)
		}
	}
}

func TestExpandCollapsePersists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ui-state.json")
	h := newHarness(t, Options{Projects: demoProjects, StatePath: path})
	h.selectRow("p:acme-prod")
	h.key("enter") // collapse acme-prod
	h.selectRow("z:acme-staging/us-central1-a")
	h.key("h") // collapse the zone
	h.selectRow("i:acme-staging/us-east1-c/win-build")
	if n := h.fire(func(m tea.Msg) bool { _, ok := m.(saveDueMsg); return ok }); n == 0 {
		t.Fatal("no state save was scheduled")
	}
	if got := visibleNames(h.m); !reflect.DeepEqual(got[:4], []string{"acme-prod", "acme-staging", "  us-central1-a", "  us-east1-c"}) {
		t.Fatalf("collapsed tree: %q", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Collapsed, []string{"p:acme-prod", "z:acme-staging/us-central1-a"}) || st.Selected != "i:acme-staging/us-east1-c/win-build" {
		t.Fatalf("state file: %s", data)
	}

	// A new session from the same file restores both.
	h2 := newHarness(t, Options{StatePath: path})
	if got := h2.m.Explorer().Projects(); !reflect.DeepEqual(got, demoProjects) {
		t.Fatalf("projects after restart: %v", got)
	}
	if !reflect.DeepEqual(visibleNames(h2.m), visibleNames(h.m)) {
		t.Fatalf("tree after restart:\n%q\nwant\n%q", visibleNames(h2.m), visibleNames(h.m))
	}
	if r, _ := h2.m.Explorer().Selected(); r.Key() != "i:acme-staging/us-east1-c/win-build" {
		t.Fatalf("selection after restart: %s", r.Key())
	}
	// Expanding again.
	h2.selectRow("p:acme-prod")
	h2.key("l")
	if got := instanceNames(h2.m); got[0] != "win-jump" {
		t.Fatalf("expand did not show acme-prod's instances: %v", got)
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{"web", []string{"web-1", "web-2", "web-staging"}},
		{"WEB-1", []string{"web-1"}},
		{"env:staging", []string{"batch-old", "web-staging", "win-build"}},
		{"role:web env:prod", []string{"web-1", "web-2"}},
		{"status:terminated", []string{"batch-old"}},
		{"suspended", []string{"win-build"}},
		{"os:windows", []string{"win-jump", "win-build"}},
		{"windows running", []string{"win-jump"}},
		{"team:ml", []string{"notebook"}},
		{"zone:europe", []string{"win-jump"}},
		{"nothing-matches", nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			h := newHarness(t, Options{Projects: demoProjects})
			h.key("/")
			if !h.m.Explorer().Filtering() {
				t.Fatal("/ did not open the filter")
			}
			h.typeText(tt.filter)
			if got := instanceNames(h.m); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("matches %v, want %v", got, tt.want)
			}
			// Projects without a match are hidden.
			for _, r := range h.m.Explorer().Rows() {
				if r.Kind == explorer.ProjectRow && r.Count == 0 {
					t.Fatalf("project %s shown without matches", r.Project)
				}
			}
			h.key("esc")
			if h.m.Explorer().Filtering() || h.m.Explorer().FilterText() != "" || len(instanceNames(h.m)) != 8 {
				t.Fatalf("esc did not clear the filter: %q, %d shown", h.m.Explorer().FilterText(), len(instanceNames(h.m)))
			}
		})
	}
}

func TestFilterKeepsAndNavigates(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.key("/")
	h.typeText("web")
	// The first match is selected as soon as the filter finds it.
	if r, _ := h.m.Explorer().Selected(); r.Key() != "i:acme-prod/us-central1-a/web-1" {
		t.Fatalf("selected %s", r.Key())
	}
	rows := h.m.Explorer().Rows()
	web1 := slices.IndexFunc(rows, func(r explorer.Row) bool { return r.Key() == "i:acme-prod/us-central1-a/web-1" })
	h.key("down", "enter") // enter keeps the filter and leaves the field
	if h.m.Explorer().Filtering() || h.m.Explorer().FilterText() != "web" {
		t.Fatal("enter should keep the filter and return to the tree")
	}
	if r, _ := h.m.Explorer().Selected(); r.Key() != rows[web1+1].Key() {
		t.Fatalf("down selected %s, want %s", r.Key(), rows[web1+1].Key())
	}
	// Typing more keeps a selected VM that still matches.
	h.key("/")
	h.typeText("-2")
	if r, _ := h.m.Explorer().Selected(); r.Kind != explorer.InstanceRow || r.Instance.Name != "web-2" {
		t.Fatalf("after narrowing to web-2: selected %s", r.Key())
	}
	h.key("enter")
	// Typing q now quits instead of filtering.
	_, cmd := h.m.Update(keyMsg("q"))
	if cmd == nil || !reflect.DeepEqual(cmd(), tea.Quit()) {
		t.Fatal("q did not quit")
	}
}

func TestOSToggle(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.key("W")
	if got := instanceNames(h.m); strings.Contains(strings.Join(got, " "), "win-") || len(got) != 6 {
		t.Fatalf("W should hide Windows: %v", got)
	}
	h.key("L")
	if got := instanceNames(h.m); len(got) != 0 {
		t.Fatalf("L and W off should hide all: %v", got)
	}
	h.key("W")
	if got := instanceNames(h.m); !reflect.DeepEqual(got, []string{"win-jump", "win-build"}) {
		t.Fatalf("only Windows: %v", got)
	}
	if st := h.m.State(); !st.HideLinux || st.HideWindows {
		t.Fatalf("state: %+v", st)
	}
}

func TestPickerMultiSelect(t *testing.T) {
	h := newHarness(t, Options{Projects: []string{"acme-prod"}})
	h.key("a")
	if h.m.overlay != overlayPicker {
		t.Fatal("a did not open the picker")
	}
	p := h.m.picker
	if len(p.Results()) != 8 {
		t.Fatalf("initial search: %d results", len(p.Results()))
	}
	h.typeText("extra")
	if n := h.fire(func(tea.Msg) bool { return true }); n == 0 {
		t.Fatal("typing did not schedule a search")
	}
	if got := len(p.Results()); got != 5 {
		t.Fatalf("search for extra: %d results", got)
	}
	h.key("tab", "down", "space") // select extra-00 and extra-02
	if got := p.Chosen(); !reflect.DeepEqual(got, []string{"extra-00", "extra-02"}) {
		t.Fatalf("chosen %v", got)
	}
	h.key("enter")
	if h.m.overlay != overlayNone {
		t.Fatal("enter did not close the picker")
	}
	if got := h.m.Explorer().Projects(); !reflect.DeepEqual(got, []string{"acme-prod", "extra-00", "extra-02"}) {
		t.Fatalf("projects %v", got)
	}
	if got := h.m.State().Projects; !reflect.DeepEqual(got, []string{"acme-prod", "extra-00", "extra-02"}) {
		t.Fatalf("state projects %v", got)
	}
	if h.m.loadingCount() != 0 {
		t.Fatal("added projects were not loaded")
	}
}

func TestPickerAlreadyAddedAndCancel(t *testing.T) {
	h := newHarness(t, Options{Projects: []string{"acme-prod"}})
	h.key("a")
	h.key("space") // acme-prod is already added: not selectable
	if got := h.m.picker.Chosen(); len(got) != 0 {
		t.Fatalf("chose an added project: %v", got)
	}
	if !strings.Contains(h.screen(), "(added)") {
		t.Fatal("added projects are not marked")
	}
	h.key("esc")
	if h.m.overlay != overlayNone || len(h.m.Explorer().Projects()) != 1 {
		t.Fatal("esc should cancel without adding")
	}
}

func TestRemoveProjectConfirms(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-staging/us-central1-a/web-staging")
	h.key("x")
	if h.m.overlay != overlayConfirm {
		t.Fatal("x did not ask for confirmation")
	}
	h.key("enter") // the default button is Cancel
	if len(h.m.Explorer().Projects()) != 3 {
		t.Fatal("enter on the default button removed the project")
	}
	h.key("x", "y")
	if got := h.m.Explorer().Projects(); !reflect.DeepEqual(got, []string{"acme-prod", "data-lab"}) {
		t.Fatalf("projects %v", got)
	}
}

func TestLifecycleConfirmation(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-staging/us-central1-a/batch-old")
	h.key("D") // stop does not apply to a TERMINATED instance
	if h.m.overlay != overlayNone || !strings.Contains(h.m.notice, "TERMINATED") {
		t.Fatalf("stop on a stopped VM: overlay %v, notice %q", h.m.overlay, h.m.notice)
	}
	h.key("U")
	if h.m.overlay != overlayConfirm || !strings.Contains(h.screen(), "Start batch-old in acme-staging") {
		t.Fatalf("no confirmation:\n%s", h.screen())
	}
	h.key("n")
	if len(h.fake.ops) != 0 {
		t.Fatalf("n ran the operation: %v", h.fake.ops)
	}
	loads := h.fake.loads
	h.key("U", "y")
	if !reflect.DeepEqual(h.fake.ops, []string{"start acme-staging/us-central1-a/batch-old"}) {
		t.Fatalf("ops %v", h.fake.ops)
	}
	if h.fake.loads != loads+1 {
		t.Fatal("the project was not refreshed after the operation")
	}
	// Right moves to the confirming button; enter then runs.
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("Z", "right", "enter")
	if got := h.fake.ops[len(h.fake.ops)-1]; got != "suspend acme-prod/us-central1-a/web-1" {
		t.Fatalf("last op %q", got)
	}
}

func TestConnectOpensTunnel(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("enter")
	if !strings.Contains(h.m.notice, "127.0.0.1:40000 → web-1:22") {
		t.Fatalf("notice %q", h.m.notice)
	}
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("enter")
	if !strings.Contains(h.m.notice, "win-jump:3389") || !strings.Contains(h.m.notice, "RDP") {
		t.Fatalf("notice %q", h.m.notice)
	}
	if !strings.Contains(h.screen(), "●") {
		t.Fatal("no tunnel marker in the tree")
	}
	// Not running: nothing opens.
	h.selectRow("i:acme-staging/us-central1-a/batch-old")
	h.key("enter")
	if len(h.fake.tunnels) != 2 || !strings.Contains(h.m.notice, "start it first") {
		t.Fatalf("tunnels %d, notice %q", len(h.fake.tunnels), h.m.notice)
	}
}

func TestTunnelToPortDialog(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-b/db-1")
	h.key("p")
	if h.m.overlay != overlayPort {
		t.Fatal("p did not open the dialog")
	}
	h.key("enter")
	if !strings.Contains(h.screen(), "enter a port number") {
		t.Fatalf("empty remote port accepted:\n%s", h.screen())
	}
	h.typeText("5432")
	h.key("tab")
	h.typeText("x15432") // the letter is ignored
	h.key("enter")
	if h.m.overlay != overlayNone {
		t.Fatal("dialog still open")
	}
	if len(h.fake.tunnels) != 1 || h.fake.tunnels[0].LocalAddr != "127.0.0.1:15432" || h.fake.tunnels[0].Target.Port != 5432 {
		t.Fatalf("tunnels %+v", h.fake.tunnels)
	}
}

func TestTunnelsPanelClose(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("enter")
	h.selectRow("i:acme-prod/us-central1-a/web-2")
	h.key("enter")
	h.key("t")
	if !h.m.showTunnels || h.m.focus != focusTunnels {
		t.Fatal("t did not open and focus the tunnels panel")
	}
	scr := h.screen()
	for _, want := range []string{"LOCAL ADDRESS", "127.0.0.1:40000", "127.0.0.1:40001", "120.6 KiB", "1/3", "1m30s"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("panel lacks %q:\n%s", want, scr)
		}
	}
	// Counters refresh on the tick.
	h.fake.mu.Lock()
	h.fake.tunnels[1].BytesIn = 5 << 20
	h.fake.mu.Unlock()
	if n := h.fire(func(m tea.Msg) bool { _, ok := m.(tunnels.TickMsg); return ok }); n != 1 {
		t.Fatalf("%d ticks pending", n)
	}
	if !strings.Contains(h.screen(), "5.0 MiB") {
		t.Fatal("tick did not refresh the byte counts")
	}
	h.key("j", "x")
	if got := h.fake.List(); len(got) != 1 || got[0].Target.Instance != "web-1" {
		t.Fatalf("after close: %+v", got)
	}
	if strings.Contains(h.screen(), "127.0.0.1:40001") {
		t.Fatal("closed tunnel still listed")
	}
	h.key("esc")
	if h.m.focus != focusExplorer || !h.m.showTunnels {
		t.Fatal("esc should return focus to the explorer, panel open")
	}
	h.key("t")
	if h.m.showTunnels {
		t.Fatal("t did not hide the panel")
	}
	// A tick from the closed panel stops the refresh loop.
	isTick := func(m tea.Msg) bool { _, ok := m.(tunnels.TickMsg); return ok }
	if n := h.fire(isTick); n != 1 {
		t.Fatalf("%d ticks pending", n)
	}
	if n := h.fire(isTick); n != 0 {
		t.Fatalf("tick loop continues after closing: %d pending", n)
	}
}

func TestErrorPanel(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("p")
	h.typeText("9")
	h.key("enter")
	if !h.m.errs.Visible() {
		t.Fatal("tunnel failure did not raise the error panel")
	}
	scr := h.screen()
	for _, want := range []string{"Opening a tunnel to web-1 port 9", "4003", "35.235.240.0/20", "enter/esc dismiss"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("error panel lacks %q:\n%s", want, scr)
		}
	}
	h.key("j") // keys other than dismiss are swallowed while the panel is up
	if r, _ := h.m.Explorer().Selected(); r.Instance == nil || r.Instance.Name != "web-1" {
		t.Fatal("key reached the explorer behind the error panel")
	}
	h.key("esc")
	if h.m.errs.Visible() {
		t.Fatal("esc did not dismiss")
	}
}

func TestProjectLoadErrorIsShown(t *testing.T) {
	fake := newFake(loadFixture(t))
	fake.loadErr["data-lab"] = os.ErrPermission
	h := newHarness(t, Options{Projects: demoProjects, Backend: fake.backend()})
	e, ok := h.m.errs.Current()
	if !ok || !strings.Contains(e.Title, "data-lab") || !strings.Contains(e.Hint, "Compute Viewer") {
		t.Fatalf("error %+v", e)
	}
	// The other projects loaded.
	if len(instanceNames(h.m)) != 7 {
		t.Fatalf("instances %v", instanceNames(h.m))
	}
	h.key("enter")
	if !strings.Contains(h.screen(), "data-lab ! not loaded") {
		t.Fatalf("failed project not marked:\n%s", h.screen())
	}
}

func TestCopyCommand(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	_, cmd := h.m.Update(keyMsg("Y"))
	msg := cmd()
	cp, ok := msg.(common.ClipboardCopiedMsg)
	if !ok || cp.Text != "gcloud compute ssh web-1 --tunnel-through-iap --project=acme-prod --zone=us-central1-a" {
		t.Fatalf("copy: %#v", msg)
	}
	_, cmd = h.m.Update(cp)
	if cmd == nil || !strings.Contains(h.m.notice, cp.Text) {
		t.Fatalf("no clipboard command or notice %q", h.m.notice)
	}
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	_, cmd = h.m.Update(keyMsg("y"))
	if got := cmd().(common.ClipboardCopiedMsg).Text; got != "iapterm tunnel win-jump 3389 --project=acme-prod --zone=europe-west1-b" {
		t.Fatalf("copy: %q", got)
	}
}

func TestSerialViewer(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("o")
	if h.m.overlay != overlaySerial || !strings.Contains(h.screen(), "Ready.") {
		t.Fatalf("serial viewer:\n%s", h.screen())
	}
	h.fake.mu.Lock()
	h.fake.serial[1] += "login: \x1b[2Jmore\n"
	h.fake.mu.Unlock()
	h.fire(func(tea.Msg) bool { return true }) // the one-second poll
	if scr := h.screen(); !strings.Contains(scr, "login: [2Jmore") {
		t.Fatalf("poll did not append (escape must be neutralised):\n%s", scr)
	}
	h.key("2")
	if h.m.serial.Port() != 2 || strings.Contains(h.screen(), "Ready.") {
		t.Fatal("port switch")
	}
	h.key("esc")
	if h.m.overlay != overlayNone {
		t.Fatal("esc did not close the viewer")
	}
	// The poll of the closed viewer does nothing.
	h.fire(func(tea.Msg) bool { return true })
	for _, m := range h.pending {
		if _, ok := m.(saveDueMsg); !ok {
			t.Fatalf("polling continues after close: %T pending", m)
		}
	}
}

func TestMenuFromRegistry(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-staging/us-east1-c/win-build") // SUSPENDED Windows
	h.key("m")
	if h.m.overlay != overlayMenu {
		t.Fatal("m did not open the menu")
	}
	pos := map[string]int{}
	for i, a := range h.m.menu.Items() {
		pos[a.ID] = i
	}
	// Other files may register more actions; these must be there, in this
	// order, and those that do not apply to a suspended VM must not.
	want := []string{"serial", "power.stop", "power.resume", "copy.iapterm", "copy.gcloud", "copy.gcloud-tunnel", "copy.iapterm-tunnel"}
	last := -1
	for _, id := range want {
		i, ok := pos[id]
		if !ok || i < last {
			t.Fatalf("menu %v lacks %s or has it out of order", pos, id)
		}
		last = i
	}
	for _, id := range []string{"connect", "tunnel.default", "tunnel.port", "rdp", "power.start", "power.reset", "power.suspend"} {
		if _, ok := pos[id]; ok {
			t.Fatalf("menu offers %s for a suspended VM", id)
		}
	}
	for i := 0; i < pos["power.resume"]; i++ {
		h.key("down")
	}
	h.key("enter") // resume, then confirm
	if h.m.overlay != overlayConfirm {
		t.Fatal("resume did not ask for confirmation")
	}
	h.key("y")
	if got := h.fake.ops; len(got) != 1 || got[0] != "resume acme-staging/us-east1-c/win-build" {
		t.Fatalf("ops %v", got)
	}
}

func TestQuitKeys(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.key("?")
	_, cmd := h.m.Update(keyMsg("q"))
	if cmd != nil {
		t.Fatal("q in the help closes the help, not the program")
	}
	h.key("a") // picker open: ctrl+c still quits
	_, cmd = h.m.Update(keyMsg("ctrl+c"))
	if cmd == nil || !reflect.DeepEqual(cmd(), tea.Quit()) || !h.m.Quitting() {
		t.Fatal("ctrl+c did not quit")
	}
}

func TestBadStateFileIsNotOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ui-state.json")
	bad := []byte("{\n  \"projects\": [\"a\",\n}\n")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{StatePath: path, Projects: demoProjects})
	e, ok := h.m.errs.Current()
	if !ok || !strings.Contains(e.Err.Error(), "ui-state.json:3") {
		t.Fatalf("error %+v", e)
	}
	if err := h.m.SaveState(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(bad) {
		t.Fatal("the unparsable state file was overwritten")
	}
}

func TestResizeAndNarrowScreens(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	for _, sz := range [][2]int{{80, 24}, {60, 20}, {200, 60}, {40, 10}} {
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		lines := strings.Split(h.screen(), "\n")
		if len(lines) != sz[1] {
			t.Fatalf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for i, l := range lines {
			if w := len([]rune(l)); w > sz[0] {
				t.Fatalf("%dx%d: line %d is %d wide: %q", sz[0], sz[1], i, w, l)
			}
		}
	}
}

func TestMouseClickSelects(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects, Mouse: true})
	// Row 4 of the tree (web-1) is at screen line 2 (header, border) + 4.
	h.send(tea.MouseClickMsg{X: 5, Y: 2 + 4, Button: tea.MouseLeft})
	if r, _ := h.m.Explorer().Selected(); r.Key() != "i:acme-prod/us-central1-a/web-1" {
		t.Fatalf("click selected %s", r.Key())
	}
	h.send(tea.MouseWheelMsg{X: 5, Y: 5, Button: tea.MouseWheelDown})
	if r, _ := h.m.Explorer().Selected(); r.Key() != "i:acme-prod/us-central1-b/db-1" {
		t.Fatalf("wheel moved to %s", r.Key())
	}
	if v := h.m.View(); v.MouseMode != tea.MouseModeCellMotion || !v.AltScreen {
		t.Fatal("view does not ask for the mouse and the alt screen")
	}
}
