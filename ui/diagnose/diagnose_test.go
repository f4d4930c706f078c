package diagnose

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"iapterm/doctor"
	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/panel/paneltest"
)

// heldTimer is a timer's message, not delivered by paneltest.Drive.
type heldTimer struct{ msg tea.Msg }

func (heldTimer) Held() bool { return true }

var fixedNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

// fakeRunner answers with canned reports and records its calls.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
	may   bool
	fixed bool // the firewall rule exists after a fix run
}

func (f *fakeRunner) Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(strings.Join([]string{t.Instance, strconv.Itoa(t.Port), flag(fix, "fix"), flag(start, "start")}, " ")))
	if fix {
		f.fixed = true
	}
	r := &doctor.Report{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port}
	r.Checks = append(r.Checks,
		doctor.Check{ID: doctor.CheckCredentials, Title: "Credentials", Mark: doctor.OK, Summary: "demo@example.com (demo)"},
		doctor.Check{ID: doctor.CheckInstance, Title: "Instance", Mark: doctor.OK, Summary: t.Instance + " in acme-dev/us-east1-b is RUNNING",
			Details: []string{"nic0 internal IP 10.20.0.9 (IAP connects to this address)"}})
	if f.fixed {
		r.Checks = append(r.Checks, doctor.Check{ID: doctor.CheckFirewall, Title: "Firewall", Mark: doctor.OK,
			Summary: "created firewall rule allow-ingress-from-iap in project acme-dev: IAP may now reach tcp:22"})
	} else {
		r.Checks = append(r.Checks, doctor.Check{ID: doctor.CheckFirewall, Title: "Firewall", Mark: doctor.Failed,
			Summary: "IAP (35.235.240.0/20) cannot reach tcp:22: no rule allows it",
			Fix:     "gcloud compute firewall-rules create allow-ingress-from-iap --network=default --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20 --target-tags=internal --project=acme-dev",
			Repair:  &doctor.Repair{Kind: doctor.RepairFirewallRule, Project: "acme-dev"}})
	}
	r.Checks = append(r.Checks,
		doctor.Check{ID: doctor.CheckIAP, Title: "IAP permission", Mark: doctor.OK, Summary: "granted"},
		doctor.Check{ID: doctor.CheckTransport, Title: "Transport", Mark: doctor.Skipped, Summary: "the firewall blocks the port"})
	r.CanConnect = f.fixed
	return r
}

func (f *fakeRunner) MayCreateFirewall(ctx context.Context, project string) (bool, error) {
	return f.may && project == "acme-dev", nil
}

func flag(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func init() {
	common.Tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		return func() tea.Msg { return heldTimer{msg: fn(fixedNow.Add(d))} }
	}
}

var noFirewall = projects.Instance{Project: "acme-dev", Zone: "us-east1-b", Name: "no-firewall", Status: "RUNNING", OS: projects.Linux}

func newPanel(run Runner, inst projects.Instance) *Model {
	c := paneltest.Common(100, 30, fixedNow, common.Backend{})
	m := New(c, run, inst)
	m.Init()
	return m
}

func press(m *Model, keys ...string) (seen []tea.Msg) {
	for _, k := range keys {
		s, _ := paneltest.Drive(m, paneltest.Key(k))
		seen = append(seen, s...)
	}
	return seen
}

func TestDefaultPortByOS(t *testing.T) {
	if p := newPanel(nil, noFirewall).Port(); p != 22 {
		t.Fatalf("Linux: %d", p)
	}
	win := noFirewall
	win.OS = projects.Windows
	if p := newPanel(nil, win).Port(); p != 3389 {
		t.Fatalf("Windows: %d", p)
	}
}

func TestRunShowsFailedChecksAndFixesFirewall(t *testing.T) {
	f := &fakeRunner{may: true}
	m := newPanel(f, noFirewall)
	press(m, "enter")
	if m.Running() || m.Report() == nil {
		t.Fatal("no report after the run")
	}
	view := ansi.Strip(m.View())
	for _, want := range []string{"[failed]", "Firewall", "cannot reach tcp:22", "fix: gcloud compute firewall-rules create allow-ingress-from-iap", "f create the firewall rule", "cannot work"} {
		if !strings.Contains(view, want) {
			t.Fatalf("report lacks %q:\n%s", want, view)
		}
	}
	// y copies the first failed check's fix.
	seen := press(m, "y")
	var copied string
	for _, msg := range seen {
		if c, ok := msg.(common.ClipboardCopiedMsg); ok {
			copied = c.Text
		}
	}
	if !strings.HasPrefix(copied, "gcloud compute firewall-rules create") {
		t.Fatalf("copied %q", copied)
	}
	// f asks first; n leaves everything as it was.
	press(m, "f")
	if !strings.Contains(ansi.Strip(m.View()), "Create a firewall rule in project acme-dev") {
		t.Fatalf("no confirmation:\n%s", ansi.Strip(m.View()))
	}
	press(m, "n")
	press(m, "f", "y")
	if got := strings.Join(f.calls, "; "); got != "no-firewall 22; no-firewall 22 fix" {
		t.Fatalf("runs: %s", got)
	}
	view = ansi.Strip(m.View())
	if !strings.Contains(view, "created firewall rule") || !strings.Contains(view, "No blocking problem") {
		t.Fatalf("after the fix:\n%s", view)
	}
	if fw, _ := m.Offers(); fw {
		t.Fatal("fix still offered")
	}
}

