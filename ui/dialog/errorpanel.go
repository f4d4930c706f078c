package dialog

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

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
	box := lipgloss.NewStyle().Width(w)
	title := e.Title
	if title == "" {
		title = "Error"
	}
	lines := []string{st.ErrorTitle.Render(title)}
	if e.Err != nil {
		lines = append(lines, "", box.Render(wrapWords(e.Err.Error(), w)))
	}
	if e.Hint != "" {
		lines = append(lines, "", box.Render(st.Info.Render(wrapWords(e.Hint, w))))
	}
	more := ""
	if len(p.errs) > 1 {
		more = fmt.Sprintf(" (%d more)", len(p.errs)-1)
	}
	lines = append(lines, "", st.Dim.Render("enter/esc dismiss"+more))
	return st.ErrorPanel.Render(strings.Join(lines, "\n"))
}

// wrapWords wraps plain text to w cells at spaces only, keeping each line's
// indentation: lipgloss also breaks at hyphens, which cut the commands in
// messages in the middle of a flag (--source-, ranges=...). The lines a
// long line wraps into are indented like it, so an indented command reads
// as one block. A word wider than the room left is cut, its pieces
// indented too; indentation is capped at half of w so words keep room.
func wrapWords(s string, w int) string {
	w = max(w, 2)
	var out []string
	for _, line := range strings.Split(s, "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		if len(indent) > w/2 {
			indent = indent[:w/2]
		}
		cur := indent
		for _, word := range strings.Fields(line) {
			switch {
			case cur == indent:
				cur += word
			case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= w:
				cur += " " + word
			default:
				out = append(out, cur)
				cur = indent + word
			}
			for ansi.StringWidth(cur) > w {
				out = append(out, ansi.Truncate(cur, w, ""))
				cur = indent + ansi.TruncateLeft(cur, w, "")
			}
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}
