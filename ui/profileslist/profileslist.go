// Package profileslist is the list of saved connection profiles: connect
// to one (through `iapterm connect NAME`, which gets the terminal), or save
// a new one for the selected instance: SSH or RDP, a tunnel to a port, or
// a client application that suits the instance's OS.
package profileslist

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// Loader reads the settings file (a broken one gives the last good
// settings and the error).
type Loader func() (*profiles.Config, error)

// Connector returns the command that opens profile name.
type Connector func(name string) tea.Cmd

// Model is the profiles panel.
type Model struct {
	c       *common.Common
	KeyMap  KeyMap
	load    Loader
	connect Connector
	inst    *projects.Instance
	cfg     *profiles.Config
	loadErr error
	list    []profiles.Profile
	cursor  int
	notice  string
	err     string
	form    *form
	// tunnelPort, when set, makes "tunnel to this port" the new profile's
	// default: the instance's last tunnel, the action the user just took.
	tunnelPort int
}

// New opens the list. inst, when not nil, is the explorer's selected
// instance, for "new profile"; create opens the form at once.
func New(c *common.Common, load Loader, connect Connector, inst *projects.Instance, create bool) *Model {
	m := &Model{c: c, KeyMap: DefaultKeyMap(), load: load, connect: connect, inst: inst}
	m.reload()
	if create && inst != nil {
		m.form = newForm(m.cfg, *inst, 0)
	}
	return m
}

// SuggestTunnel makes a tunnel to port the default of a new profile (the
// instance has one open: that is what the user is doing with it).
func (m *Model) SuggestTunnel(port int) {
	m.tunnelPort = port
	if m.form != nil && m.inst != nil {
		m.form = newForm(m.cfg, *m.inst, port)
	}
}

// Init implements panel.Panel.
func (m *Model) Init() tea.Cmd {
	if m.form != nil {
		return m.form.name.Focus()
	}
	return nil
}

// SetSize implements panel.Panel.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h) }

// Profiles are the profiles listed.
func (m *Model) Profiles() []profiles.Profile { return m.list }

// Creating reports whether the new-profile form is open.
func (m *Model) Creating() bool { return m.form != nil }

// Err is the error shown.
func (m *Model) Err() string {
	if m.form != nil && m.form.err != "" {
		return m.form.err
	}
	return m.err
}

func (m *Model) reload() {
	m.cfg, m.loadErr = nil, nil
	if m.load != nil {
		m.cfg, m.loadErr = m.load()
	}
	if m.cfg == nil {
		m.cfg = profiles.Empty("")
	}
	m.list = append([]profiles.Profile(nil), m.cfg.Profiles...)
	sort.SliceStable(m.list, func(i, j int) bool { return m.list[i].Name < m.list[j].Name })
	if m.cursor >= len(m.list) {
		m.cursor = max(0, len(m.list)-1)
	}
}

// Target describes where a profile connects.
func Target(p profiles.Profile) string {
	if p.Instance != "" {
		return p.Project + "/" + p.Zone + "/" + p.Instance
	}
	where := p.Project
	if p.Zone != "" {
		where += "/" + p.Zone
	}
	return where + " labels " + p.Selector
}

// What describes what a profile opens.
func What(p profiles.Profile) string {
	switch {
	case p.App != "":
		s := "app " + p.App
		if p.RemotePort > 0 {
			s += fmt.Sprintf(" (port %d)", p.RemotePort)
		}
		return s
	case p.Protocol == "tunnel":
		s := fmt.Sprintf("tunnel to %d", p.RemotePort)
		if p.LocalPort > 0 {
			s += fmt.Sprintf(" on local %d", p.LocalPort)
		}
		return s
	}
	return p.Protocol
}

// Update implements panel.Panel.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if m.form != nil {
		return m.updateForm(msg)
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	km := m.KeyMap
	m.notice, m.err = "", ""
	switch {
	case key.Matches(k, km.Close):
		return panel.Close(nil)
	case key.Matches(k, km.Up):
		if m.cursor > 0 {
			m.cursor--
		}
	case key.Matches(k, km.Down):
		if m.cursor < len(m.list)-1 {
			m.cursor++
		}
	case key.Matches(k, km.Reload):
		m.reload()
	case key.Matches(k, km.New):
		if m.inst == nil {
			m.err = "Select an instance in the explorer first: a new profile connects to it."
			return nil
		}
		m.form = newForm(m.cfg, *m.inst, m.tunnelPort)
		return m.form.name.Focus()
	case key.Matches(k, km.Connect):
		if len(m.list) == 0 {
			return nil
		}
		if m.connect == nil {
			m.err = "Connecting is not available in this session; run iapterm connect " + m.list[m.cursor].Name + " in a shell."
			return nil
		}
		return panel.Close(m.connect(m.list[m.cursor].Name))
	}
	return nil
}