func TestFirewallFixNotOfferedWithoutPermission(t *testing.T) {
	f := &fakeRunner{may: false}
	m := newPanel(f, noFirewall)
	press(m, "enter", "f", "y")
	if len(f.calls) != 1 {
		t.Fatalf("f ran the fix without permission: %v", f.calls)
	}
	if view := ansi.Strip(m.View()); !strings.Contains(view, "you lack compute.firewalls.create") {
		t.Fatalf("no explanation:\n%s", view)
	}
}

func TestPortPromptValidatesAndCloses(t *testing.T) {
	m := newPanel(&fakeRunner{}, noFirewall)
	press(m, "backspace", "backspace", "backspace", "backspace", "backspace", "7", "0", "0", "0", "0", "enter")
	if m.Report() != nil || !strings.Contains(ansi.Strip(m.View()), "is not a port") {
		t.Fatalf("70000 accepted:\n%s", ansi.Strip(m.View()))
	}
	press(m, "backspace", "backspace", "enter")
	if m.Report() == nil || m.Port() != 700 {
		t.Fatalf("port %d", m.Port())
	}
	seen := press(m, "esc")
	closed := false
	for _, msg := range seen {
		if _, ok := msg.(panel.ClosedMsg); ok {
			closed = true
		}
	}
	if !closed {
		t.Fatal("esc did not close")
	}
}

func TestGoldenDiagnosePanel(t *testing.T) {
	m := New(paneltest.Common(100, 30, fixedNow, common.Backend{}), &fakeRunner{may: true}, noFirewall)
	screen := paneltest.Program(t, m, 100, 30, func(tm *teatest.TestModel, wait func(string)) {
		wait("Port to check")
		tm.Send(paneltest.Key("enter"))
		wait("create the firewall rule")
	})
	golden.RequireEqual(t, []byte(ansi.Strip(screen)+"\n"))
}

// stoppedRunner reports a TERMINATED VM until it is asked to start it.
type stoppedRunner struct{ starts int }

func (s *stoppedRunner) Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report {
	if start {
		s.starts++
	}
	c := doctor.Check{ID: doctor.CheckInstance, Title: "Instance", Mark: doctor.OK, Summary: t.Instance + " is RUNNING"}
	if s.starts == 0 {
		c = doctor.Check{ID: doctor.CheckInstance, Title: "Instance", Mark: doctor.Failed, Summary: t.Instance + " is TERMINATED, not RUNNING",
			Fix:    "gcloud compute instances start " + t.Instance + " --zone=" + t.Zone + " --project=" + t.Project + " (or iapterm doctor --start)",
			Repair: &doctor.Repair{Kind: doctor.RepairStart, Project: t.Project}}
	}
	return &doctor.Report{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port, Checks: []doctor.Check{c}, CanConnect: s.starts > 0}
}

func (s *stoppedRunner) MayCreateFirewall(ctx context.Context, project string) (bool, error) {
	return true, nil
}

func TestStartOfferedForStoppedVM(t *testing.T) {
	r := &stoppedRunner{}
	stopped := noFirewall
	stopped.Status = "TERMINATED"
	m := newPanel(r, stopped)
	press(m, "enter")
	if _, start := m.Offers(); !start || !strings.Contains(ansi.Strip(m.View()), "s start the VM") {
		t.Fatalf("start not offered:\n%s", ansi.Strip(m.View()))
	}
	press(m, "s")
	if !strings.Contains(ansi.Strip(m.View()), "Start no-firewall in acme-dev") {
		t.Fatalf("no confirmation:\n%s", ansi.Strip(m.View()))
	}
	press(m, "y")
	if r.starts != 1 || !m.Report().CanConnect {
		t.Fatalf("starts %d, report %+v", r.starts, m.Report())
	}
	if _, start := m.Offers(); start {
		t.Fatal("start still offered for a running VM")
	}
}

// On a 60-column screen the panel's text wraps instead of being cut: the
// introduction, and the questions with the y/n that answers them.
func TestNarrowScreenKeepsQuestionsWhole(t *testing.T) {
	narrow := func(run Runner, inst projects.Instance) *Model {
		m := New(paneltest.Common(60, 20, fixedNow, common.Backend{}), run, inst)
		m.Init()
		return m
	}
	check := func(m *Model, want string) {
		t.Helper()
		view := ansi.Strip(m.View())
		for _, l := range strings.Split(view, "\n") {
			if w := ansi.StringWidth(l); w > 60 {
				t.Errorf("line %d wide: %q", w, l)
			}
		}
		if !strings.Contains(strings.Join(strings.Fields(view), " "), want) {
			t.Errorf("%q is not shown whole:\n%s", want, view)
		}
	}
	m := narrow(&fakeRunner{may: true}, noFirewall)
	check(m, "The doctor checks credentials, the instance, firewall rules for IAP, your IAP permission and its conditions, SSH prerequisites (port 22) and a real tunnel.")
	press(m, "enter", "f")
	check(m, "Create a firewall rule in project acme-dev that lets 35.235.240.0/20 reach tcp:22? y/n")

	stopped := noFirewall
	stopped.Status = "TERMINATED"
	m = narrow(&stoppedRunner{}, stopped)
	press(m, "enter", "s")
	check(m, "Start no-firewall in acme-dev (us-east1-b) and check again? y/n")
}
