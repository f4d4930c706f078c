package dialog

import (
	"fmt"
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
	offset int // first body line shown when the menu is taller than the screen
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

// menuChrome is the menu's height besides its body: border, title,
// status, blank line and hint.
const menuChrome = 6

// View draws the menu; when it is taller than the screen the body scrolls
// with the cursor and says how much is above and below.
func (d *Menu) View() string {
	st := d.c.Styles
	w := width(d.c.Width)
	if w > 44 {
		w = 44
	}
	type row struct {
		text string
		item int // -1: a group heading
	}
	var rows []row
	var group actions.Group
	cur := 0
	for i, a := range d.items {
		if a.Group != group {
			group = a.Group
			rows = append(rows, row{st.Label.Render(string(group)), -1})
		}
		k := ""
		if len(a.Key.Keys()) > 0 {
			k = a.Key.Help().Key
		}
		line := "  " + common.PadRight(a.Name, w-10) + " " + common.PadRight(k, 6)
		if i == d.cursor {
			line = st.Selected.Render(line)
			cur = len(rows)
		} else if k != "" {
			line = "  " + common.PadRight(a.Name, w-10) + " " + st.Key.Render(common.PadRight(k, 6))
		}
		rows = append(rows, row{line, i})
	}
	avail := d.c.Height - menuChrome
	if avail < 3 {
		avail = 3
	}
	lines := []string{st.DialogTitle.Render(d.inst.Name), st.Dim.Render(d.inst.Status)}
	if len(rows) <= avail {
		d.offset = 0
		for _, r := range rows {
			lines = append(lines, r.text)
		}
	} else {
		// Keep the cursor (and its heading right above it) between the
		// "more" lines that take the first and last row of the window.
		want := cur
		if cur > 0 && rows[cur-1].item < 0 {
			want = cur - 1
		}
		for range 2 {
			top, bottom := d.offset, d.offset+avail-1
			if d.offset > 0 {
				top++
			}
			if d.offset+avail < len(rows) {
				bottom--
			}
			switch {
			case want < top:
				d.offset = max(want-1, 0)
			case cur > bottom:
				d.offset = cur - avail + 2
			}
			d.offset = min(max(d.offset, 0), len(rows)-avail)
		}
		items := func(rs []row) (n int) {
			for _, r := range rs {
				if r.item >= 0 {
					n++
				}
			}
			return n
		}
		for i := d.offset; i < d.offset+avail; i++ {
			switch {
			case i == d.offset && d.offset > 0:
				lines = append(lines, st.Dim.Render(fmt.Sprintf("  ↑ %d more", items(rows[:i+1]))))
			case i == d.offset+avail-1 && i < len(rows)-1:
				lines = append(lines, st.Dim.Render(fmt.Sprintf("  ↓ %d more", items(rows[i:]))))
			default:
				lines = append(lines, rows[i].text)
			}
		}
	}
	lines = append(lines, "", st.Dim.Render("enter run · esc close"))
	return st.Dialog.Render(strings.Join(lines, "\n"))
}
