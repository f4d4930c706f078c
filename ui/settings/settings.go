// Package settings is the settings view: every connection setting of one
// explorer node (global, project, zone or instance) with its effective
// value, the node's own values in bold (as IAP Desktop shows them) and
// where inherited values come from. Changes go through profiles.Config's
// Set and Reset, which touch only the edited key in the file.
package settings

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/profiles"
	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// Loader reads the settings file. A broken file gives the last settings
// that loaded together with the error.
type Loader func() (*profiles.Config, error)

// Model is the settings view.
type Model struct {
	c      *common.Common
	KeyMap KeyMap
	load   Loader
	cfg    *profiles.Config
	// loadErr is why the file did not load; edits are refused meanwhile.
	loadErr error
	node    profiles.Node
	labels  map[string]string
	eff     profiles.Effective
	keys    []string
	cursor  int
	offset  int
	editing bool
	// addingPort: the field takes "REMOTE=LOCAL" for tunnel.local_ports.
	addingPort bool
	input      textinput.Model
	err        string
	notice     string
}

// New opens the view on node; labels are the instance's (for label
// selector layers).
func New(c *common.Common, load Loader, node profiles.Node, labels map[string]string) *Model {
	in := common.NewInput("", "")
	m := &Model{c: c, KeyMap: DefaultKeyMap(), load: load, node: node, labels: labels, input: in}
	m.reload()
	return m
}

// Init implements panel.Panel.
func (m *Model) Init() tea.Cmd { return nil }

// SetSize implements panel.Panel.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h) }

// Node is the node shown.
func (m *Model) Node() profiles.Node { return m.node }

// Cursor is the key of the selected setting.
func (m *Model) Cursor() string {
	if m.cursor < len(m.keys) {
		return m.keys[m.cursor]
	}
	return ""
}

// Value is the effective value of key as shown.
func (m *Model) Value(key string) profiles.Value { return m.eff.Get(key) }

// Err is the error shown, if any.
func (m *Model) Err() string { return m.err }

// Editing reports whether the value field is open.
func (m *Model) Editing() bool { return m.editing }

// Select moves the cursor to key.
func (m *Model) Select(key string) bool {
	if i := slices.Index(m.keys, key); i >= 0 {
		m.cursor = i
		return true
	}
	return false
}

func (m *Model) reload() {
	cur := m.Cursor()
	m.cfg, m.loadErr = nil, nil
	if m.load != nil {
		m.cfg, m.loadErr = m.load()
	}
	if m.cfg == nil {
		m.cfg = profiles.Empty("")
	}
	m.resolve()
	if cur != "" {
		m.Select(cur)
	}
}

func (m *Model) resolve() {
	m.eff = m.cfg.Resolve(profiles.Target{Project: m.node.Project, Zone: m.node.Zone, Instance: m.node.Instance, Labels: m.labels})
	m.keys = m.eff.Keys()
	if m.cursor >= len(m.keys) {
		m.cursor = max(0, len(m.keys)-1)
	}
}

// Describe names a node for titles and messages.
func Describe(n profiles.Node) string {
	switch {
	case n.Instance != "":
		return "instance " + n.Instance + " (" + n.Project + "/" + n.Zone + ")"
	case n.Zone != "":
		return "zone " + n.Zone + " (" + n.Project + ")"
	case n.Project != "":
		return "project " + n.Project
	}
	return "global settings"
}

func parent(n profiles.Node) (profiles.Node, bool) {
	switch {
	case n.Instance != "":
		return profiles.Node{Project: n.Project, Zone: n.Zone}, true
	case n.Zone != "":
		return profiles.Node{Project: n.Project}, true
	case n.Project != "":
		return profiles.Node{}, true
	}
	return n, false
}

