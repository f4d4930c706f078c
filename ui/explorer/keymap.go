package explorer

import "charm.land/bubbles/v2/key"

// KeyMap is the explorer's navigation keys; instance actions come from the
// actions registry.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
	Expand, Collapse, Toggle              key.Binding
	Filter, ClearFilter, AcceptFilter     key.Binding
	ToggleLinux, ToggleWindows            key.Binding
}

// DefaultKeyMap returns the standard explorer keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:            key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:          key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:        key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown:      key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Home:          key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		End:           key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		Expand:        key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "expand")),
		Collapse:      key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "collapse")),
		Toggle:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "expand/collapse")),
		Filter:        key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		AcceptFilter:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		ToggleLinux:   key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "show/hide Linux")),
		ToggleWindows: key.NewBinding(key.WithKeys("W"), key.WithHelp("W", "show/hide Windows")),
	}
}
