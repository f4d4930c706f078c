package tunnels

import "charm.land/bubbles/v2/key"

// KeyMap is the tunnels panel's keys.
type KeyMap struct {
	Up, Down, Close, Copy, Back key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:    key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:  key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Close: key.NewBinding(key.WithKeys("x", "delete"), key.WithHelp("x", "close tunnel")),
		Copy:  key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy address")),
		Back:  key.NewBinding(key.WithKeys("esc", "tab"), key.WithHelp("esc/tab", "back to explorer")),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Close, k.Copy, k.Back}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }
