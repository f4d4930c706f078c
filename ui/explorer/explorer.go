// Package explorer is the project tree: projects > zones > instances, with a
// filter, OS toggles, collapsed state and a selection that survive restarts.
package explorer

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// RowKind says what a tree row is.
type RowKind int

const (
	ProjectRow RowKind = iota
	ZoneRow
	InstanceRow
)

// Row is one visible line of the tree.
type Row struct {
	Kind    RowKind
	Project string
	Zone    string
	// Instance is set for instance rows.
	Instance *projects.Instance
	// Count is the number of (matching) instances under a project or zone.
	Count int
}

// Key identifies a row across reloads: "p:PROJECT", "z:PROJECT/ZONE" or
// "i:PROJECT/ZONE/NAME".
func (r Row) Key() string {
	switch r.Kind {
	case ProjectRow:
		return "p:" + r.Project
	case ZoneRow:
		return "z:" + r.Project + "/" + r.Zone
	default:
		return "i:" + r.Project + "/" + r.Zone + "/" + r.Instance.Name
	}
}

type zoneGroup struct {
	name  string
	insts []indexed
}

type projectGroup struct {
	info   projects.Project
	zones  []zoneGroup
	loaded bool
}

// Model is the explorer component.
type Model struct {
	c      *common.Common
	KeyMap KeyMap

	order     []string // added project IDs, sorted
	groups    map[string]*projectGroup
	loading   map[string]bool
	warnings  map[string][]string
	collapsed map[string]bool
	marked    map[string]bool // instance keys with an open tunnel or session

	filterInput textinput.Model
	filtering   bool // the filter input has focus
	filter      Filter
	showLinux   bool
	showWindows bool

	rows    []Row
	cursor  int
	offset  int
	selKey  string
	spinner string
}

// New returns an empty explorer.
func New(c *common.Common) *Model {
	ti := common.NewInput("/ ", "name, env:prod, status:running, os:windows")
	m := &Model{
		c:           c,
		KeyMap:      DefaultKeyMap(),
		groups:      map[string]*projectGroup{},
		loading:     map[string]bool{},
		warnings:    map[string][]string{},
		collapsed:   map[string]bool{},
		marked:      map[string]bool{},
		filterInput: ti,
		showLinux:   true,
		showWindows: true,
	}
	return m
}

// SetProjects sets the list of added projects (the tree's roots).
func (m *Model) SetProjects(ids []string) {
	seen := map[string]bool{}
	m.order = m.order[:0]
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		m.order = append(m.order, id)
	}
	sort.Strings(m.order)
	m.rebuild()
}

// Projects returns the added project IDs, sorted.
func (m *Model) Projects() []string { return append([]string(nil), m.order...) }

// SetInventory replaces the data of the projects inv contains (others keep
// what they had, so refreshing one project leaves the rest alone). It takes
// ownership of inv's instance slices: the caller must not change them.
func (m *Model) SetInventory(inv projects.Inventory) {
	for _, p := range inv.Projects {
		m.setProject(p, inv.Instances[p.ID])
		delete(m.warnings, p.ID)
	}
	for id, insts := range inv.Instances {
		if g, ok := m.groups[id]; !ok || !g.loaded {
			m.setProject(projects.Project{ID: id}, insts)
		}
	}
	for id, w := range inv.Warnings {
		m.warnings[id] = w
	}
	m.rebuild()
}

func (m *Model) setProject(p projects.Project, insts []projects.Instance) {
	g := &projectGroup{info: p, loaded: true}
	// The rows point into insts (SetInventory takes ownership) and are
	// ordered by pointer, so 10,000 instances are neither copied nor moved.
	own := insts
	order := make([]*projects.Instance, len(own))
	for i := range own {
		order[i] = &own[i]
		if own[i].Project == "" {
			own[i].Project = p.ID
		}
	}
	cmp := func(a, b *projects.Instance) int {
		if c := strings.Compare(a.Zone, b.Zone); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}
	if !slices.IsSortedFunc(order, cmp) {
		slices.SortStableFunc(order, cmp)
	}
	n := 0
	for i, inst := range order {
		if i == 0 || inst.Zone != order[i-1].Zone {
			n++
		}
	}
	g.zones = make([]zoneGroup, 0, n)
	for i, inst := range order {
		if i == 0 || inst.Zone != order[i-1].Zone {
			g.zones = append(g.zones, zoneGroup{name: inst.Zone})
		}
		z := &g.zones[len(g.zones)-1]
		z.insts = append(z.insts, index(inst))
	}
	m.groups[p.ID] = g
}

