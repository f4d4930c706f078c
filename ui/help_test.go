package ui

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"iapterm/auth"
	"iapterm/projects"
)

// The full help, taller than a small screen, pages with pgdown/pgup
// (they closed it before) and home/end, and still closes on other keys.
func TestFullHelpPages(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	h.key("?")
	first := h.screen()
	if !strings.Contains(first, "scroll") {
		t.Fatalf("the help fits a 60x20 screen; the test needs it taller:\n%s", first)
	}
	h.key("pgdown")
	if h.m.overlay != overlayHelp {
		t.Fatal("pgdown closed the help")
	}
	paged := h.screen()
	if paged == first || h.m.helpOffset < 10 {
		t.Fatalf("pgdown did not page (offset %d):\n%s", h.m.helpOffset, paged)
	}
	h.key("pgup")
	if h.m.overlay != overlayHelp || h.m.helpOffset != 0 || h.screen() != first {
		t.Fatalf("pgup did not go back to the top (offset %d)", h.m.helpOffset)
	}
	h.send(keyMsg("G"))
	end := h.screen()
	h.key("pgdown")
	if h.screen() != end || h.m.overlay != overlayHelp {
		t.Error("pgdown past the end moved or closed the help")
	}
	h.send(keyMsg("g"))
	if h.screen() != first {
		t.Error("g did not go back to the top")
	}
	h.key("x")
	if h.m.overlay != overlayNone {
		t.Error("another key did not close the help")
	}
}

// An instance action pressed while a project or zone is selected says
// why nothing happened instead of doing nothing without a word.
func TestInstanceKeyOnProjectExplains(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.send(tea.WindowSizeMsg{Width: 60, Height: 20}) // the whole word fits
	for _, row := range []string{"p:acme-prod", "z:acme-prod/us-central1-b"} {
		h.selectRow(row)
		for _, k := range []string{"c", "p", "o"} {
			h.key(k)
			if h.m.overlay != overlayNone {
				t.Fatalf("%s on %s opened overlay %v", k, row, h.m.overlay)
			}
			if s := h.screen(); !strings.Contains(s, ": select an instance first") {
				t.Errorf("%s on %s: no word about it:\n%s", k, row, s)
			}
			h.key("esc")
		}
	}
}

// A project the search does not list (the account cannot read it, yet
// may tunnel to its VMs) is added by typing its ID; enter that adds
// nothing says why and keeps the picker open instead of closing as if it
// had added something.
func TestPickerAddsTypedIDAndExplainsNothingAdded(t *testing.T) {
	h := newHarness(t, Options{Projects: []string{"acme-prod"}})
	h.key("a")
	h.typeText("acme-prod")
	h.fire(func(tea.Msg) bool { return true })
	h.key("enter")
	if h.m.overlay != overlayPicker {
		t.Fatal("enter on a project already added closed the picker")
	}
	if s := h.screen(); !strings.Contains(s, "acme-prod is in the explorer already") {
		t.Errorf("no word about the project being there:\n%s", s)
	}
	for range "acme-prod" {
		h.key("backspace")
	}
	h.typeText("Not An ID!")
	h.fire(func(tea.Msg) bool { return true })
	h.key("enter")
	if h.m.overlay != overlayPicker || !strings.Contains(h.screen(), "Type a project ID") {
		t.Fatalf("enter on text that is no project ID:\n%s", h.screen())
	}
	for range "Not An ID!" {
		h.key("backspace")
	}
	h.typeText("hidden-proj-1")
	h.fire(func(tea.Msg) bool { return true })
	if s := h.screen(); !strings.Contains(s, "No projects match") || !strings.Contains(s, "enter adds hidden-proj-1") {
		t.Fatalf("no offer to add the typed ID:\n%s", s)
	}
	h.key("enter")
	if h.m.overlay != overlayNone {
		t.Fatal("enter did not add the typed ID")
	}
	if got := h.m.Explorer().Projects(); !slices.Contains(got, "hidden-proj-1") {
		t.Fatalf("projects %v", got)
	}
}

// The hint under a project that did not load fits why: the network, the
// sign-in, a missing role or an unknown project.
func TestProjectLoadHintFitsTheError(t *testing.T) {
	dial := &url.Error{Op: "Get", URL: "http://127.0.0.1:9/compute/v1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		{fmt.Errorf("project p: cannot reach http://127.0.0.1:9: %w", dial.Err), "Check the network", "Compute Viewer"},
		{&projects.Error{Code: http.StatusForbidden}, "Compute Viewer", "network"},
		{&projects.Error{Code: http.StatusNotFound}, "project ID", "network"},
		{&projects.Error{Code: http.StatusUnauthorized}, "iapterm auth login", "Compute Viewer"},
		{fmt.Errorf("project p: %w", auth.ErrNotSignedIn), "iapterm auth login", "Compute Viewer"},
		{os.ErrPermission, "Compute Viewer", "network"},
	} {
		fake := newFake(loadFixture(t))
		fake.loadErr["data-lab"] = tc.err
		h := newHarness(t, Options{Projects: demoProjects, Backend: fake.backend()})
		e, ok := h.m.errs.Current()
		if !ok || !strings.Contains(e.Hint, tc.want) || strings.Contains(e.Hint, tc.not) {
			t.Errorf("%v: hint %q, want %q and not %q", tc.err, e.Hint, tc.want, tc.not)
		}
	}
}

// Credentials whose account could not be read (an access token from the
// environment) are not reported as "not signed in".
func TestStatusBarAccountUnknown(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.m.opts.Account, h.m.opts.AccountSource = "", "IAPTERM_ACCESS_TOKEN"
	if s := h.screen(); strings.Contains(s, "not signed in") || !strings.Contains(s, "account unknown (IAPTERM_ACCESS_TOKEN)") {
		t.Errorf("status bar:\n%s", s)
	}
	h.m.opts.AccountSource = ""
	if s := h.screen(); !strings.Contains(s, "not signed in") {
		t.Errorf("no credentials at all:\n%s", s)
	}
}

// While filtering, the help line shows the example terms that fit the
// screen instead of a list cut in the middle of a term.
func TestFilterHelpTermsFit(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	for _, w := range []int{80, 100, 140} {
		h.send(tea.WindowSizeMsg{Width: w, Height: 24})
		h.key("/")
		lines := strings.Split(h.screen(), "\n")
		last := strings.TrimRight(lines[len(lines)-1], " ")
		if !strings.Contains(last, "terms: name env:prod") || strings.HasSuffix(last, "…") {
			t.Errorf("%d columns: help line %q", w, last)
		}
		h.key("esc")
	}
}

// The "tunnel to port" form closes when it is sent; if the tunnel then
// fails (here: nothing on port 9), opening the form again for the same
// VM offers the ports asked for, to correct rather than type again.
func TestPortFormOffersLastPorts(t *testing.T) {
	h := newHarness(t, Options{Projects: demoProjects})
	h.selectRow("i:acme-prod/us-central1-b/db-1")
	h.key("p")
	h.typeText("9")
	h.key("tab")
	h.typeText("15432")
	h.key("enter")
	if _, ok := h.m.errs.Current(); !ok {
		t.Fatal("the tunnel to port 9 did not fail")
	}
	h.key("esc")
	h.key("p")
	if s := h.screen(); !strings.Contains(s, "Remote port: 9") || !strings.Contains(s, "Local port:  15432") {
		t.Fatalf("the form does not offer the last ports:\n%s", s)
	}
	h.key("esc")
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("p")
	if s := h.screen(); strings.Contains(s, "15432") {
		t.Fatalf("another VM's form offers db-1's ports:\n%s", s)
	}
}
