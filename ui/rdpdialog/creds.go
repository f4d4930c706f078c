package rdpdialog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// Step is where the credentials flow is.
type Step int

const (
	StepForm    Step = iota // username and "add to administrators"
	StepConfirm             // the reset warning
	StepRunning             // waiting for the guest agent
	StepResult              // the password, shown once
)

// Messages of one generation run; id ties them to the run so a cancelled
// run's late answer is ignored.
type (
	progressMsg struct {
		id   int
		text string
	}
	resultMsg struct {
		id       int
		password string
		err      error
	}
	tickMsg  struct{ id int }
	savedMsg struct{ err error }
)

var (
	keyToggle = key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle"))
	// Resetting a password loses data: only y does it; enter (the form's
	// "continue", easily pressed twice) takes the default, Back.
	keyYes     = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "reset the password"))
	keyNo      = key.NewBinding(key.WithKeys("n", "esc", "enter"), key.WithHelp("n/enter", "back"))
	keyCopy    = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy"))
	keySave    = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save in keyring"))
	keyConnect = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect now"))
	keyClose   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close"))
)

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
var spinFramesASCII = []string{"|", "/", "-", "\\"}

// CredsPanel is "Generate Windows credentials...": a username and the
// administrators toggle, a confirmation (it resets that account's
// password), the guest-agent exchange with its steps, and the password
// shown once with copy, save and connect. The password is dropped when the
// panel closes; it is never logged.
type CredsPanel struct {
	c     *common.Common
	inst  projects.Instance
	step  Step
	user  textinput.Model
	admin bool
	focus int
	err   string
	w, h  int

	run      int
	cancel   context.CancelFunc
	events   chan tea.Msg
	progress []string
	frame    int

	username string
	password string
	copied   bool
	saved    string
}

// NewCredsPanel builds the flow for inst, with the username prefilled
// from the settings or the account.
func NewCredsPanel(c *common.Common, inst projects.Instance) *CredsPanel {
	u := common.NewInput("Username: ", "Windows account")
	u.CharLimit = 20
	u.SetWidth(u.CharLimit)
	if b := c.Backend.RDP; b != nil {
		user, _ := b.DefaultUser(inst)
		u.SetValue(user)
	}
	return &CredsPanel{c: c, inst: inst, user: u}
}

// Step reports where the flow is (tests).
func (p *CredsPanel) Step() Step { return p.step }

// Init focuses the username.
func (p *CredsPanel) Init() tea.Cmd { return p.user.Focus() }

// SetSize implements panel.Panel.
func (p *CredsPanel) SetSize(w, h int) { p.w, p.h = w, h }

// ShortHelp implements panel.Panel.
func (p *CredsPanel) ShortHelp() []key.Binding {
	switch p.step {
	case StepConfirm:
		return []key.Binding{keyYes, keyNo}
	case StepRunning:
		return []key.Binding{keyCancel}
	case StepResult:
		return []key.Binding{keyCopy, keySave, keyConnect, keyClose}
	}
	return []key.Binding{keyNext, keyToggle, keyAccept, keyCancel}
}

// Update implements panel.Panel.
func (p *CredsPanel) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case progressMsg:
		if msg.id != p.run || p.step != StepRunning {
			return nil
		}
		p.progress = append(p.progress, msg.text)
		return p.next()
	case resultMsg:
		if msg.id != p.run || p.step != StepRunning {
			return nil
		}
		p.stop()
		if msg.err != nil {
			p.step, p.err = StepForm, msg.err.Error()
			return p.user.Focus()
		}
		p.step, p.password = StepResult, msg.password
		return nil
	case tickMsg:
		if msg.id != p.run || p.step != StepRunning {
			return nil
		}
		p.frame++
		return p.tick()
	case savedMsg:
		if msg.err != nil {
			p.saved = "Not saved: " + msg.err.Error()
		} else {
			p.saved = "Saved in the OS keyring: enter and v on this VM use it for " + p.username + "."
		}
		return nil
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

func (p *CredsPanel) key(k tea.KeyPressMsg) tea.Cmd {
	switch p.step {
	case StepConfirm:
		switch {
		case key.Matches(k, keyYes):
			return p.start()
		case key.Matches(k, keyNo):
			p.step = StepForm
			return p.user.Focus()
		}
		return nil
	case StepRunning:
		if key.Matches(k, keyCancel) {
			p.stop()
			return panel.Close(info("Generating Windows credentials for " + p.inst.Name + " cancelled"))
		}
		return nil
	case StepResult:
		switch {
		case key.Matches(k, keyCopy):
			p.copied = true
			return tea.SetClipboard(p.password)
		case key.Matches(k, keySave):
			b, inst, user, pw := p.c.Backend.RDP, p.inst, p.username, p.password
			p.saved = "Saving..."
			return func() tea.Msg { return savedMsg{err: b.SavePassword(inst, user, pw)} }
		case key.Matches(k, keyConnect):
			cmd := Launch(p.c, p.inst, common.RDPRequest{Username: p.username, Password: p.password})
			p.forget()
			return panel.Close(cmd)
		case key.Matches(k, keyClose):
			p.forget()
			return panel.Close(nil)
		}
		return nil
	}
	// The form.
	switch {
	case key.Matches(k, keyCancel):
		return panel.Close(nil)
	case key.Matches(k, keyNext):
		p.focus = 1 - p.focus
		if p.focus == 0 {
			return p.user.Focus()
		}
		p.user.Blur()
		return nil
	case p.focus == 1 && key.Matches(k, keyToggle):
		p.admin = !p.admin
		return nil
	case key.Matches(k, keyAccept):
		user := strings.TrimSpace(p.user.Value())
		if err := rdp.ValidateUsername(user); err != nil {
			p.err = "Username: " + err.Error()
			return nil
		}
		if p.c.Backend.RDP == nil {
			p.err = "Generating credentials is not available in this session."
			return nil
		}
		p.username, p.err, p.step = user, "", StepConfirm
		p.user.Blur()
		return nil
	}
	if p.focus != 0 {
		return nil
	}
	var cmd tea.Cmd
	p.user, cmd = p.user.Update(k)
	p.err = ""
	return cmd
}