// Instance returns a loaded instance by key (project/zone/name).
func (m *Model) Instance(k string) (projects.Instance, bool) {
	parts := strings.SplitN(k, "/", 3)
	if len(parts) != 3 {
		return projects.Instance{}, false
	}
	g := m.groups[parts[0]]
	if g == nil {
		return projects.Instance{}, false
	}
	for _, z := range g.zones {
		if z.name != parts[1] {
			continue
		}
		for _, ix := range z.insts {
			if ix.inst.Name == parts[2] {
				return *ix.inst, true
			}
		}
	}
	return projects.Instance{}, false
}

// Inventory returns what is loaded, for the cache.
func (m *Model) Inventory() projects.Inventory {
	inv := projects.Inventory{Instances: map[string][]projects.Instance{}}
	for _, id := range m.order {
		g := m.groups[id]
		if g == nil || !g.loaded {
			continue
		}
		inv.Projects = append(inv.Projects, g.info)
		list := []projects.Instance{}
		for _, z := range g.zones {
			for _, ix := range z.insts {
				list = append(list, *ix.inst)
			}
		}
		inv.Instances[id] = list
	}
	return inv
}

// SetLoading marks projects as loading (or not); the tree shows a spinner.
func (m *Model) SetLoading(ids []string, on bool) {
	for _, id := range ids {
		if on {
			m.loading[id] = true
		} else {
			delete(m.loading, id)
		}
	}
}

// SetProjectError records why a project failed to load.
func (m *Model) SetProjectError(id string, msg string) {
	m.warnings[id] = []string{msg}
}

// Warnings returns the load problems of a project.
func (m *Model) Warnings(id string) []string { return m.warnings[id] }

// SetSpinner sets the frame drawn beside loading projects.
func (m *Model) SetSpinner(s string) { m.spinner = s }

// SetMarked sets the instance keys that have a tunnel or session open.
func (m *Model) SetMarked(keys map[string]bool) { m.marked = keys }