// Update implements panel.Panel.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if m.editing {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return cmd
		}
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			switch w.Button {
			case tea.MouseWheelUp:
				m.move(-3)
			case tea.MouseWheelDown:
				m.move(3)
			}
		}
		return nil
	}
	if m.editing {
		return m.updateEdit(k)
	}
	km := m.KeyMap
	m.notice = ""
	switch {
	case key.Matches(k, km.Close):
		return panel.Close(nil)
	case key.Matches(k, km.Up):
		m.move(-1)
	case key.Matches(k, km.Down):
		m.move(1)
	case key.Matches(k, km.PageUp):
		m.move(-m.listHeight())
	case key.Matches(k, km.PageDown):
		m.move(m.listHeight())
	case key.Matches(k, km.Top):
		m.move(-len(m.keys))
	case key.Matches(k, km.Bottom):
		m.move(len(m.keys))
	case key.Matches(k, km.Parent):
		if p, ok := parent(m.node); ok {
			m.node, m.labels, m.err = p, nil, ""
			m.resolve()
		}
	case key.Matches(k, km.Reload):
		m.err = ""
		m.reload()
		if m.loadErr == nil {
			m.notice = "Reloaded " + m.cfg.Path
		}
	case key.Matches(k, km.Reset):
		m.reset()
	case key.Matches(k, km.Edit):
		return m.startEdit()
	case key.Matches(k, km.AddPort):
		m.editing, m.addingPort, m.err = true, true, ""
		m.input.Prompt = "local port for remote port: "
		m.input.Placeholder = "REMOTE=LOCAL, e.g. 5432=15432"
		m.input.SetValue("")
		m.input.SetWidth(max(m.c.Width-lipgloss.Width(m.input.Prompt)-2, 10))
		return m.input.Focus()
	case key.Matches(k, km.Change):
		v := m.eff.Get(m.Cursor())
		switch v.Setting.Kind {
		case profiles.KindBool:
			next := "true"
			if v.Text == "true" {
				next = "false"
			}
			m.set(next)
		case profiles.KindEnum:
			m.set(nextEnum(v.Setting.Enum, v.Text))
		default:
			return m.startEdit()
		}
	}
	return nil
}

func nextEnum(list []string, cur string) string {
	if len(list) == 0 {
		return cur
	}
	i := slices.Index(list, cur)
	return list[(i+1)%len(list)]
}

func (m *Model) startEdit() tea.Cmd {
	k := m.Cursor()
	if k == "" {
		return nil
	}
	v := m.eff.Get(k)
	m.editing, m.err = true, ""
	m.input.Prompt = k + " = "
	m.input.Placeholder = placeholder(v.Setting)
	m.input.SetValue(v.Text)
	m.input.CursorEnd()
	m.input.SetWidth(max(m.c.Width-lipgloss.Width(m.input.Prompt)-2, 10))
	return m.input.Focus()
}

func placeholder(s profiles.Setting) string {
	switch s.Kind {
	case profiles.KindEnum:
		return strings.Join(s.Enum, " | ")
	case profiles.KindBool:
		return "true | false"
	case profiles.KindPort:
		return "1-65535"
	case profiles.KindLocalPort:
		return "1-65535, or 0 for any free port"
	case profiles.KindDuration:
		return "e.g. 30s, 720h"
	case profiles.KindInt:
		return "a whole number"
	}
	return "text"
}

func (m *Model) updateEdit(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.KeyMap.Cancel):
		m.editing, m.addingPort, m.err = false, false, ""
		m.input.Blur()
		return nil
	case key.Matches(k, m.KeyMap.Save) && m.addingPort:
		if m.addPort(m.input.Value()) {
			m.editing, m.addingPort = false, false
			m.input.Blur()
		}
		return nil
	case key.Matches(k, m.KeyMap.Save):
		if m.set(m.input.Value()) {
			m.editing = false
			m.input.Blur()
		}
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.err = ""
	return cmd
}

// addPort sets tunnel.local_ports.REMOTE = LOCAL at this node from
// "REMOTE=LOCAL".
func (m *Model) addPort(text string) bool {
	remote, local, ok := strings.Cut(strings.ReplaceAll(text, " ", ""), "=")
	var r, l int
	if !ok || parsePort(remote, &r) != nil || parsePort(local, &l) != nil {
		m.err = fmt.Sprintf("%q: write the remote port, =, and the local port, e.g. 5432=15432 (ports 1-65535)", text)
		return false
	}
	return m.setKey(fmt.Sprintf("tunnel.local_ports.%d", r), fmt.Sprint(l))
}

