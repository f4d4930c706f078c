package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/rdpdialog"
)

// fakeRDP is a launcher whose clients run until the test ends them; a
// launch holds a tunnel in the fake pool and exiting releases it, as
// rdp.PoolForwarder does.
type fakeRDP struct {
	f        *fakeBackend
	mu       sync.Mutex
	launches []common.RDPRequest
	exits    []func(error)
	// exitAtOnce makes clients exit as soon as they start.
	exitAtOnce bool
	launchErr  error

	progress []string
	password string
	genErr   error
	// block makes GenerateCredentials wait for its context after the
	// first step; genCtxErr records how it ended.
	block     bool
	genCtxErr chan error
	gens      []string
	saved     []string
}

func (r *fakeRDP) Launch(ctx context.Context, inst projects.Instance, req common.RDPRequest) (common.RDPSession, error) {
	if r.launchErr != nil {
		return common.RDPSession{}, r.launchErr
	}
	info, err := r.f.Open(ctx, common.TunnelTarget{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Port: 3389}, 0)
	if err != nil {
		return common.RDPSession{}, err
	}
	done := make(chan struct{})
	var exitErr error
	exit := func(err error) {
		exitErr = err
		r.f.Close(info.Key)
		close(done)
	}
	r.mu.Lock()
	r.launches = append(r.launches, req)
	r.exits = append(r.exits, exit)
	r.mu.Unlock()
	if r.exitAtOnce {
		exit(nil)
	}
	return common.RDPSession{Client: "xfreerdp 2.11.7 (FreeRDP 2)", Addr: info.LocalAddr, PID: 4242, Note: "no password saved for dev", Done: done, Err: func() error { <-done; return exitErr }}, nil
}

func (r *fakeRDP) DefaultUser(inst projects.Instance) (string, string) { return "dev", "" }

func (r *fakeRDP) GenerateCredentials(ctx context.Context, inst projects.Instance, user string, admin bool, progress func(string)) (string, error) {
	r.mu.Lock()
	r.gens = append(r.gens, fmt.Sprintf("%s %s admin=%v", inst.Name, user, admin))
	r.mu.Unlock()
	for _, p := range r.progress {
		progress(p)
		if r.block {
			<-ctx.Done()
			r.genCtxErr <- ctx.Err()
			return "", ctx.Err()
		}
	}
	return r.password, r.genErr
}

func (r *fakeRDP) SavePassword(inst projects.Instance, user, password string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = append(r.saved, inst.Name+" "+user+" "+password)
	return nil
}

func newRDPHarness(t *testing.T) (*harness, *fakeRDP) {
	t.Helper()
	fake := newFake(loadFixture(t))
	r := &fakeRDP{f: fake, progress: []string{"Publishing a new key", "Waiting for the guest agent"}, password: "S3cret-pw!", genCtxErr: make(chan error, 1)}
	be := fake.backend()
	be.RDP = r
	h := newHarness(t, Options{Projects: demoProjects, Backend: be})
	h.fake = fake
	return h, r
}

// exec1 runs one command and returns its only message.
func exec1(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	return cmd()
}

func TestRDPEnterLaunchesDetached(t *testing.T) {
	h, r := newRDPHarness(t)
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	_, cmd := h.m.Update(keyMsg("enter"))
	msg := exec1(t, cmd)
	started, ok := msg.(rdpdialog.StartedMsg)
	if !ok {
		// tea.Exec would hand the terminal over and block the UI.
		t.Fatalf("enter on a Windows VM gave %T, want rdpdialog.StartedMsg", msg)
	}
	_, wait := h.m.Update(started)
	if wait == nil {
		t.Fatal("no command waiting for the client's exit")
	}
	if !strings.Contains(h.m.notice, "xfreerdp") || !strings.Contains(h.m.notice, "127.0.0.1:40000") || !strings.Contains(h.m.notice, "no password saved for dev") {
		t.Fatalf("notice %q", h.m.notice)
	}
	if !strings.Contains(h.screen(), "●") {
		t.Fatal("the session is not marked open in the tree")
	}
	if len(h.fake.List()) != 1 {
		t.Fatalf("tunnels %v", h.fake.List())
	}
	// The UI stays usable while the client runs.
	h.key("up")
	if r, _ := h.m.Explorer().Selected(); r.Key() == "i:acme-prod/europe-west1-b/win-jump" {
		t.Fatal("navigation did not move while the client runs")
	}
	// The client exits: its tunnel is released and the status says so.
	r.exits[0](nil)
	h.send(exec1(t, wait))
	if len(h.fake.List()) != 0 {
		t.Fatalf("tunnel still open after the client exited: %v", h.fake.List())
	}
	if !strings.Contains(h.m.notice, "RDP to win-jump ended") || h.m.noticeErr {
		t.Fatalf("notice %q (error %v)", h.m.notice, h.m.noticeErr)
	}
	if strings.Contains(h.screen(), "●") {
		t.Fatal("the session is still marked open")
	}
	if len(r.launches) != 1 || r.launches[0] != (common.RDPRequest{}) {
		t.Fatalf("launches %+v", r.launches)
	}
}

