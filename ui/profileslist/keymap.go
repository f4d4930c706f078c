package profileslist

import "charm.land/bubbles/v2/key"

// KeyMap is the profiles list's keys.
type KeyMap struct {
	Up, Down, Connect, New, Reload, Close key.Binding
	Next, Prev, Left, Right, Save, Cancel key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Connect: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect")),
		New:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new from the selected instance")),
		Reload:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reload file")),
		Close:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
		Next:    key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
		Prev:    key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous field")),
		Left:    key.NewBinding(key.WithKeys("left"), key.WithHelp("←/→", "choose")),
		Right:   key.NewBinding(key.WithKeys("right")),
		Save:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}