// ShortHelp implements panel.Panel.
func (m *Model) ShortHelp() []key.Binding {
	km := m.KeyMap
	if m.form != nil {
		return []key.Binding{km.Save, km.Next, km.Left, km.Cancel}
	}
	return []key.Binding{km.Up, km.Down, km.Connect, km.New, km.Reload, km.Close}
}

// View implements panel.Panel.
func (m *Model) View() string {
	if m.form != nil {
		return m.form.view(m.c)
	}
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height
	lines := []string{common.PadRight(st.Title.Render("Profiles")+" "+st.Dim.Render(m.cfg.Path), w)}
	if m.loadErr != nil {
		lines = append(lines, st.Error.Render(common.Truncate("! "+m.loadErr.Error(), w)))
	}
	if len(m.list) == 0 {
		lines = append(lines, "", "No saved profiles yet.")
		if m.inst != nil {
			lines = append(lines, "Press n to save one for "+m.inst.Name+".")
		} else {
			lines = append(lines, "Select an instance in the explorer, open this list and press n to save one.")
		}
	} else {
		nameW, targetW := 8, 10
		for _, p := range m.list {
			nameW = max(nameW, len(p.Name))
			targetW = max(targetW, len(Target(p)))
		}
		lines = append(lines, st.TableHeader.Render(common.PadRight("  NAME", nameW+2))+"  "+st.TableHeader.Render(common.PadRight("TARGET", targetW))+"  "+st.TableHeader.Render("OPENS"))
		for i, p := range m.list {
			row := "  " + common.PadRight(p.Name, nameW) + "  " + common.PadRight(Target(p), targetW) + "  " + What(p)
			if i == m.cursor {
				row = st.Selected.Render(common.PadRight(m.c.Glyphs().Cursor+row[1:], w))
			}
			lines = append(lines, common.PadRight(row, w))
		}
	}
	lines = append(lines, "")
	// Messages wrap: they name files and commands the user needs whole.
	switch {
	case m.err != "":
		for _, l := range common.WrapLines(m.err, w) {
			lines = append(lines, st.Error.Render(l))
		}
	case m.notice != "":
		for _, l := range common.WrapLines(m.notice, w) {
			lines = append(lines, st.Info.Render(l))
		}
	}
	return common.FitLines(strings.Join(lines, "\n"), w, h)
}

// form is "new profile for this instance".
type form struct {
	inst     projects.Instance
	name     textinput.Model
	port     textinput.Model
	choices  []string // "ssh", "rdp", "tunnel", or app names
	apps     map[string]profiles.App
	choice   int
	focus    int // 0 name, 1 choice, 2 port
	nameEdit bool
	err      string
}

func newForm(cfg *profiles.Config, inst projects.Instance, tunnelPort int) *form {
	f := &form{inst: inst, apps: map[string]profiles.App{}}
	if inst.OS == projects.Windows {
		f.choices = []string{"rdp", "tunnel"}
	} else {
		f.choices = []string{"ssh", "tunnel"}
	}
	var names []string
	for name, a := range cfg.Apps {
		if a.AppliesTo(string(inst.OS)) {
			names = append(names, name)
			f.apps[name] = a
		}
	}
	sort.Strings(names)
	f.choices = append(f.choices, names...)
	f.name = common.NewInput("Name:        ", "a name for iapterm connect NAME")
	f.port = common.NewInput("Remote port: ", "1-65535")
	f.port.CharLimit = 5
	f.name.SetWidth(40)
	f.port.SetWidth(10)
	f.port.SetValue("22")
	if inst.OS == projects.Windows {
		f.port.SetValue("3389")
	}
	if tunnelPort > 0 {
		f.choice = 1 // "tunnel"
		f.port.SetValue(fmt.Sprint(tunnelPort))
	}
	f.suggestName()
	return f
}

func (f *form) kind() string { return f.choices[f.choice] }

func (f *form) suggestName() {
	if f.nameEdit {
		return
	}
	suffix := f.kind()
	if suffix == "tunnel" {
		suffix = "tunnel-" + strings.TrimSpace(f.port.Value())
	}
	f.name.SetValue(f.inst.Name + "-" + suffix)
	f.name.CursorEnd()
}

func (f *form) fields() int {
	if f.kind() == "tunnel" {
		return 3
	}
	return 2
}