func TestRDPVAndExitError(t *testing.T) {
	h, r := newRDPHarness(t)
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	_, cmd := h.m.Update(keyMsg("v"))
	started, ok := exec1(t, cmd).(rdpdialog.StartedMsg)
	if !ok {
		t.Fatal("v did not launch the client")
	}
	_, wait := h.m.Update(started)
	r.exits[0](&rdp.ExitError{Code: 131})
	h.send(exec1(t, wait))
	if !strings.Contains(h.m.notice, "ended") || !strings.Contains(h.m.notice, "131") || !h.m.noticeErr {
		t.Fatalf("notice %q", h.m.notice)
	}
	// v on Linux says why not.
	h.selectRow("i:acme-prod/us-central1-a/web-1")
	h.key("v")
	if !strings.Contains(h.m.notice, "not a Windows VM") {
		t.Fatalf("notice %q", h.m.notice)
	}
}

func TestRDPMissingClientShowsError(t *testing.T) {
	h, r := newRDPHarness(t)
	r.launchErr = fmt.Errorf("%w: install freerdp2-x11", rdp.ErrNoClient)
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("enter")
	if !h.m.errs.Visible() {
		t.Fatal("no error panel")
	}
	s := h.screen()
	if !strings.Contains(s, "freerdp2-x11") || !strings.Contains(s, "rdp.client") {
		t.Fatalf("error panel does not say what to install:\n%s", s)
	}
}

func TestRDPConnectAsUser(t *testing.T) {
	h, r := newRDPHarness(t)
	r.exitAtOnce = true
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("V")
	if h.m.overlay != overlayPanel || !strings.Contains(h.screen(), "Connect to win-jump as user") {
		t.Fatalf("no dialog:\n%s", h.screen())
	}
	if !strings.Contains(h.screen(), "Username: dev") {
		t.Fatalf("username not prefilled:\n%s", h.screen())
	}
	h.key("backspace", "backspace", "backspace")
	h.typeText("bad/name")
	h.key("enter")
	if len(r.launches) != 0 || !strings.Contains(h.screen(), "Username:") || h.m.overlay != overlayPanel {
		t.Fatal("an invalid username was accepted")
	}
	if !strings.Contains(h.screen(), `"/\[]:;|=,+*?<>`) && !strings.Contains(strings.ToLower(h.screen()), "character") {
		t.Fatalf("no validation message:\n%s", h.screen())
	}
	for range len("bad/name") {
		h.key("backspace")
	}
	h.typeText(`CORP\alice`)
	h.key("enter")
	if h.m.overlay != overlayNone {
		t.Fatal("the dialog did not close")
	}
	if len(r.launches) != 1 || r.launches[0].Username != "alice" || r.launches[0].Domain != "CORP" {
		t.Fatalf("launches %+v", r.launches)
	}
	if !strings.Contains(h.m.notice, "ended") {
		t.Fatalf("notice %q", h.m.notice)
	}
	// esc cancels without launching.
	h.key("V", "esc")
	if h.m.overlay != overlayNone || len(r.launches) != 1 {
		t.Fatal("esc did not cancel")
	}
}

// credsPanel returns the credentials panel the root shows.
func credsPanel(t *testing.T, h *harness) *rdpdialog.CredsPanel {
	t.Helper()
	p, ok := h.m.pnl.(*rdpdialog.CredsPanel)
	if !ok || h.m.overlay != overlayPanel {
		t.Fatalf("the credentials panel is not open (%T)", h.m.pnl)
	}
	return p
}

