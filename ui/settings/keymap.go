package settings

import "charm.land/bubbles/v2/key"

// KeyMap is the settings view's keys.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Change, Edit, Reset, Parent, Reload     key.Binding
	AddPort                                 key.Binding
	Close                                   key.Binding
	Save, Cancel                            key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),
		Change:   key.NewBinding(key.WithKeys("enter", "space"), key.WithHelp("enter", "change (toggle/cycle/edit)")),
		Edit:     key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "type a value")),
		Reset:    key.NewBinding(key.WithKeys("x", "delete", "backspace"), key.WithHelp("x", "reset to inherited")),
		Parent:   key.NewBinding(key.WithKeys("left", "h", "u"), key.WithHelp("←/u", "parent level")),
		Reload:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reload file")),
		AddPort:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "fixed local port")),
		Close:    key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
		Save:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")),
		Cancel:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}
