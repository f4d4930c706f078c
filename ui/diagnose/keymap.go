package diagnose

import "charm.land/bubbles/v2/key"

// KeyMap is the diagnose panel's keys.
type KeyMap struct {
	Run, Close                           key.Binding
	Up, Down, PageUp, PageDown, Top, End key.Binding
	Again, Port, Copy                    key.Binding
	FixFirewall, Start                   key.Binding
	Yes, No                              key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Run:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run")),
		Close:       key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
		Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
		Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		PageUp:      key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down")),
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		End:         key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Again:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run again")),
		Port:        key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "other port")),
		Copy:        key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy fix")),
		FixFirewall: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "create firewall rule")),
		Start:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "start VM")),
		Yes:         key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:          key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "no")),
	}
}
