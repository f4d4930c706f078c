// Package picker is the dialog that adds projects: it searches Resource
// Manager as the user types and lets them select several results.
package picker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// DoneMsg reports the projects the user chose (empty when cancelled).
type DoneMsg struct{ Added []string }

// searchDueMsg fires when typing paused.
type searchDueMsg struct{ seq int }

// ResultsMsg carries a search's results.
type ResultsMsg struct {
	seq     int
	Results []projects.Project
	Err     error
}

// Model is the picker.
type Model struct {
	c        *common.Common
	KeyMap   KeyMap
	input    textinput.Model
	existing map[string]bool
	results  []projects.Project
	chosen   map[string]bool
	cursor   int
	seq      int
	busy     bool
	err      error
	spinner  string
	Debounce time.Duration
	// note says why enter added nothing.
	note string
}

// projectID matches what can be a project ID (with the domain prefix of
// old domain-scoped projects), to add a project the search cannot list.
var projectID = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*:)?[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// typedID is the search text when it can be added as a project ID that
// no result shows: the search lists only projects the account may read
// (resourcemanager.projects.list), while tunnels may still be allowed.
func (m *Model) typedID() (string, bool) {
	id := strings.TrimSpace(m.input.Value())
	if !projectID.MatchString(id) {
		return "", false
	}
	for _, p := range m.results {
		if p.ID == id {
			return "", false
		}
	}
	return id, true
}

// New returns a picker; existing are the projects already added.
func New(c *common.Common, existing []string) *Model {
	ti := common.NewInput("Search: ", "project name or ID")
	ex := map[string]bool{}
	for _, id := range existing {
		ex[id] = true
	}
	return &Model{c: c, KeyMap: DefaultKeyMap(), input: ti, existing: ex, chosen: map[string]bool{}, Debounce: debounce}
}

// Init focuses the field and lists the first projects.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.input.Focus(), m.search())
}

// Chosen returns the selected project IDs in result order.
func (m *Model) Chosen() []string {
	var out []string
	for _, p := range m.results {
		if m.chosen[p.ID] {
			out = append(out, p.ID)
		}
	}
	return out
}

// Results returns the last results.
func (m *Model) Results() []projects.Project { return m.results }

// Busy reports whether a search is running.
func (m *Model) Busy() bool { return m.busy }

// SetSpinner sets the frame shown while searching.
func (m *Model) SetSpinner(s string) { m.spinner = s }

func (m *Model) search() tea.Cmd {
	m.seq++
	seq := m.seq
	s := m.c.Backend.Searcher
	q := strings.TrimSpace(m.input.Value())
	m.busy = true
	ctx := m.c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return func() tea.Msg {
		if s == nil {
			return ResultsMsg{seq: seq, Err: errors.New("project search is not available in this session")}
		}
		res, err := s.SearchProjects(ctx, q, MaxResults)
		return ResultsMsg{seq: seq, Results: res, Err: err}
	}
}

// Update handles keys and search results.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case ResultsMsg:
		if msg.seq != m.seq {
			return nil // an older search finished after a newer one started
		}
		m.busy = false
		m.err = msg.Err
		if msg.Err == nil {
			m.results = msg.Results
			if len(m.results) > MaxResults {
				m.results = m.results[:MaxResults]
			}
			if m.cursor >= len(m.results) {
				m.cursor = 0
			}
		}
		return nil
	case searchDueMsg:
		if msg.seq != m.seq {
			return nil
		}
		return m.search()
	case tea.PasteMsg:
		m.note = ""
		return m.edit(msg)
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.KeyMap.Cancel):
			return func() tea.Msg { return DoneMsg{} }
		case key.Matches(msg, m.KeyMap.Up):
			if m.cursor > 0 {
				m.cursor--
			}
			return nil
		case key.Matches(msg, m.KeyMap.Down):
			if m.cursor < len(m.results)-1 {
				m.cursor++
			}
			return nil
		case key.Matches(msg, m.KeyMap.Toggle):
			if m.cursor < len(m.results) {
				id := m.results[m.cursor].ID
				if !m.existing[id] {
					m.chosen[id] = !m.chosen[id]
					if !m.chosen[id] {
						delete(m.chosen, id)
					}
				}
				if m.cursor < len(m.results)-1 {
					m.cursor++
				}
			}
			return nil
		case key.Matches(msg, m.KeyMap.Accept):
			added := m.Chosen()
			if len(added) == 0 && m.cursor < len(m.results) && !m.existing[m.results[m.cursor].ID] {
				added = []string{m.results[m.cursor].ID}
			}
			if len(added) == 0 && !m.busy && (len(m.results) == 0 || m.err != nil) {
				if id, ok := m.typedID(); ok && !m.existing[id] {
					added = []string{id}
				}
			}
			if len(added) == 0 {
				// Say why instead of closing as if something was added.
				switch id := strings.TrimSpace(m.input.Value()); {
				case m.busy:
					m.note = "Still searching: press enter again when the results are in."
				case m.existing[id]:
					m.note = id + " is in the explorer already."
				case len(m.results) > 0:
					m.note = "Every project shown is in the explorer already; esc closes."
				default:
					m.note = "Type a project ID (lowercase letters, digits and hyphens) to add it, or esc to close."
				}
				return nil
			}
			return func() tea.Msg { return DoneMsg{Added: added} }
		}
		m.note = ""
		return m.edit(msg)
	}
	return nil
}

