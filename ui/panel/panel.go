// Package panel is the contract between the root model and the full-screen
// views opened by actions (settings, profiles, the doctor's report): the
// root shows one panel at a time in place of the explorer, routes keys and
// its own messages to it, and closes it when asked.
package panel

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Panel is a full-screen view.
type Panel interface {
	// Init returns the panel's first command (a load, a focus).
	Init() tea.Cmd
	// Update handles keys, mouse wheel and the panel's own messages.
	Update(msg tea.Msg) tea.Cmd
	// View draws the panel in the size last given to SetSize.
	View() string
	SetSize(w, h int)
	// ShortHelp is the key line the root shows under the panel.
	ShortHelp() []key.Binding
}

// OpenedMsg asks the root to show Panel.
type OpenedMsg struct{ Panel Panel }

// ClosedMsg tells the root the panel is done; Cmd (may be nil) runs next.
type ClosedMsg struct{ Cmd tea.Cmd }

// Open returns a command that shows p.
func Open(p Panel) tea.Cmd { return func() tea.Msg { return OpenedMsg{Panel: p} } }

// Close returns a command that closes the open panel and then runs next.
func Close(next tea.Cmd) tea.Cmd { return func() tea.Msg { return ClosedMsg{Cmd: next} } }
