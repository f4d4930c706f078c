// Package dialog holds the small modal dialogs: confirmation, the
// tunnel-to-port form, the action menu and the error panel.
package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/ui/common"
)

// ClosedMsg tells the root to close the dialog; Cmd (may be nil) runs next.
type ClosedMsg struct{ Cmd tea.Cmd }

func closeWith(cmd tea.Cmd) tea.Cmd { return func() tea.Msg { return ClosedMsg{Cmd: cmd} } }

// Confirm asks yes or no; "no" is the default so enter alone is safe.
type Confirm struct {
	c      *common.Common
	KeyMap KeyMap
	req    common.ConfirmRequestedMsg
	yes    bool
}

// NewConfirm builds the dialog for req.
func NewConfirm(c *common.Common, req common.ConfirmRequestedMsg) *Confirm {
	return &Confirm{c: c, KeyMap: DefaultKeyMap(), req: req}
}

// Update handles keys; the result is a ClosedMsg carrying the command to run.
func (d *Confirm) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, d.KeyMap.Yes):
		return closeWith(d.run())
	case key.Matches(k, d.KeyMap.No), key.Matches(k, d.KeyMap.Cancel):
		return closeWith(nil)
	case key.Matches(k, d.KeyMap.Left), key.Matches(k, d.KeyMap.Right):
		d.yes = !d.yes
	case key.Matches(k, d.KeyMap.Accept):
		if d.yes {
			return closeWith(d.run())
		}
		return closeWith(nil)
	}
	return nil
}

func (d *Confirm) run() tea.Cmd {
	if d.req.Cmd == nil {
		return nil
	}
	f := d.req.Cmd
	return func() tea.Msg { return f() }
}

// View draws the dialog.
func (d *Confirm) View() string {
	st := d.c.Styles
	w := width(d.c.Width)
	yes := d.req.Yes
	if yes == "" {
		yes = "Yes"
	}
	yb, nb := st.Button.Render(yes+" (y)"), st.ButtonActive.Render("Cancel (n)")
	if d.yes {
		yb, nb = st.ButtonActive.Render(yes+" (y)"), st.Button.Render("Cancel (n)")
	}
	body := []string{st.DialogTitle.Render(d.req.Title), ""}
	body = append(body, lipgloss.NewStyle().Width(w).Render(d.req.Prompt))
	body = append(body, "", yb+"  "+nb)
	return st.Dialog.Render(strings.Join(body, "\n"))
}