func (f *form) setFocus(i int) tea.Cmd {
	f.focus = (i + f.fields()) % f.fields()
	f.name.Blur()
	f.port.Blur()
	switch f.focus {
	case 0:
		return f.name.Focus()
	case 2:
		return f.port.Focus()
	}
	return nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (m *Model) updateForm(msg tea.Msg) tea.Cmd {
	f := m.form
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		if f.focus == 0 {
			f.name, cmd = f.name.Update(msg)
		} else if f.focus == 2 {
			f.port, cmd = f.port.Update(msg)
		}
		return cmd
	}
	km := m.KeyMap
	switch {
	case key.Matches(k, km.Cancel):
		m.form = nil
		return nil
	case key.Matches(k, km.Save):
		return m.save()
	case key.Matches(k, km.Next) && (k.String() == "tab" || f.focus != 0):
		return f.setFocus(f.focus + 1)
	case key.Matches(k, km.Prev) && (k.String() == "shift+tab" || f.focus != 0):
		return f.setFocus(f.focus - 1)
	}
	if f.focus == 1 {
		switch {
		case key.Matches(k, km.Left):
			f.choice = (f.choice + len(f.choices) - 1) % len(f.choices)
		case key.Matches(k, km.Right), k.String() == "space":
			f.choice = (f.choice + 1) % len(f.choices)
		default:
			return nil
		}
		f.err = ""
		f.suggestName()
		return nil
	}
	var cmd tea.Cmd
	f.err = ""
	if f.focus == 0 {
		before := f.name.Value()
		f.name, cmd = f.name.Update(k)
		if f.name.Value() != before {
			f.nameEdit = true
		}
		return cmd
	}
	if t := k.Text; t != "" && strings.Trim(t, "0123456789") != "" {
		return nil
	}
	f.port, cmd = f.port.Update(k)
	f.suggestName()
	return cmd
}

func (m *Model) save() tea.Cmd {
	f := m.form
	name := strings.TrimSpace(f.name.Value())
	if !validName.MatchString(name) {
		f.err = "Name: use letters, digits, '.', '_' and '-' (it is typed after iapterm connect)"
		return nil
	}
	if slices.ContainsFunc(m.cfg.Profiles, func(p profiles.Profile) bool { return p.Name == name }) {
		f.err = fmt.Sprintf("A profile called %q exists already; choose another name", name)
		return nil
	}
	p := profiles.Profile{Name: name, Project: f.inst.Project, Zone: f.inst.Zone, Instance: f.inst.Name}
	switch kind := f.kind(); kind {
	case "ssh", "rdp":
		p.Protocol = kind
	case "tunnel":
		var port int
		if _, err := fmt.Sscan(strings.TrimSpace(f.port.Value()), &port); err != nil || port < 1 || port > 65535 {
			f.err = "Remote port: enter a number from 1 to 65535"
			return nil
		}
		p.Protocol, p.RemotePort = "tunnel", port
	default:
		p.App = kind
	}
	if err := m.cfg.AddProfile(p); err != nil {
		f.err = err.Error()
		return nil
	}
	m.form = nil
	m.reload()
	for i, x := range m.list {
		if x.Name == name {
			m.cursor = i
		}
	}
	m.notice = fmt.Sprintf("Saved profile %s in %s; enter connects, or run iapterm connect %s", name, m.cfg.Path, name)
	return nil
}

func (f *form) view(c *common.Common) string {
	st := c.Styles
	w, h := c.Width, c.Height
	lines := []string{
		common.PadRight(st.Title.Render("New profile for "+f.inst.Name)+" "+st.Dim.Render(f.inst.Project+" · "+f.inst.Zone), w),
		"",
		f.name.View(),
	}
	choice := "Opens:       ‹ " + f.kind() + " ›"
	if f.focus == 1 {
		choice = st.Selected.Render(choice)
	}
	desc := ""
	switch k := f.kind(); k {
	case "ssh":
		desc = "SSH in this terminal"
	case "rdp":
		desc = "your RDP client through a tunnel"
	case "tunnel":
		desc = "a local tunnel to a port of the VM"
	default:
		a := f.apps[k]
		desc = a.Description
		if a.RemotePort > 0 {
			desc += fmt.Sprintf(" · port %d", a.RemotePort)
		}
	}
	if lipgloss.Width(choice)+2+lipgloss.Width(desc) <= w {
		lines = append(lines, choice+"  "+st.Dim.Render(desc))
	} else {
		// Too wide for one line: the description goes under the choice,
		// aligned with the values.
		lines = append(lines, choice)
		indent := strings.Repeat(" ", 13)
		for _, l := range common.WrapLines(desc, w-13) {
			lines = append(lines, indent+st.Dim.Render(l))
		}
	}
	if f.kind() == "tunnel" {
		lines = append(lines, f.port.View())
	}
	lines = append(lines, "")
	for _, l := range common.WrapLines("choices: "+strings.Join(f.choices, ", "), w) {
		lines = append(lines, st.Dim.Render(l))
	}
	if f.err != "" {
		lines = append(lines, "")
		for _, l := range common.WrapLines(f.err, w) {
			lines = append(lines, st.Error.Render(l))
		}
	}
	return common.FitLines(strings.Join(lines, "\n"), w, h)
}
