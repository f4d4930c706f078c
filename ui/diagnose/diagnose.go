// Package diagnose is the doctor's panel in the TUI: it asks for the port,
// runs iapterm's doctor in the background with a spinner, shows every
// check with its mark, details and fix in a scrollable report, and offers
// the repairs the doctor can make itself (create the firewall rule for
// IAP, start the VM) after a confirmation.
package diagnose

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/doctor"
	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// Runner runs the doctor; common.Diagnoser satisfies it.
type Runner interface {
	// Diagnose runs every check. fix creates the missing firewall rule;
	// start starts (or resumes) a stopped VM first.
	Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report
	// MayCreateFirewall reports whether the user may create firewall rules
	// in project.
	MayCreateFirewall(ctx context.Context, project string) (bool, error)
}

type state int

const (
	statePort state = iota
	stateRunning
	stateReport
)

// Messages private to the panel.
type (
	doneMsg struct {
		gen    int
		report *doctor.Report
		offer  offer
	}
	tickMsg struct{ gen int }
)

// offer is what the panel can repair, decided after a run.
type offer struct {
	firewall        bool   // the doctor's rule may be created
	firewallProject string // the network's project
	firewallWhy     string // why it is not offered, when a rule is missing
	start           bool
}

// Model is the panel.
type Model struct {
	c      *common.Common
	KeyMap KeyMap
	run    Runner
	inst   projects.Instance
	state  state
	port   int
	input  textinput.Model
	err    string
	report *doctor.Report
	offer  offer
	vp     viewport.Model
	gen    int
	frame  int
	cancel context.CancelFunc
	// asking is the pending confirmation: "firewall" or "start".
	asking  string
	running string // what the spinner line says
}

// New opens the panel for inst with the default port of its OS.
func New(c *common.Common, run Runner, inst projects.Instance) *Model {
	port := 22
	if inst.OS == projects.Windows {
		port = 3389
	}
	in := common.NewInput("Port to check: ", "1-65535")
	in.CharLimit = 5
	in.SetWidth(10)
	in.SetValue(fmt.Sprint(port))
	in.CursorEnd()
	return &Model{c: c, KeyMap: DefaultKeyMap(), run: run, inst: inst, port: port, input: in, vp: viewport.New()}
}

// Init focuses the port field.
func (m *Model) Init() tea.Cmd { return m.input.Focus() }

// SetSize implements panel.Panel.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	if m.report != nil {
		m.vp.SetContent(m.reportText()) // wrapped to the new width
	}
}

// Report is the last report (nil before the first run).
func (m *Model) Report() *doctor.Report { return m.report }

// Running reports whether the doctor is running.
func (m *Model) Running() bool { return m.state == stateRunning }

// Port is the port being diagnosed.
func (m *Model) Port() int { return m.port }

// Offers says which repairs are offered.
func (m *Model) Offers() (firewall, start bool) { return m.offer.firewall, m.offer.start }