// Collapsed returns the collapsed row keys, sorted, for the state file.
func (m *Model) Collapsed() []string {
	out := make([]string, 0, len(m.collapsed))
	for k := range m.collapsed {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SetCollapsed restores collapsed row keys.
func (m *Model) SetCollapsed(keys []string) {
	m.collapsed = map[string]bool{}
	for _, k := range keys {
		m.collapsed[k] = true
	}
	m.rebuild()
}

// SelectedKey is the key of the selected row (for the state file).
func (m *Model) SelectedKey() string { return m.selKey }

// Select moves the selection to the row with key k, when it is visible; the
// choice is remembered even if it is not (yet).
func (m *Model) Select(k string) {
	m.selKey = k
	for i, r := range m.rows {
		if r.Key() == k {
			m.cursor = i
			m.scrollToCursor()
			return
		}
	}
}

// OSFilter reports which OS families are shown.
func (m *Model) OSFilter() (linux, windows bool) { return m.showLinux, m.showWindows }

// SetOSFilter sets which OS families are shown.
func (m *Model) SetOSFilter(linux, windows bool) {
	m.showLinux, m.showWindows = linux, windows
	m.rebuild()
}

// FilterText is the current filter expression.
func (m *Model) FilterText() string { return m.filterInput.Value() }

// SetFilter sets the filter expression.
func (m *Model) SetFilter(s string) {
	m.filterInput.SetValue(s)
	m.applyFilter()
}

// Filtering reports whether the filter input has the keyboard.
func (m *Model) Filtering() bool { return m.filtering }

// Rows returns the visible rows.
func (m *Model) Rows() []Row { return m.rows }

// Cursor is the index of the selected row.
func (m *Model) Cursor() int { return m.cursor }

// Selected returns the selected row.
func (m *Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.cursor], true
}

// SelectedInstance returns the selected instance, if an instance row is selected.
func (m *Model) SelectedInstance() (projects.Instance, bool) {
	r, ok := m.Selected()
	if !ok || r.Kind != InstanceRow {
		return projects.Instance{}, false
	}
	return *r.Instance, true
}

// ProjectInfo returns what is known about a project.
func (m *Model) ProjectInfo(id string) (projects.Project, bool) {
	g := m.groups[id]
	if g == nil {
		return projects.Project{ID: id}, false
	}
	return g.info, g.loaded
}

// Counts returns the number of loaded instances and of those shown.
func (m *Model) Counts() (total, shown int) {
	for _, id := range m.order {
		if g := m.groups[id]; g != nil {
			for _, z := range g.zones {
				total += len(z.insts)
			}
		}
	}
	for _, r := range m.rows {
		if r.Kind == ProjectRow {
			shown += r.Count
		}
	}
	return total, shown
}

func (m *Model) narrowed() bool {
	return !m.filter.Empty() || !m.showLinux || !m.showWindows
}

func (m *Model) visible(ix *indexed) bool {
	if ix.inst.OS == projects.Windows {
		if !m.showWindows {
			return false
		}
	} else if !m.showLinux {
		return false
	}
	return m.filter.Empty() || m.filter.match(ix)
}

// rebuild recomputes the visible rows from the data, filter and collapsed
// state, keeping the selection on the same row when it is still there.
func (m *Model) rebuild() {
	narrowed := m.narrowed()
	// While a filter narrows the tree every match is shown: a match hidden
	// under a collapsed project would look like no match.
	ignoreCollapsed := !m.filter.Empty()
	rows := m.rows[:0]
	var matches []*indexed
	for _, id := range m.order {
		g := m.groups[id]
		if g == nil || !g.loaded {
			if !narrowed {
				rows = append(rows, Row{Kind: ProjectRow, Project: id})
			}
			continue
		}
		pIdx := len(rows)
		rows = append(rows, Row{Kind: ProjectRow, Project: id})
		pCollapsed := !ignoreCollapsed && m.collapsed["p:"+id]
		total := 0
		for zi := range g.zones {
			z := &g.zones[zi]
			matches = matches[:0]
			for i := range z.insts {
				if m.visible(&z.insts[i]) {
					matches = append(matches, &z.insts[i])
				}
			}
			if len(matches) == 0 {
				continue
			}
			total += len(matches)
			if pCollapsed {
				continue
			}
			rows = append(rows, Row{Kind: ZoneRow, Project: id, Zone: z.name, Count: len(matches)})
			if !ignoreCollapsed && m.collapsed["z:"+id+"/"+z.name] {
				continue
			}
			for _, ix := range matches {
				rows = append(rows, Row{Kind: InstanceRow, Project: id, Zone: z.name, Instance: ix.inst})
			}
		}
		if total == 0 && narrowed {
			rows = rows[:pIdx]
			continue
		}
		rows[pIdx].Count = total
	}
	m.rows = rows
	m.restoreCursor()
}

func (m *Model) restoreCursor() {
	if m.selKey != "" {
		for i, r := range m.rows {
			if r.Key() == m.selKey {
				m.cursor = i
				m.scrollToCursor()
				return
			}
		}
	}
	if m.cursor >= len(m.rows) {
		m.cursor = len(m.rows) - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
	m.scrollToCursor()
}

func (m *Model) listHeight() int {
	h := m.c.Height
	if m.filtering || m.filterInput.Value() != "" {
		h-- // the filter line
	}
	if h < 1 {
		h = 1
	}
	return h
}

func (m *Model) scrollToCursor() {
	h := m.listHeight()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	if max := len(m.rows) - h; m.offset > max {
		m.offset = max
	}
	if m.offset < 0 {
		m.offset = 0
	}
}

func (m *Model) move(delta int) {
	if len(m.rows) == 0 {
		return
	}
	m.cursor += delta
	if m.cursor < 0 {
		m.cursor = 0
	}
	if m.cursor >= len(m.rows) {
		m.cursor = len(m.rows) - 1
	}
	m.selKey = m.rows[m.cursor].Key()
	m.scrollToCursor()
}

// StateChangedMsg tells the root that persisted explorer state changed.
type StateChangedMsg struct{}

func changed() tea.Msg { return StateChangedMsg{} }

// SetSize sets the area the tree draws in.
func (m *Model) SetSize(w, h int) {
	m.filterInput.SetWidth(w - 3)
	m.scrollToCursor()
}

// Update handles keys and mouse for the tree. It returns handled=false for
// keys it does not use so the root can try the action keys.
func (m *Model) Update(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if m.filtering {
			return m.updateFilter(msg)
		}
		return m.updateKeys(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.move(-3)
		case tea.MouseWheelDown:
			m.move(3)
		}
		return changed, true
	}
	return nil, false
}

// Click selects the row at line y of the tree area.
func (m *Model) Click(y int) tea.Cmd {
	if m.filtering || m.filterInput.Value() != "" {
		y--
	}
	i := m.offset + y
	if y < 0 || i >= len(m.rows) {
		return nil
	}
	if i == m.cursor {
		r := m.rows[i]
		if r.Kind != InstanceRow {
			m.toggle(r)
		}
	}
	m.cursor = i
	m.selKey = m.rows[i].Key()
	return changed
}

func (m *Model) updateFilter(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, m.KeyMap.ClearFilter):
		m.filtering = false
		m.filterInput.Blur()
		m.filterInput.SetValue("")
		m.applyFilter()
		return nil, true
	case key.Matches(msg, m.KeyMap.AcceptFilter):
		m.filtering = false
		m.filterInput.Blur()
		return nil, true
	case msg.String() == "up", msg.String() == "down", msg.String() == "pgup", msg.String() == "pgdown":
		return m.updateKeys(msg)
	}
	var cmd tea.Cmd
	before := m.filterInput.Value()
	m.filterInput, cmd = m.filterInput.Update(msg)
	if m.filterInput.Value() != before {
		m.applyFilter()
	}
	return cmd, true
}

