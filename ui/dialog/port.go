package dialog

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// PortChosenMsg asks for a tunnel to Instance:Remote on Local (0: any).
type PortChosenMsg struct {
	Instance      projects.Instance
	Remote, Local int
}

// Port is the "tunnel to port" form: a remote port and an optional local one.
type Port struct {
	c      *common.Common
	KeyMap KeyMap
	inst   projects.Instance
	remote textinput.Model
	local  textinput.Model
	focus  int
	err    string
}

// NewPort builds the form for inst.
func NewPort(c *common.Common, inst projects.Instance) *Port {
	r := common.NewInput("Remote port: ", "e.g. 5432")
	r.CharLimit = 5
	l := common.NewInput("Local port:  ", "any free port")
	l.CharLimit = 5
	return &Port{c: c, KeyMap: DefaultKeyMap(), inst: inst, remote: r, local: l}
}

// Prefill puts ports asked for before into the fields (0 leaves a field
// empty), so a failed tunnel is corrected rather than typed again.
func (d *Port) Prefill(remote, local int) {
	if remote > 0 {
		d.remote.SetValue(strconv.Itoa(remote))
	}
	if local > 0 {
		d.local.SetValue(strconv.Itoa(local))
	}
}

// Init focuses the first field.
func (d *Port) Init() tea.Cmd { return d.remote.Focus() }

// ParsePort checks a TCP port number; empty is allowed when optional.
func ParsePort(s string, optional bool) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if optional {
			return 0, nil
		}
		return 0, fmt.Errorf("enter a port number from 1 to 65535")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port: enter a number from 1 to 65535", s)
	}
	return n, nil
}

// Update handles keys and pasted text.
func (d *Port) Update(msg tea.Msg) tea.Cmd {
	if p, ok := msg.(tea.PasteMsg); ok {
		// A pasted port often comes with a line break or spaces around it.
		text := strings.TrimSpace(p.Content)
		if text == "" || strings.Trim(text, "0123456789") != "" {
			d.err = fmt.Sprintf("%q is not a port: paste or type a number from 1 to 65535", text)
			return nil
		}
		return d.updateField(tea.PasteMsg{Content: text})
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case k.String() == "esc":
		return closeWith(nil)
	case key.Matches(k, d.KeyMap.Next):
		d.focus = 1 - d.focus
		if d.focus == 0 {
			d.local.Blur()
			return d.remote.Focus()
		}
		d.remote.Blur()
		return d.local.Focus()
	case key.Matches(k, d.KeyMap.Accept):
		r, err := ParsePort(d.remote.Value(), false)
		if err != nil {
			d.err = "Remote port: " + err.Error()
			return nil
		}
		l, err := ParsePort(d.local.Value(), true)
		if err != nil {
			d.err = "Local port: " + err.Error()
			return nil
		}
		inst := d.inst
		return closeWith(func() tea.Msg { return PortChosenMsg{Instance: inst, Remote: r, Local: l} })
	}
	// Only digits make sense in either field: say so rather than
	// swallow the key.
	if t := k.Text; t != "" && strings.Trim(t, "0123456789") != "" {
		d.err = "A port is a number from 1 to 65535: type digits only"
		return nil
	}
	return d.updateField(msg)
}

// updateField hands msg to the focused field.
func (d *Port) updateField(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	if d.focus == 0 {
		d.remote, cmd = d.remote.Update(msg)
	} else {
		d.local, cmd = d.local.Update(msg)
	}
	d.err = ""
	return cmd
}

// View draws the form.
func (d *Port) View() string {
	st := d.c.Styles
	lines := []string{
		st.DialogTitle.Render("Tunnel to " + d.inst.Name),
		st.Dim.Render(d.inst.Project + " · " + d.inst.Zone),
		"",
		d.remote.View(),
		d.local.View(),
		"",
	}
	if d.err != "" {
		lines = append(lines, st.Error.Render(d.err))
	}
	lines = append(lines, st.Dim.Render("tab next field · enter open · esc cancel"))
	return st.Dialog.Width(width(d.c.Width)).Render(strings.Join(lines, "\n"))
}
