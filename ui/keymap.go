package ui

import (
	"charm.land/bubbles/v2/key"

	"iapterm/ui/actions"
	"iapterm/ui/common"
	"iapterm/ui/explorer"
)

// KeyMap is the root's own keys; the explorer and the actions registry add
// theirs.
type KeyMap struct {
	Quit, ForceQuit, Help, Tunnels, Menu, Add, Remove, Refresh, RefreshAll, Focus key.Binding
	DetailsUp, DetailsDown                                                        key.Binding
	// Tabs goes back to the SSH tabs (the tabs' own prefix key).
	Tabs key.Binding
}

// DefaultKeyMap returns the standard keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Quit:        key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit:   key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit from anywhere")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Tunnels:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tunnels panel")),
		Menu:        key.NewBinding(key.WithKeys("m", "space"), key.WithHelp("m/space", "actions menu")),
		Add:         key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add projects")),
		Remove:      key.NewBinding(key.WithKeys("x", "delete"), key.WithHelp("x", "remove project from view")),
		Refresh:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh project")),
		RefreshAll:  key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "refresh all")),
		Focus:       key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "focus tunnels/explorer")),
		DetailsUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "scroll details up")),
		DetailsDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "scroll details down")),
		Tabs:        key.NewBinding(key.WithKeys("ctrl+]"), key.WithHelp("ctrl+]", "back to SSH tabs")),
	}
}

// helpKeys implements help.KeyMap for the explorer screen.
type helpKeys struct {
	c    *common.Common
	root KeyMap
	exp  explorer.KeyMap
	// tabs is the number of open SSH tabs.
	tabs int
}

func (h helpKeys) ShortHelp() []key.Binding {
	connect, _ := actions.ByID(h.c, "connect")
	if h.tabs > 0 {
		return []key.Binding{connect.Key, h.root.Tabs, h.root.Menu, h.exp.Filter, h.root.Add, h.root.Tunnels, h.root.Help, h.root.Quit}
	}
	return []key.Binding{connect.Key, h.root.Menu, h.exp.Filter, h.root.Add, h.root.Tunnels, h.root.Help, h.root.Quit}
}

func (h helpKeys) FullHelp() [][]key.Binding {
	e := h.exp
	r := h.root
	panels := []key.Binding{r.Menu, r.Tunnels, r.Focus}
	if h.c.SSHTabs {
		panels = append(panels, r.Tabs)
	}
	panels = append(panels, r.DetailsUp, r.DetailsDown, r.Help, r.Quit, r.ForceQuit)
	return [][]key.Binding{
		{e.Up, e.Down, e.PageUp, e.PageDown, e.Home, e.End, e.Expand, e.Collapse, e.Toggle},
		{e.Filter, e.ClearFilter, e.ToggleLinux, e.ToggleWindows, r.Add, r.Remove, r.Refresh, r.RefreshAll},
		panels,
		actions.Bindings(h.c),
	}
}