func (m *Model) applyFilter() {
	m.filter = ParseFilter(m.filterInput.Value())
	m.rebuild()
	// A filter looks for VMs: unless a matching VM is already selected, the
	// first match gets the cursor, so "/web-1 enter enter" connects.
	if !m.filter.Empty() && (m.cursor >= len(m.rows) || m.rows[m.cursor].Kind != InstanceRow) {
		if i := slices.IndexFunc(m.rows, func(r Row) bool { return r.Kind == InstanceRow }); i >= 0 {
			m.cursor = i
			m.scrollToCursor()
		}
	}
	// The selection is the row the cursor shows, also when the filter hid
	// the one selected before: clearing the filter must not jump back to it.
	if m.cursor < len(m.rows) {
		m.selKey = m.rows[m.cursor].Key()
	}
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	km := m.KeyMap
	switch {
	case key.Matches(msg, km.Up):
		m.move(-1)
	case key.Matches(msg, km.Down):
		m.move(1)
	case key.Matches(msg, km.PageUp):
		m.move(-m.listHeight())
	case key.Matches(msg, km.PageDown):
		m.move(m.listHeight())
	case key.Matches(msg, km.Home):
		m.move(-len(m.rows))
	case key.Matches(msg, km.End):
		m.move(len(m.rows))
	case key.Matches(msg, km.Filter):
		m.filtering = true
		return m.filterInput.Focus(), true
	case key.Matches(msg, km.ClearFilter):
		if m.filterInput.Value() == "" {
			return nil, false
		}
		m.filterInput.SetValue("")
		m.applyFilter()
		return nil, true
	case key.Matches(msg, km.ToggleLinux):
		m.showLinux = !m.showLinux
		m.rebuild()
	case key.Matches(msg, km.ToggleWindows):
		m.showWindows = !m.showWindows
		m.rebuild()
	case key.Matches(msg, km.Expand):
		r, ok := m.Selected()
		if !ok || r.Kind == InstanceRow {
			return nil, ok
		}
		if m.isCollapsed(r) {
			m.toggle(r)
		} else {
			m.move(1)
		}
	case key.Matches(msg, km.Collapse):
		r, ok := m.Selected()
		if !ok {
			return nil, false
		}
		if r.Kind != InstanceRow && !m.isCollapsed(r) && m.filter.Empty() {
			m.toggle(r)
		} else {
			m.goParent(r)
		}
	case key.Matches(msg, km.Toggle):
		r, ok := m.Selected()
		if !ok || r.Kind == InstanceRow {
			return nil, false // enter on an instance is the connect action
		}
		m.toggle(r)
	default:
		return nil, false
	}
	return changed, true
}