// start runs the guest-agent exchange in the background; its steps and
// result come back through events.
func (p *CredsPanel) start() tea.Cmd {
	p.run++
	p.step, p.progress, p.frame, p.err = StepRunning, nil, 0, ""
	ctx, cancel := context.WithCancel(p.c.Ctx)
	p.cancel = cancel
	events := make(chan tea.Msg, 16)
	p.events = events
	b, inst, user, admin, id := p.c.Backend.RDP, p.inst, p.username, p.admin, p.run
	go func() {
		send := func(m tea.Msg) {
			select {
			case events <- m:
			case <-ctx.Done():
			}
		}
		pw, err := b.GenerateCredentials(ctx, inst, user, admin, func(s string) { send(progressMsg{id: id, text: s}) })
		send(resultMsg{id: id, password: pw, err: err})
	}()
	return tea.Batch(p.next(), p.tick())
}

// next waits for the run's next event.
func (p *CredsPanel) next() tea.Cmd {
	events := p.events
	return func() tea.Msg { return <-events }
}

func (p *CredsPanel) tick() tea.Cmd {
	id := p.run
	return common.After(120*time.Millisecond, func(time.Time) tea.Msg { return tickMsg{id: id} })
}

func (p *CredsPanel) stop() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// forget drops the password from the model.
func (p *CredsPanel) forget() {
	p.password = ""
	p.step = StepForm
}

func info(text string) tea.Cmd {
	return func() tea.Msg { return common.InfoShownMsg{Text: text} }
}

// View implements panel.Panel.
func (p *CredsPanel) View() string {
	st := p.c.Styles
	w := dialogWidth(p.w)
	wrap := lipgloss.NewStyle().Width(w)
	lines := []string{
		st.DialogTitle.Width(w).Render("Windows credentials for " + p.inst.Name),
		st.Dim.Width(w).Render(p.inst.Project + " · " + p.inst.Zone),
		"",
	}
	switch p.step {
	case StepForm:
		box := "[ ]"
		if p.admin {
			box = "[x]"
		}
		toggle := box + " Add to Administrators"
		if p.focus == 1 {
			toggle = st.ButtonActive.Render(toggle)
		}
		lines = append(lines, p.user.View(), toggle, "")
		if p.err != "" {
			lines = append(lines, st.Error.Width(w).Render(p.err), "")
		}
		lines = append(lines, st.Dim.Width(w).Render("tab next field · space toggle · enter continue · esc cancel"))
	case StepConfirm:
		what := "a standard user"
		if p.admin {
			what = "a member of Administrators"
		}
		lines = append(lines,
			wrap.Render(fmt.Sprintf("This creates the Windows account %q on %s as %s if it does not exist, or RESETS ITS PASSWORD if it does.", p.username, p.inst.Name, what)),
			"",
			wrap.Render("Data Windows encrypted with the old password (EFS files, saved credentials) becomes unreadable."),
			"",
			st.Button.Render("Reset password (y)")+"  "+st.ButtonActive.Render("Back (n)"))
	case StepRunning:
		frames := spinFrames
		if p.c.ASCII {
			frames = spinFramesASCII
		}
		cur := "Starting"
		done := p.progress
		if n := len(p.progress); n > 0 {
			cur, done = p.progress[n-1], p.progress[:n-1]
		}
		for _, s := range done {
			lines = append(lines, st.Dim.Render("  "+s))
		}
		lines = append(lines, st.Info.Render(frames[p.frame%len(frames)])+" "+cur+"...", "",
			st.Dim.Width(w).Render("The guest agent answers within a minute on a running VM. esc cancels."))
	case StepResult:
		lines = append(lines,
			"Username: "+p.username,
			"Password: "+st.Key.Render(p.password),
			"",
			wrap.Render(st.Warning.Render("This password is shown once: copy it or save it now.")))
		if p.copied {
			lines = append(lines, st.Info.Width(w).Render("Sent to the terminal clipboard (OSC 52); terminals without OSC 52 ignore it."))
		}
		if p.saved != "" {
			lines = append(lines, wrap.Render(p.saved))
		}
		lines = append(lines, "", st.Dim.Width(w).Render("c copy · s save in keyring · enter connect now · esc close"))
	}
	return center(p.w, p.h, st.Dialog.Render(strings.Join(lines, "\n")))
}