func parsePort(s string, n *int) error {
	if _, err := fmt.Sscan(s, n); err != nil || *n < 1 || *n > 65535 || fmt.Sprint(*n) != s {
		return fmt.Errorf("not a port")
	}
	return nil
}

// set writes the node's own value for the selected key; false (with the
// error shown) when the value or the file is refused.
func (m *Model) set(text string) bool { return m.setKey(m.Cursor(), text) }

func (m *Model) setKey(k, text string) bool {
	s, known := profiles.Lookup(k)
	if !known {
		m.err = "unknown setting " + k
		return false
	}
	if _, err := s.Normalize(text); err != nil {
		m.err = err.Error()
		return false
	}
	if err := m.cfg.Set(m.node, k, text); err != nil {
		m.err = m.fileError(err)
		return false
	}
	m.loadErr, m.err = nil, ""
	m.resolve()
	m.Select(k)
	m.notice = fmt.Sprintf("%s = %s saved for %s in %s", k, m.eff.Get(k).Text, Describe(m.node), m.cfg.Path)
	return true
}

func (m *Model) reset() {
	k := m.Cursor()
	v := m.eff.Get(k)
	if !v.Own {
		m.err = ""
		m.notice = k + " is not set at this level; nothing to reset (" + v.Explain() + ")"
		return
	}
	if err := m.cfg.Reset(m.node, k); err != nil {
		m.err = m.fileError(err)
		return
	}
	m.loadErr, m.err = nil, ""
	m.resolve()
	m.notice = k + " reset: now " + m.eff.Get(k).Explain()
}

func (m *Model) fileError(err error) string {
	return err.Error() + ". Fix the file (or undo with its .bak copy), then press r to reload."
}

