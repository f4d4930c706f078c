// Package serial is the serial port output viewer: ports 1-4, polled every
// second while following, scrollable.
package serial

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// ClosedMsg tells the root to close the viewer.
type ClosedMsg struct{}

// pollMsg asks for the next read of the current port.
type pollMsg struct{ gen int }

// ReadMsg carries a read's result.
type ReadMsg struct {
	gen      int
	Port     int
	Contents string
	Next     int64
	Err      error
}

// Model is the viewer.
type Model struct {
	c      *common.Common
	KeyMap KeyMap
	inst   projects.Instance
	port   int
	next   int64
	text   strings.Builder
	follow bool
	gen    int
	vp     viewport.Model
	err    error
	reads  int
}

// New opens the viewer on inst's port.
func New(c *common.Common, inst projects.Instance, port int) *Model {
	if port < 1 || port > 4 {
		port = 1
	}
	m := &Model{c: c, KeyMap: DefaultKeyMap(), inst: inst, port: port, follow: true, vp: viewport.New()}
	// Console lines are often wider than the screen: wrap them rather
	// than cut what the user came to read.
	m.vp.SoftWrap = true
	return m
}

// Init starts reading.
func (m *Model) Init() tea.Cmd { return m.read() }

// Port is the port shown.
func (m *Model) Port() int { return m.port }

// Following reports whether new output is polled and scrolled to.
func (m *Model) Following() bool { return m.follow }

// Text is the output read so far.
func (m *Model) Text() string { return m.text.String() }

func (m *Model) read() tea.Cmd {
	r := m.c.Backend.Serial
	inst, port, start, gen, ctx := m.inst, m.port, m.next, m.gen, m.c.Ctx
	return func() tea.Msg {
		if r == nil {
			return ReadMsg{gen: gen, Port: port, Err: fmt.Errorf("serial port output is not available in this session")}
		}
		s, next, err := r.SerialPort(ctx, inst, port, start)
		return ReadMsg{gen: gen, Port: port, Contents: s, Next: next, Err: err}
	}
}

func (m *Model) poll() tea.Cmd {
	gen := m.gen
	return common.After(PollInterval, func(time.Time) tea.Msg { return pollMsg{gen: gen} })
}

func (m *Model) switchPort(p int) tea.Cmd {
	if p == m.port {
		return nil
	}
	m.port, m.next, m.err = p, 0, nil
	m.text.Reset()
	m.gen++
	m.vp.SetContent("")
	return m.read()
}

// Update handles keys, mouse wheel and reads.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case ReadMsg:
		if msg.gen != m.gen {
			return nil // from before a port switch
		}
		m.reads++
		m.err = msg.Err
		if msg.Err == nil {
			if msg.Contents != "" {
				atBottom := m.vp.AtBottom()
				m.append(msg.Contents)
				if m.follow || atBottom {
					m.vp.GotoBottom()
				}
			}
			if msg.Next > 0 {
				m.next = msg.Next
			}
		}
		if m.follow {
			return m.poll()
		}
		return nil
	case pollMsg:
		if msg.gen != m.gen || !m.follow {
			return nil
		}
		return m.read()
	case tea.MouseWheelMsg:
		var cmd tea.Cmd
		m.vp, cmd = m.vp.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		km := m.KeyMap
		switch {
		case key.Matches(msg, km.Close):
			m.gen++ // stops the polling
			return func() tea.Msg { return ClosedMsg{} }
		case key.Matches(msg, km.Port1):
			return m.switchPort(1)
		case key.Matches(msg, km.Port2):
			return m.switchPort(2)
		case key.Matches(msg, km.Port3):
			return m.switchPort(3)
		case key.Matches(msg, km.Port4):
			return m.switchPort(4)
		case key.Matches(msg, km.Follow):
			m.follow = !m.follow
			m.gen++
			if m.follow {
				m.vp.GotoBottom()
				return m.read()
			}
		case key.Matches(msg, km.Up):
			m.vp.ScrollUp(1)
		case key.Matches(msg, km.Down):
			m.vp.ScrollDown(1)
		case key.Matches(msg, km.PageUp):
			m.vp.PageUp()
		case key.Matches(msg, km.PageDown):
			m.vp.PageDown()
		case key.Matches(msg, km.Top):
			m.vp.GotoTop()
		case key.Matches(msg, km.Bottom):
			m.vp.GotoBottom()
		}
	}
	return nil
}

func (m *Model) append(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	m.text.WriteString(s)
	if m.text.Len() > maxBytes {
		keep := m.text.String()
		keep = keep[len(keep)-maxBytes/2:]
		m.text.Reset()
		m.text.WriteString(keep)
	}
	m.vp.SetContent(sanitize(m.text.String()))
}

// sanitize drops control characters other than newline and tab so guest
// output cannot move the cursor or change the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// errLines is the read error wrapped to the width, on at most half the
// height.
func (m *Model) errLines() []string {
	if m.err == nil {
		return nil
	}
	lines := common.WrapLines(m.err.Error(), max(m.c.Width, 10))
	if n := max(m.c.Height/2, 1); len(lines) > n {
		lines = lines[:n]
		lines[n-1] = common.Truncate(lines[n-1]+" …", max(m.c.Width, 10))
	}
	return lines
}

// View draws the viewer in the common size.
func (m *Model) View() string {
	st := m.c.Styles
	w, h := m.c.Width, m.c.Height
	follow := "follow off"
	if m.follow {
		follow = "following"
	}
	title := st.Title.Render(fmt.Sprintf("Serial port %d", m.port)) + " " +
		st.Dim.Render(fmt.Sprintf("%s · %s · %s · %d bytes", m.inst.Name, m.inst.Zone, follow, m.text.Len()))
	lines := []string{common.PadRight(title, w)}
	for _, l := range m.errLines() {
		lines = append(lines, common.PadRight(st.Error.Render(l), w))
	}
	m.vp.SetWidth(w)
	m.vp.SetHeight(m.textHeight())
	if m.follow {
		m.vp.GotoBottom()
	}
	if m.text.Len() == 0 && m.err == nil {
		msg := "No output yet."
		if m.reads == 0 {
			msg = "Reading…"
		}
		lines = append(lines, st.Dim.Render(msg))
		return common.FitLines(strings.Join(lines, "\n"), w, h)
	}
	lines = append(lines, m.vp.View())
	return common.FitLines(strings.Join(lines, "\n"), w, h)
}

// SetSize sets the area the viewer draws in.
func (m *Model) SetSize(w, h int) {
	m.c.SetSize(w, h)
	m.vp.SetWidth(w)
	m.vp.SetHeight(m.textHeight())
}

func (m *Model) textHeight() int {
	h := m.c.Height - 1 - len(m.errLines()) // title and error
	if h < 1 {
		h = 1
	}
	return h
}
