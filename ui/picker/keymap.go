package picker

import "charm.land/bubbles/v2/key"

// KeyMap is the project picker's keys. Letters go to the search field.
type KeyMap struct {
	Up, Down, Toggle, Accept, Cancel key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("↑", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "ctrl+n"), key.WithHelp("↓", "down")),
		Toggle: key.NewBinding(key.WithKeys("tab", "space"), key.WithHelp("tab/space", "select")),
		Accept: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "add selected")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Toggle, k.Accept, k.Cancel}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }
