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
	// off is the first line of the message shown when it is taller than
	// the screen.
	off int
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

// Update dismisses the shown error on enter, esc or space, and scrolls
// a message taller than the screen.
func (p *ErrorPanel) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter", "esc", "space", "q":
			if len(p.errs) > 0 {
				p.errs = p.errs[1:]
			}
			p.off = 0
		case "up", "k":
			p.off--
		case "down", "j":
			p.off++
		case "pgup":
			p.off -= max(p.room()-1, 1)
		case "pgdown":
			p.off += max(p.room()-1, 1)
		case "home", "g":
			p.off = 0
		case "end", "G":
			p.off = len(p.body())
		}
	}
	return nil
}

// room is how many lines of the message fit on the screen: the border,
// the title and the dismiss line, with their blank lines, take six.
func (p *ErrorPanel) room() int { return max(p.c.Height-6, 3) }

// body is the current error's message and hint, wrapped to the panel.
func (p *ErrorPanel) body() []string {
	e, ok := p.Current()
	if !ok {
		return nil
	}
	st := p.c.Styles
	w := width(p.c.Width)
	box := lipgloss.NewStyle().Width(w)
	var parts []string
	if e.Err != nil {
		parts = append(parts, box.Render(wrapWords(e.Err.Error(), w)))
	}
	if e.Hint != "" {
		parts = append(parts, box.Render(st.Info.Render(wrapWords(e.Hint, w))))
	}
	if len(parts) == 0 {
		return nil
	}
	return strings.Split(strings.Join(parts, "\n\n"), "\n")
}

// View draws the current error.
func (p *ErrorPanel) View() string {
	e, ok := p.Current()
	if !ok {
		return ""
	}
	st := p.c.Styles
	title := e.Title
	if title == "" {
		title = "Error"
	}
	lines := []string{st.ErrorTitle.Render(title)}
	more := ""
	if len(p.errs) > 1 {
		more = fmt.Sprintf(" (%d more)", len(p.errs)-1)
	}
	keys := wrapWords("enter/esc dismiss"+more, width(p.c.Width))
	if body := p.body(); len(body) > 0 {
		// A message taller than the screen shows a window of it; the
		// title and the keys stay.
		if room := p.room(); len(body) > room {
			arrows := "↑/↓"
			if p.c.ASCII {
				arrows = "up/down"
			}
			keys = wrapWords(fmt.Sprintf("%s scroll (lines %d-%d of %d) · ", arrows, len(body), len(body), len(body))+"enter/esc dismiss"+more, width(p.c.Width))
			room -= strings.Count(keys, "\n")
			p.off = min(max(p.off, 0), len(body)-room)
			keys = wrapWords(fmt.Sprintf("%s scroll (lines %d-%d of %d) · ", arrows, p.off+1, p.off+room, len(body))+"enter/esc dismiss"+more, width(p.c.Width))
			body = body[p.off : p.off+room]
		} else {
			p.off = 0
		}
		lines = append(lines, "")
		lines = append(lines, body...)
	}
	lines = append(lines, "", st.Dim.Render(keys))
	return st.ErrorPanel.Render(strings.Join(lines, "\n"))
}

// wrapWords wraps the panel's text between words, keeping indentation
// (see common.WrapWords).
func wrapWords(s string, w int) string { return common.WrapWords(s, w) }