func (m *Model) isCollapsed(r Row) bool { return m.collapsed[r.Key()] }

func (m *Model) toggle(r Row) {
	if !m.filter.Empty() {
		return
	}
	k := r.Key()
	if m.collapsed[k] {
		delete(m.collapsed, k)
	} else {
		m.collapsed[k] = true
	}
	m.selKey = k
	m.rebuild()
}

func (m *Model) goParent(r Row) {
	var parent string
	switch r.Kind {
	case InstanceRow:
		parent = "z:" + r.Project + "/" + r.Zone
	case ZoneRow:
		parent = "p:" + r.Project
	default:
		return
	}
	m.Select(parent)
}

// View draws the tree in the area set by the common size.
func (m *Model) View() string {
	w, h := m.c.Width, m.c.Height
	var b strings.Builder
	lines := 0
	if m.filtering || m.filterInput.Value() != "" {
		b.WriteString(common.PadRight(m.filterInput.View(), w))
		lines++
	}
	if len(m.order) == 0 {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(common.FitLines(m.c.Styles.Dim.Render("No projects yet: press a to add one."), w, h-lines))
		return b.String()
	}
	if len(m.rows) == 0 {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(common.FitLines(m.c.Styles.Dim.Render("Nothing matches the filter."), w, h-lines))
		return b.String()
	}
	end := m.offset + (h - lines)
	if end > len(m.rows) {
		end = len(m.rows)
	}
	for i := m.offset; i < end; i++ {
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.renderRow(m.rows[i], i == m.cursor, w))
		lines++
	}
	for ; lines < h; lines++ {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", w))
	}
	return b.String()
}

func (m *Model) renderRow(r Row, selected bool, w int) string {
	st := m.c.Styles
	g := m.c.Glyphs()
	// A one-cell gutter carries a cursor mark, so the selection shows even
	// where reverse video does not (plain logs, screen readers).
	gutter := " "
	if selected {
		gutter = g.Cursor
	}
	w--
	var line string
	switch r.Kind {
	case ProjectRow:
		exp := g.Expanded
		if m.collapsed[r.Key()] && m.filter.Empty() {
			exp = g.Collapsed
		}
		grp := m.groups[r.Project]
		name := st.Project.Render(r.Project)
		suffix := ""
		switch {
		case grp == nil || !grp.loaded:
			if m.loading[r.Project] {
				suffix = " " + m.spinner + " loading"
			} else if len(m.warnings[r.Project]) > 0 {
				suffix = " " + st.Error.Render(g.Warning+" not loaded")
			}
		default:
			suffix = st.Dim.Render(fmt.Sprintf(" (%d)", r.Count))
			if m.loading[r.Project] {
				suffix += " " + m.spinner
			}
			if len(m.warnings[r.Project]) > 0 {
				suffix += " " + st.Warning.Render(g.Warning)
			}
		}
		line = exp + " " + name + suffix
	case ZoneRow:
		exp := g.Expanded
		if m.collapsed[r.Key()] && m.filter.Empty() {
			exp = g.Collapsed
		}
		line = strings.Repeat(" ", indentZone) + exp + " " + st.Zone.Render(r.Zone) + st.Dim.Render(fmt.Sprintf(" (%d)", r.Count))
	default:
		inst := r.Instance
		mark := " "
		if m.marked[inst.Key()] {
			mark = st.Marker.Render(g.Marker)
		}
		status := inst.Status
		if status == "" {
			status = "UNKNOWN"
		}
		nameW := w - indentInst - 4 - statusWidth
		if nameW < 4 {
			nameW = 4
		}
		line = strings.Repeat(" ", indentInst) + g.OSGlyph(inst.OS) + " " + common.PadRight(inst.Name, nameW) + " " +
			st.StatusStyle(inst.Status).Render(status) + " " + mark
	}
	line = common.PadRight(line, w)
	if selected {
		// Reverse video over the plain text so the selection shows even
		// without colours.
		return gutter + st.Selected.Render(common.PadRight(ansiStrip(line), w))
	}
	return gutter + line
}
