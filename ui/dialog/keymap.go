package dialog

import "charm.land/bubbles/v2/key"

// KeyMap is shared by the dialogs.
type KeyMap struct {
	Yes, No, Left, Right, Accept, Cancel, Up, Down, Next key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Yes:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Left:   key.NewBinding(key.WithKeys("left", "h", "shift+tab"), key.WithHelp("←", "previous")),
		Right:  key.NewBinding(key.WithKeys("right", "l", "tab"), key.WithHelp("→", "next")),
		Accept: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "accept")),
		Cancel: key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "cancel")),
		Up:     key.NewBinding(key.WithKeys("up", "k", "shift+tab"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j", "tab"), key.WithHelp("↓/j", "down")),
		Next:   key.NewBinding(key.WithKeys("tab", "down", "shift+tab", "up"), key.WithHelp("tab", "next field")),
	}
}