func (m *Model) start(fix, start bool, what string) tea.Cmd {
	if m.run == nil {
		m.err = "the doctor is not available in this session; run iapterm doctor " + m.inst.Name + " --project " + m.inst.Project + " in a shell"
		m.state = statePort
		return nil
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
	m.state, m.err, m.asking, m.running = stateRunning, "", "", what
	ctx, cancel := context.WithCancel(m.c.Ctx)
	m.cancel = cancel
	gen, run, t := m.gen, m.run, doctor.Target{Project: m.inst.Project, Zone: m.inst.Zone, Instance: m.inst.Name, Port: m.port}
	work := func() tea.Msg {
		rep := run.Diagnose(ctx, t, fix, start)
		return doneMsg{gen: gen, report: rep, offer: offers(ctx, run, rep)}
	}
	return tea.Batch(work, m.tick())
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return common.After(120*time.Millisecond, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

// offers decides which repairs to propose for rep.
func offers(ctx context.Context, run Runner, rep *doctor.Report) offer {
	var o offer
	var rule *doctor.Repair
	for _, c := range rep.Checks {
		if c.Mark != doctor.Failed || c.Repair == nil {
			continue
		}
		switch c.Repair.Kind {
		case doctor.RepairStart, doctor.RepairResume:
			o.start = true
		case doctor.RepairFirewallRule:
			rule = c.Repair
		}
	}
	if rule == nil {
		return o
	}
	o.firewallProject = rule.Project
	ok, err := run.MayCreateFirewall(ctx, o.firewallProject)
	switch {
	case err != nil:
		o.firewallWhy = "cannot tell whether you may create firewall rules in " + o.firewallProject + ": " + err.Error()
	case !ok:
		o.firewallWhy = "you lack compute.firewalls.create in project " + o.firewallProject + " (roles/compute.securityAdmin grants it): ask an administrator to run the fix above"
	default:
		o.firewall = true
	}
	return o
}

// Update implements panel.Panel.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case doneMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.state, m.report, m.offer = stateReport, msg.report, msg.offer
		m.cancel = nil
		m.vp.SetContent(m.reportText())
		m.vp.GotoTop()
		return nil
	case tickMsg:
		if msg.gen != m.gen || m.state != stateRunning {
			return nil
		}
		m.frame++
		return m.tick()
	case tea.MouseWheelMsg:
		var cmd tea.Cmd
		m.vp, cmd = m.vp.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.state == statePort {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	return nil
}

func (m *Model) close() tea.Cmd {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
	return panel.Close(nil)
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	km := m.KeyMap
	switch m.state {
	case statePort:
		switch {
		case k.String() == "esc":
			if m.report != nil {
				m.state = stateReport
				return nil
			}
			return m.close()
		case key.Matches(k, km.Run):
			n, err := parsePort(m.input.Value())
			if err != nil {
				m.err = err.Error()
				return nil
			}
			m.port = n
			m.input.Blur()
			return m.start(false, false, fmt.Sprintf("Checking port %d of %s…", n, m.inst.Name))
		}
		if t := k.Text; t != "" && strings.Trim(t, "0123456789") != "" {
			return nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(k)
		m.err = ""
		return cmd
	case stateRunning:
		if key.Matches(k, km.Close) {
			return m.close()
		}
		return nil
	}
	if m.asking != "" {
		switch {
		case key.Matches(k, km.Yes):
			what := m.asking
			m.asking = ""
			if what == "firewall" {
				return m.start(true, false, "Creating the firewall rule and checking again…")
			}
			return m.start(false, true, "Starting "+m.inst.Name+" and checking again…")
		case key.Matches(k, km.No):
			m.asking = ""
		}
		return nil
	}
	switch {
	case key.Matches(k, km.Close):
		return m.close()
	case key.Matches(k, km.Again):
		return m.start(false, false, fmt.Sprintf("Checking port %d of %s again…", m.port, m.inst.Name))
	case key.Matches(k, km.Port):
		m.state = statePort
		return m.input.Focus()
	case key.Matches(k, km.FixFirewall):
		if m.offer.firewall {
			m.asking = "firewall"
		}
	case key.Matches(k, km.Start):
		if m.offer.start {
			m.asking = "start"
		}
	case key.Matches(k, km.Copy):
		if fix := m.firstFix(); fix != "" {
			return func() tea.Msg { return common.ClipboardCopiedMsg{Label: "fix", Text: fix} }
		}
	case key.Matches(k, km.Up):
		m.vp.ScrollUp(1)
	case key.Matches(k, km.Down):
		m.vp.ScrollDown(1)
	case key.Matches(k, km.PageUp):
		m.vp.PageUp()
	case key.Matches(k, km.PageDown):
		m.vp.PageDown()
	case key.Matches(k, km.Top):
		m.vp.GotoTop()
	case key.Matches(k, km.End):
		m.vp.GotoBottom()
	}
	return nil
}

func (m *Model) firstFix() string {
	if m.report == nil {
		return ""
	}
	for _, c := range m.report.Checks {
		if c.Mark == doctor.Failed && c.Fix != "" {
			return c.Fix
		}
	}
	return ""
}

func parsePort(s string) (int, error) {
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port: enter a number from 1 to 65535", strings.TrimSpace(s))
	}
	return n, nil
}

// ShortHelp implements panel.Panel.
func (m *Model) ShortHelp() []key.Binding {
	km := m.KeyMap
	switch {
	case m.state == statePort:
		return []key.Binding{km.Run, key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
	case m.state == stateRunning:
		return []key.Binding{km.Close}
	case m.asking != "":
		return []key.Binding{km.Yes, km.No}
	}
	out := []key.Binding{km.Down, km.Up}
	if m.offer.firewall {
		out = append(out, km.FixFirewall)
	}
	if m.offer.start {
		out = append(out, km.Start)
	}
	if m.firstFix() != "" {
		out = append(out, km.Copy)
	}
	return append(out, km.Again, km.Port, km.Close)
}

func (m *Model) markStyle(mark doctor.Mark) lipgloss.Style {
	st := m.c.Styles
	switch mark {
	case doctor.OK:
		return st.Running
	case doctor.Warning:
		return st.Warning
	case doctor.Failed:
		return st.Error.Bold(true)
	}
	return st.Dim
}

// reportText is the report as the viewport shows it, wrapped to the width.
func (m *Model) reportText() string {
	st := m.c.Styles
	r := m.report
	w := max(m.c.Width, 40)
	indent := strings.Repeat(" ", 12)
	wrap := func(s string, first, rest string) []string {
		lines := wrapSpaces(s, w-len(indent)-5)
		for i := range lines {
			if i == 0 {
				lines[i] = first + strings.TrimRight(lines[i], " ")
			} else {
				lines[i] = rest + strings.TrimRight(lines[i], " ")
			}
		}
		return lines
	}
	var out []string
	for _, c := range r.Checks {
		mark := m.markStyle(c.Mark).Render(fmt.Sprintf("%-10s", "["+string(c.Mark)+"]"))
		out = append(out, mark+"  "+st.Label.Render(c.Title))
		out = append(out, wrap(c.Summary, indent, indent)...)
		for _, d := range c.Details {
			for _, l := range wrap(d, indent+"· ", indent+"  ") {
				out = append(out, st.Dim.Render(l))
			}
		}
		if c.Fix != "" {
			for i, fl := range strings.Split(c.Fix, "\n") {
				label := "fix: "
				if i > 0 {
					label = "     "
				}
				for j, l := range wrap(fl, indent+label, indent+"     ") {
					if j == 0 {
						l = indent + st.Key.Render(label) + strings.TrimPrefix(l, indent+label)
					}
					out = append(out, l)
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

func (m *Model) spinner() string {
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	if m.c.ASCII {
		frames = []string{"|", "/", "-", "\\"}
	}
	return frames[m.frame%len(frames)]
}

// View implements panel.Panel.
func (m *Model) View() string {
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height
	title := st.Title.Render("Diagnose "+m.inst.Name) + " " + st.Dim.Render(m.inst.Project+" · "+m.inst.Zone+" · "+m.inst.Status)
	lines := []string{common.PadRight(title, w)}
	switch m.state {
	case statePort:
		lines = append(lines, "", m.input.View(), "")
		for _, l := range common.WrapLines("The doctor checks credentials, the instance, firewall rules for IAP, your IAP permission and its conditions, SSH prerequisites (port 22) and a real tunnel.", w) {
			lines = append(lines, st.Dim.Render(l))
		}
		if m.err != "" {
			lines = append(lines, "")
			for _, l := range common.WrapLines(m.err, w) {
				lines = append(lines, st.Error.Render(l))
			}
		}
		return common.FitLines(strings.Join(lines, "\n"), w, h)
	case stateRunning:
		lines = append(lines, "", m.spinner()+" "+m.running)
		return common.FitLines(strings.Join(lines, "\n"), w, h)
	}
	r := m.report
	verdict := st.Running.Render("No blocking problem found.")
	if !r.CanConnect {
		verdict = st.Error.Render("The connection cannot work until the failed checks are fixed.")
	}
	lines = append(lines, common.PadRight(fmt.Sprintf("Port %d · ", r.Port)+verdict, w))
	foot := m.footer()
	vh := max(h-len(lines)-len(foot), 1)
	m.vp.SetWidth(w)
	m.vp.SetHeight(vh)
	lines = append(lines, m.vp.View())
	lines = append(lines, foot...)
	return common.FitLines(strings.Join(lines, "\n"), w, h)
}

func (m *Model) footer() []string {
	st := m.c.Styles
	w := m.c.Width
	var out []string
	switch m.asking {
	case "firewall":
		// The question wraps rather than lose its y/n at the edge.
		c := m.report.Check(doctor.CheckFirewall)
		for _, l := range common.WrapLines(fmt.Sprintf("Create a firewall rule in project %s that lets %s reach tcp:%d? y/n", m.offer.firewallProject, "35.235.240.0/20", m.port), w) {
			out = append(out, st.Warning.Render(l))
		}
		if c != nil {
			out = append(out, st.Dim.Render(common.Truncate(c.Fix, w)))
		}
		return out
	case "start":
		for _, l := range common.WrapLines(fmt.Sprintf("Start %s in %s (%s) and check again? y/n", m.inst.Name, m.inst.Project, m.inst.Zone), w) {
			out = append(out, st.Warning.Render(l))
		}
		return out
	}
	var offers []string
	if m.offer.firewall {
		offers = append(offers, st.Key.Render("f")+" create the firewall rule for IAP")
	}
	if m.offer.start {
		offers = append(offers, st.Key.Render("s")+" start the VM")
	}
	if len(offers) > 0 {
		out = append(out, common.PadRight("Fixes iapterm can make: "+strings.Join(offers, " · "), w))
	}
	if m.offer.firewallWhy != "" {
		out = append(out, st.Dim.Render(common.Truncate(m.offer.firewallWhy, w)))
	}
	return out
}

// wrapSpaces breaks plain text at spaces only, so a command's --flags stay
// whole for copying; a word longer than the line is cut.
func wrapSpaces(s string, width int) []string {
	width = max(width, 10)
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		for len([]rune(word)) > width {
			if cur != "" {
				lines, cur = append(lines, cur), ""
			}
			r := []rune(word)
			lines, word = append(lines, string(r[:width])), string(r[width:])
		}
		switch {
		case cur == "":
			cur = word
		case len([]rune(cur))+1+len([]rune(word)) <= width:
			cur += " " + word
		default:
			lines, cur = append(lines, cur), word
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}
