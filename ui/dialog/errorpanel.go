package dialog

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"iapterm/ui/common"
)

// ErrorPanel shows errors until dismissed; several queue up.
type ErrorPanel struct {
	c    *common.Common
	errs []common.ErrorRaisedMsg
}

// NewErrorPanel returns an empty panel.
func NewErrorPanel(c *common.Common) *ErrorPanel { return &ErrorPanel{c: c} }

// Push adds an error.
func (p *ErrorPanel) Push(e common.ErrorRaisedMsg) {
	p.errs = append(p.errs, e)
	if len(p.errs) > 20 {
		p.errs = p.errs[len(p.errs)-20:]
	}
}

// Visible reports whether there is an error to show.
func (p *ErrorPanel) Visible() bool { return len(p.errs) > 0 }

// Len is the number of queued errors.
func (p *ErrorPanel) Len() int { return len(p.errs) }

// Current is the error shown.
func (p *ErrorPanel) Current() (common.ErrorRaisedMsg, bool) {
	if len(p.errs) == 0 {
		return common.ErrorRaisedMsg{}, false
	}
	return p.errs[0], true
}

// Update dismisses the shown error on enter, esc or space.
func (p *ErrorPanel) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter", "esc", "space", "q":
			if len(p.errs) > 0 {
				p.errs = p.errs[1:]
			}
		}
	}
	return nil
}

// View draws the current error.
func (p *ErrorPanel) View() string {
	e, ok := p.Current()
	if !ok {
		return ""
	}
	st := p.c.Styles
	w := width(p.c.Width)
	wrap := lipgloss.NewStyle().Width(w)
	title := e.Title
	if title == "" {
		title = "Error"
	}
	lines := []string{st.ErrorTitle.Render(title)}
	if e.Err != nil {
		lines = append(lines, "", wrap.Render(e.Err.Error()))
	}
	if e.Hint != "" {
		lines = append(lines, "", wrap.Render(st.Info.Render(e.Hint)))
	}
	more := ""
	if len(p.errs) > 1 {
		more = fmt.Sprintf(" (%d more)", len(p.errs)-1)
	}
	lines = append(lines, "", st.Dim.Render("enter/esc dismiss"+more))
	return st.ErrorPanel.Render(strings.Join(lines, "\n"))
}