func TestRDPGenerateCredentialsFlow(t *testing.T) {
	h, r := newRDPHarness(t)
	r.exitAtOnce = true
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("w")
	p := credsPanel(t, h)
	h.key("backspace", "backspace", "backspace")
	h.typeText("a:b")
	h.key("enter")
	if p.Step() != rdpdialog.StepForm {
		t.Fatal("an invalid username was accepted")
	}
	h.key("backspace", "backspace", "backspace")
	h.typeText("alice")
	h.key("tab", "space", "enter")
	if p.Step() != rdpdialog.StepConfirm || !strings.Contains(h.screen(), "RESETS ITS") || !strings.Contains(h.screen(), "Administrators") {
		t.Fatalf("no confirmation:\n%s", h.screen())
	}
	// n goes back to the form; nothing was generated.
	h.key("n")
	if p.Step() != rdpdialog.StepForm || len(r.gens) != 0 {
		t.Fatal("n did not go back")
	}
	// enter (the form's continue, pressed twice) takes the default, Back:
	// resetting a password loses data, only y does it.
	h.key("enter", "enter")
	if p.Step() != rdpdialog.StepForm || len(r.gens) != 0 {
		t.Fatalf("enter at the confirmation: step %v, generated %v", p.Step(), r.gens)
	}
	h.key("enter", "y")
	if p.Step() != rdpdialog.StepResult {
		t.Fatalf("step %v:\n%s", p.Step(), h.screen())
	}
	if len(r.gens) != 1 || r.gens[0] != "win-jump alice admin=true" {
		t.Fatalf("generated %v", r.gens)
	}
	s := h.screen()
	if !strings.Contains(s, "S3cret-pw!") || !strings.Contains(s, "shown once") {
		t.Fatalf("password panel:\n%s", s)
	}
	// The password never reaches the status line or the log of messages
	// as anything but the clipboard request.
	h.key("c")
	var clip bool
	for _, m := range h.seen {
		if fmt.Sprintf("%T", m) == "tea.setClipboardMsg" && fmt.Sprint(m) == "S3cret-pw!" {
			clip = true
		}
	}
	if !clip || strings.Contains(h.m.notice, "S3cret") {
		t.Fatalf("copy: clipboard %v, notice %q", clip, h.m.notice)
	}
	if len(r.saved) != 0 {
		t.Fatal("saved without being asked")
	}
	h.key("s")
	if len(r.saved) != 1 || r.saved[0] != "win-jump alice S3cret-pw!" || !strings.Contains(h.screen(), "Saved in the OS keyring") {
		t.Fatalf("saved %v\n%s", r.saved, h.screen())
	}
	// Connect now launches with the new password, and the panel forgets it.
	h.key("enter")
	if h.m.overlay != overlayNone {
		t.Fatal("the panel did not close")
	}
	if len(r.launches) != 1 || r.launches[0] != (common.RDPRequest{Username: "alice", Password: "S3cret-pw!"}) {
		t.Fatalf("launches %+v", r.launches)
	}
	if strings.Contains(p.View(), "S3cret") || strings.Contains(h.screen(), "S3cret") {
		t.Fatal("the password is still in the model after the panel closed")
	}
}

func TestRDPGenerateCredentialsCancel(t *testing.T) {
	h, r := newRDPHarness(t)
	r.block = true
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("w", "enter")
	p := credsPanel(t, h)
	if p.Step() != rdpdialog.StepConfirm {
		t.Fatalf("step %v", p.Step())
	}
	// Start the run by hand: the harness would wait for it to finish.
	_, cmd := h.m.Update(keyMsg("y"))
	if p.Step() != rdpdialog.StepRunning || cmd == nil {
		t.Fatalf("step %v", p.Step())
	}
	// The first step arrives and shows with the spinner.
	batch, ok := cmd().(tea.BatchMsg)
	if !ok || len(batch) == 0 {
		t.Fatal("the run did not return its commands")
	}
	// Update, not send: the harness would run the wait for the next step.
	h.m.Update(batch[0]())
	if !strings.Contains(h.screen(), "Publishing a new key...") {
		t.Fatalf("no progress:\n%s", h.screen())
	}
	h.key("esc")
	if h.m.overlay != overlayNone || !strings.Contains(h.m.notice, "cancelled") {
		t.Fatalf("overlay %v notice %q", h.m.overlay, h.m.notice)
	}
	if err := <-r.genCtxErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the generation was not cancelled: %v", err)
	}
}

func TestRDPGenerateCredentialsError(t *testing.T) {
	h, r := newRDPHarness(t)
	r.genErr = &rdp.AgentError{Username: "dev", Message: "user is locked"}
	h.selectRow("i:acme-prod/europe-west1-b/win-jump")
	h.key("w", "enter", "y")
	p := credsPanel(t, h)
	if p.Step() != rdpdialog.StepForm || !strings.Contains(h.screen(), "user is locked") {
		t.Fatalf("step %v:\n%s", p.Step(), h.screen())
	}
	h.key("esc")
	if h.m.overlay != overlayNone {
		t.Fatal("esc did not close")
	}
}

var _ panel.Panel = (*rdpdialog.CredsPanel)(nil)
