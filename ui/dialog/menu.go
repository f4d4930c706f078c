package dialog

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/actions"
	"iapterm/ui/common"
)

// Menu lists the actions that apply to one instance, grouped, with their keys.
type Menu struct {
	c      *common.Common
	KeyMap KeyMap
	inst   projects.Instance
	items  []actions.Action
	cursor int
}

// NewMenu builds the menu for inst from the actions registry.
func NewMenu(c *common.Common, inst projects.Instance) *Menu {
	return &Menu{c: c, KeyMap: DefaultKeyMap(), inst: inst, items: actions.For(c, inst)}
}

// Items returns the actions shown.
func (d *Menu) Items() []actions.Action { return d.items }

// Update handles keys: arrows and enter, or an action's own key.
func (d *Menu) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, d.KeyMap.Cancel), k.String() == "m", k.String() == "space":
		return closeWith(nil)
	case key.Matches(k, d.KeyMap.Accept):
		if d.cursor < len(d.items) {
			return closeWith(d.items[d.cursor].Run(d.c, d.inst))
		}
		return closeWith(nil)
	case key.Matches(k, d.KeyMap.Up):
		if d.cursor > 0 {
			d.cursor--
		}
		return nil
	case key.Matches(k, d.KeyMap.Down):
		if d.cursor < len(d.items)-1 {
			d.cursor++
		}
		return nil
	}
	for _, a := range d.items {
		if len(a.Key.Keys()) > 0 && key.Matches(k, a.Key) {
			return closeWith(a.Run(d.c, d.inst))
		}
	}
	return nil
}

// View draws the menu.
func (d *Menu) View() string {
	st := d.c.Styles
	w := width(d.c.Width)
	if w > 44 {
		w = 44
	}
	lines := []string{st.DialogTitle.Render(d.inst.Name), st.Dim.Render(d.inst.Status)}
	var group actions.Group
	for i, a := range d.items {
		if a.Group != group {
			group = a.Group
			lines = append(lines, st.Label.Render(string(group)))
		}
		k := ""
		if len(a.Key.Keys()) > 0 {
			k = a.Key.Help().Key
		}
		line := "  " + common.PadRight(a.Name, w-10) + " " + common.PadRight(k, 6)
		if i == d.cursor {
			line = st.Selected.Render(line)
		} else if k != "" {
			line = "  " + common.PadRight(a.Name, w-10) + " " + st.Key.Render(common.PadRight(k, 6))
		}
		lines = append(lines, line)
	}
	lines = append(lines, "", st.Dim.Render("enter run · esc close"))
	return st.Dialog.Render(strings.Join(lines, "\n"))
}