func (m *Model) move(d int) {
	m.cursor += d
	if m.cursor >= len(m.keys) {
		m.cursor = len(m.keys) - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
}

// header lines above the list, footer lines below it.
const headerLines, footerLines = 3, 3

// pathLines are the file's path and the legend: one line when they fit,
// else the legend gets its own line so its keys are not cut.
func (m *Model) pathLines() []string {
	path := m.cfg.Path
	if path == "" {
		path = "no settings file"
	}
	const legend = "bold: set at this level · ←/u: parent level"
	if lipgloss.Width(path+" · "+legend) <= m.c.Width {
		return []string{path + " · " + legend}
	}
	return []string{path, legend}
}

func (m *Model) listHeight() int {
	h := m.c.Height - headerLines - (len(m.pathLines()) - 1) - footerLines - len(m.fileErrorLines())
	return max(h, 1)
}

// fileErrorLines explain a settings file that does not load, wrapped to at
// most three lines.
func (m *Model) fileErrorLines() []string {
	if m.loadErr == nil {
		return nil
	}
	text := "! The settings file does not load; showing the last good settings, edits are refused. Fix it, then press r: " + m.loadErr.Error()
	wrapped := strings.Split(lipgloss.NewStyle().Width(max(m.c.Width, 20)).Render(text), "\n")
	if len(wrapped) > 3 {
		wrapped = wrapped[:3]
	}
	for i, l := range wrapped {
		wrapped[i] = m.c.Styles.Error.Render(common.PadRight(l, m.c.Width))
	}
	return wrapped
}

// ShortHelp implements panel.Panel.
func (m *Model) ShortHelp() []key.Binding {
	km := m.KeyMap
	if m.editing {
		return []key.Binding{km.Save, km.Cancel}
	}
	return []key.Binding{km.Change, km.Edit, km.Reset, km.Parent, km.AddPort, km.Reload, km.Close}
}

// View implements panel.Panel.
func (m *Model) View() string {
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height
	bold := lipgloss.NewStyle().Bold(true)
	lines := []string{common.PadRight(st.Title.Render("Settings · "+Describe(m.node)), w)}
	for _, l := range m.pathLines() {
		lines = append(lines, common.PadRight(st.Dim.Render(l), w))
	}
	lines = append(lines, m.fileErrorLines()...)

	keyW := 10
	for _, k := range m.keys {
		keyW = max(keyW, lipgloss.Width(k))
	}
	valW := 16
	for _, k := range m.keys {
		valW = max(valW, min(lipgloss.Width(m.eff.Get(k).Text)+2, 28))
	}
	lines = append(lines, common.PadRight("  "+st.TableHeader.Render(common.PadRight("SETTING", keyW))+"  "+
		st.TableHeader.Render(common.PadRight("VALUE", valW))+"  "+st.TableHeader.Render("FROM"), w))

	lh := m.listHeight()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+lh {
		m.offset = m.cursor - lh + 1
	}
	for i := m.offset; i < len(m.keys) && i < m.offset+lh; i++ {
		k := m.keys[i]
		v := m.eff.Get(k)
		text := v.Text
		valStyle, fromStyle := st.Value, st.Dim
		if text == "" {
			text = "-"
			valStyle = st.Dim
		}
		if v.Own {
			valStyle, fromStyle = bold, bold
		}
		cursor := "  "
		if i == m.cursor {
			cursor = m.c.Glyphs().Cursor + " "
		}
		keyCell := common.PadRight(k, keyW)
		if v.Own {
			keyCell = bold.Render(keyCell)
		}
		row := cursor + keyCell + "  " + valStyle.Render(common.PadRight(text, valW)) + "  " + fromStyle.Render(v.Explain())
		if i == m.cursor && !m.editing {
			row = st.Selected.Bold(v.Own).Render(common.PadRight(cursor+common.PadRight(k, keyW)+"  "+common.PadRight(text, valW)+"  "+v.Explain(), w))
		}
		lines = append(lines, common.PadRight(row, w))
	}
	for len(lines) < h-footerLines {
		lines = append(lines, "")
	}
	lines = append(lines, m.footer()...)
	return common.FitLines(strings.Join(lines, "\n"), w, h)
}

func (m *Model) footer() []string {
	st := m.c.Styles
	w := m.c.Width
	k := m.Cursor()
	v := m.eff.Get(k)
	var out []string
	if m.editing {
		out = append(out, common.PadRight(m.input.View(), w))
	} else {
		// The description wraps onto the next line when that line is
		// free (no error or notice), so it is not cut at 80 columns.
		help := strings.Split(ansi.Wrap(k+": "+v.Setting.Help, max(w, 20), ""), "\n")
		if rest, ok := strings.CutPrefix(help[0], k+": "); ok && len(help) > 1 && m.err == "" && m.notice == "" {
			return append(out, common.PadRight(st.Label.Render(k+": ")+rest, w),
				common.PadRight(strings.Join(help[1:], " "), w), "")
		}
		out = append(out, common.PadRight(st.Label.Render(k+": ")+v.Setting.Help, w))
	}
	switch {
	case m.err != "":
		wrapped := strings.Split(lipgloss.NewStyle().Width(max(w, 20)).Render(m.err), "\n")
		for i, l := range wrapped[:min(2, len(wrapped))] {
			wrapped[i] = st.Error.Render(common.PadRight(l, w))
		}
		return append(out, wrapped[:min(2, len(wrapped))]...)
	case m.editing && m.addingPort:
		out = append(out, st.Dim.Render(common.Truncate("a fixed local port for tunnels to this remote port · enter save · esc cancel", w)))
	case m.editing:
		out = append(out, st.Dim.Render(common.Truncate("allowed: "+placeholder(v.Setting)+" · enter save · esc cancel", w)))
	case m.notice != "":
		// Two lines, like an error: the notice names the level saved to.
		wrapped := common.WrapLines(m.notice, max(w, 20))
		if len(wrapped) > 2 {
			wrapped = append(wrapped[:1], common.Truncate(strings.Join(wrapped[1:], " "), w))
		}
		for _, l := range wrapped {
			out = append(out, st.Info.Render(common.PadRight(l, w)))
		}
		if len(wrapped) == 2 {
			return out
		}
	default:
		out = append(out, "")
	}
	return append(out, "")
}