func (m *Model) edit(msg tea.Msg) tea.Cmd {
	before := m.input.Value()
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.input.Value() == before {
		return cmd
	}
	m.seq++
	seq := m.seq
	return tea.Batch(cmd, common.After(m.Debounce, func(time.Time) tea.Msg { return searchDueMsg{seq: seq} }))
}

// View draws the picker in a box of at most the common size.
func (m *Model) View() string {
	st := m.c.Styles
	g := m.c.Glyphs()
	w := m.c.Width - 4
	if w > 76 {
		w = 76
	}
	h := m.c.Height - 2
	m.input.SetWidth(w - len(m.input.Prompt) - 1)
	lines := []string{st.DialogTitle.Render("Add projects"), m.input.View()}
	status := fmt.Sprintf("%d found, %d selected", len(m.results), len(m.chosen))
	if m.busy {
		status = m.spinner + " searching…"
	}
	lines = append(lines, st.Dim.Render(status))
	listH := h - len(lines) - 3
	if listH < 1 {
		listH = 1
	}
	off := 0
	if m.cursor >= listH {
		off = m.cursor - listH + 1
	}
	shown := 0
	for i := off; i < len(m.results) && shown < listH; i++ {
		p := m.results[i]
		box := st.CheckboxOff.Render(g.Uncheck)
		if m.chosen[p.ID] {
			box = st.CheckboxOn.Render(g.Check)
		}
		label := p.ID
		if p.Name != "" && p.Name != p.ID {
			label += st.Dim.Render("  " + p.Name)
		}
		if m.existing[p.ID] {
			box = st.Dim.Render("   ")
			label += st.Dim.Render("  (added)")
		}
		line := common.PadRight(box+" "+label, w)
		if i == m.cursor {
			line = st.Selected.Render(common.PadRight(stripANSI(line), w))
		}
		lines = append(lines, line)
		shown++
	}
	if m.err != nil {
		lines = append(lines, st.Error.Render(common.Truncate("Search failed: "+m.err.Error(), w)))
	} else if !m.busy && len(m.results) == 0 {
		lines = append(lines, st.Dim.Render("No projects match."))
	}
	if id, ok := m.typedID(); ok && !m.busy && !m.existing[id] && len(m.Chosen()) == 0 && (len(m.results) == 0 || m.err != nil) {
		lines = append(lines, st.Dim.Width(w).Render(fmt.Sprintf("enter adds %s by its ID (a project the search cannot list can still allow tunnels)", id)))
	}
	if m.note != "" {
		lines = append(lines, st.Warning.Width(w).Render(m.note))
	}
	if len(m.results) >= MaxResults {
		lines = append(lines, st.Warning.Render(fmt.Sprintf("Showing the first %d matches: type more to narrow the search.", MaxResults)))
	}
	lines = append(lines, st.Dim.Render("tab/space select · enter add · esc cancel"))
	body := strings.Join(lines, "\n")
	return st.Dialog.Width(w + 4).Render(body)
}

// SetSize sets the area the picker may use.
func (m *Model) SetSize(w, h int) { m.c.SetSize(w, h) }
