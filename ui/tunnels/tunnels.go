// Package tunnels is the panel listing open tunnels with live byte counts.
package tunnels

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/ui/common"
)

// RefreshInterval is how often the panel re-reads the pool's counters.
const RefreshInterval = time.Second

// TickMsg asks the panel to re-read the pool.
type TickMsg struct{ gen int }

// ClosedMsg reports a tunnel closed from the panel.
type ClosedMsg struct {
	Key string
	Err error
}

// Model is the tunnels panel.
type Model struct {
	c      *common.Common
	KeyMap KeyMap
	list   []common.TunnelInfo
	cursor int
	gen    int
	active bool
}

// New returns the panel.
func New(c *common.Common) *Model { return &Model{c: c, KeyMap: DefaultKeyMap()} }

// Refresh re-reads the pool.
func (m *Model) Refresh() {
	if m.c.Backend.Tunnels == nil {
		m.list = nil
		return
	}
	m.list = m.c.Backend.Tunnels.List()
	if m.cursor >= len(m.list) {
		m.cursor = len(m.list) - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
}

// List returns the tunnels as last read.
func (m *Model) List() []common.TunnelInfo { return m.list }

// Cursor is the selected row.
func (m *Model) Cursor() int { return m.cursor }

// Start begins the refresh ticks (call when the panel opens).
func (m *Model) Start() tea.Cmd {
	m.active = true
	m.gen++
	m.Refresh()
	return m.tick()
}

// Stop ends the refresh ticks.
func (m *Model) Stop() { m.active = false; m.gen++ }

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return common.After(RefreshInterval, func(time.Time) tea.Msg { return TickMsg{gen: gen} })
}

// Update handles the panel's keys and ticks.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case TickMsg:
		if !m.active || msg.gen != m.gen {
			return nil // a tick from before the panel was reopened
		}
		m.Refresh()
		return m.tick()
	case ClosedMsg:
		m.Refresh()
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, m.KeyMap.Up):
			if m.cursor > 0 {
				m.cursor--
			}
		case key.Matches(msg, m.KeyMap.Down):
			if m.cursor < len(m.list)-1 {
				m.cursor++
			}
		case key.Matches(msg, m.KeyMap.Close):
			if m.cursor >= len(m.list) {
				return nil
			}
			k := m.list[m.cursor].Key
			pool := m.c.Backend.Tunnels
			return func() tea.Msg { return ClosedMsg{Key: k, Err: closeTunnel(pool, k)} }
		case key.Matches(msg, m.KeyMap.Copy):
			if m.cursor >= len(m.list) {
				return nil
			}
			t := m.list[m.cursor]
			return func() tea.Msg {
				return common.ClipboardCopiedMsg{Label: "tunnel address", Text: t.LocalAddr}
			}
		}
	}
	return nil
}

func closeTunnel(pool common.TunnelPool, k string) error {
	if pool == nil {
		return errors.New("no tunnel pool")
	}
	return pool.Close(k)
}

// Height is the number of lines the panel wants.
func (m *Model) Height() int {
	n := len(m.list)
	if n == 0 {
		n = 1
	}
	return n + 1 // header
}

// View draws the table in the common size.
func (m *Model) View(focused bool) string {
	st := m.c.Styles
	w := m.c.Width
	ws := widths(w)
	cells := func(vals []string) string {
		var b strings.Builder
		for i, v := range vals {
			if ws[i] < 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(common.PadRight(v, ws[i]))
		}
		return b.String()
	}
	headers := make([]string, len(columns))
	for i, c := range columns {
		headers[i] = c.title
	}
	lines := []string{st.TableHeader.Render(common.PadRight(cells(headers), w))}
	if len(m.list) == 0 {
		lines = append(lines, st.Dim.Render("No tunnels open. Select a running instance and press enter or p."))
	}
	now := m.c.Now()
	for i, t := range m.list {
		row := cells([]string{
			t.Target.Instance, t.Target.Project, t.Target.Zone,
			fmt.Sprint(t.Target.Port), t.LocalAddr,
			common.Bytes(t.BytesIn), common.Bytes(t.BytesOut),
			fmt.Sprintf("%d/%d", t.ActiveConns, t.TotalConns),
			common.Age(now, t.Opened),
		})
		row = common.PadRight(row, w)
		if focused && i == m.cursor {
			row = st.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	return common.FitLines(strings.Join(lines, "\n"), w, m.c.Height)
}
