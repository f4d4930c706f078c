package serial

import "charm.land/bubbles/v2/key"

// KeyMap is the serial viewer's keys.
type KeyMap struct {
	Port1, Port2, Port3, Port4 key.Binding
	Follow, Close              key.Binding
	Up, Down, PageUp, PageDown key.Binding
	Top, Bottom                key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Port1:    key.NewBinding(key.WithKeys("1"), key.WithHelp("1-4", "port")),
		Port2:    key.NewBinding(key.WithKeys("2")),
		Port3:    key.NewBinding(key.WithKeys("3")),
		Port4:    key.NewBinding(key.WithKeys("4")),
		Follow:   key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow on/off")),
		Close:    key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Port1, k.Follow, k.Up, k.Down, k.PageUp, k.Close}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Port1, k.Follow, k.Close}, {k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}}
}
