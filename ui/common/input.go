package common

import (
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Tick schedules a message after d. It is a variable so tests can run
// timers on their own schedule instead of sleeping.
var Tick = tea.Tick

// After schedules fn after d through Tick.
func After(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd { return Tick(d, fn) }

// NewInput returns a text field with a steady cursor: a blinking one would
// redraw the screen twice a second for nothing. Its width is the
// placeholder's, as a field without a width shows only the placeholder's
// first character; callers expecting longer values set a larger width.
func NewInput(prompt, placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.Placeholder = placeholder
	ti.SetWidth(lipgloss.Width(placeholder))
	ti.SetVirtualCursor(true)
	st := ti.Styles()
	st.Cursor.Blink = false
	ti.SetStyles(st)
	return ti
}
