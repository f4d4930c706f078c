// Package sessions is the TUI's SSH tabs: one tab per session (several
// per VM), each an embedded terminal pane. While a tab connects it shows
// the connection steps; keyboard-interactive questions (OS Login 2-step
// verification) appear as a dialog; a closed tab says why and offers to
// reconnect.
//
// Keys: everything goes to the remote except the prefix (ctrl+]), after
// which n/p (or tab/shift+tab, right/left) switch tabs, 1-9 pick one, e or
// esc returns to the explorer, d duplicates the session, x closes it, r
// reconnects a closed one, f reopens the VM full screen, [ scrolls back,
// y copies the screen, ? lists these keys and ctrl+] sends ctrl+] itself.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/termpane"
)

// Conn is an open interactive session: reading gives the remote output
// (stdout and stderr), writing sends input.
type Conn interface {
	io.ReadWriter
	// Resize tells the remote the terminal size.
	Resize(cols, rows int) error
	// Wait returns the remote shell's exit status once it ends.
	Wait() (int, error)
	// Close ends the session.
	Close() error
}

// Prompt is a keyboard-interactive question round (OS Login 2-step
// verification, PAM).
type Prompt struct {
	User, Instruction string
	Questions         []string
	Echo              []bool
}

// Hooks let the opener report progress and ask the user while connecting.
type Hooks struct {
	Progress func(step string)
	Prompt   func(ctx context.Context, p Prompt) ([]string, error)
}

// Opener opens an interactive shell with a terminal of cols x rows.
type Opener interface {
	Open(ctx context.Context, inst projects.Instance, cols, rows int, h Hooks) (Conn, error)
}

type state int

const (
	connecting state = iota
	open
	closed
)

type tab struct {
	id    int
	inst  projects.Instance
	state state
	steps []string
	// attempt counts the connection attempts: a step seen before means
	// the connector started over (a key the guest agent has not installed
	// yet), and the list goes back to that step instead of growing.
	attempt int
	pane    *termpane.Pane
	conn    Conn
	cancel  context.CancelFunc
	exit    int
	err     error
	// gen tells the messages of an earlier connection from the current one.
	gen int
}

// Model is the tabs component.
type Model struct {
	c      *common.Common
	opener Opener
	tabs   []*tab
	active int
	nextID int
	events chan tea.Msg
	listen bool
	prompt *promptDialog
	help   bool
	// pendingPrefix: ctrl+] pressed on a tab without a terminal.
	pendingPrefix bool
	// flash is a short word on what the last prefix command did (or why
	// it did nothing), shown in the tab bar until the next key.
	flash string
}

// New returns the tabs component; opener nil makes opening a tab fail with
// an explanation.
func New(c *common.Common, opener Opener) *Model {
	return &Model{c: c, opener: opener, events: make(chan tea.Msg, 64), nextID: 1}
}

// Messages of this component.
type (
	// FocusExplorerMsg asks the root to show the explorer again.
	FocusExplorerMsg struct{}
	// FullScreenRequestedMsg asks the root to hand the terminal to a
	// full-screen session to Instance.
	FullScreenRequestedMsg struct{ Instance projects.Instance }
	// ChangedMsg says the set of sessions changed (for the explorer's
	// markers).
	ChangedMsg struct{}
	// EndedMsg reports a session whose shell exited with status 0: its
	// tab is gone (like closing a terminal tab by typing exit).
	EndedMsg struct{ Instance projects.Instance }

	openedMsg struct {
		tab, gen int
		// cols, rows: the terminal size the session was opened with.
		cols, rows int
		conn       Conn
		err        error
	}
	exitedMsg struct {
		tab, gen int
		code     int
		err      error
	}
	progressMsg struct {
		tab, gen int
		step     string
	}
	promptMsg struct {
		tab    int
		p      Prompt
		answer chan promptAnswer
	}
)

type promptAnswer struct {
	answers []string
	err     error
}

// Len is the number of tabs.
func (m *Model) Len() int { return len(m.tabs) }

// Active is the index of the shown tab.
func (m *Model) Active() int { return m.active }

// Counts returns the number of open or connecting sessions per instance,
// keyed by PROJECT/ZONE/NAME.
func (m *Model) Counts() map[string]int {
	out := map[string]int{}
	for _, t := range m.tabs {
		if t.state != closed {
			out[instKey(t.inst)]++
		}
	}
	return out
}

func instKey(i projects.Instance) string { return i.Project + "/" + i.Zone + "/" + i.Name }

// Pane returns the terminal pane of tab i (nil while connecting).
func (m *Model) Pane(i int) *termpane.Pane {
	if i < 0 || i >= len(m.tabs) {
		return nil
	}
	return m.tabs[i].pane
}

// Status describes tab i: "connecting: STEP", "open", or why it closed.
func (m *Model) Status(i int) string {
	if i < 0 || i >= len(m.tabs) {
		return ""
	}
	t := m.tabs[i]
	switch t.state {
	case connecting:
		if len(t.steps) == 0 {
			return "connecting"
		}
		return "connecting: " + t.steps[len(t.steps)-1]
	case open:
		return "open"
	}
	return t.closedReason()
}

// addStep records a connection step. A step already listed starts a new
// attempt: the steps after it are dropped, so that a minute of retries
// does not push the current step off the screen.
func (t *tab) addStep(step string) {
	for i, s := range t.steps {
		if s == step {
			t.steps = t.steps[:i+1]
			t.attempt++
			return
		}
	}
	t.steps = append(t.steps, step)
}

func (t *tab) closedReason() string {
	if t.err != nil {
		return t.err.Error()
	}
	return "the remote shell exited with status " + strconv.Itoa(t.exit)
}

// Open adds a tab with a new session to inst and shows it.
func (m *Model) Open(inst projects.Instance) tea.Cmd {
	t := &tab{id: m.nextID, inst: inst}
	m.nextID++
	m.tabs = append(m.tabs, t)
	m.active = len(m.tabs) - 1
	return tea.Batch(m.connect(t), m.listenCmd(), changed)
}

func changed() tea.Msg { return ChangedMsg{} }

func (m *Model) paneSize() (int, int) {
	w, h := m.c.Width, m.c.Height-1 // one line of tabs
	if w < 10 {
		w = 10
	}
	if h < 3 {
		h = 3
	}
	return w, h
}

func (m *Model) connect(t *tab) tea.Cmd {
	t.gen++
	t.state, t.steps, t.err, t.exit, t.pane, t.conn = connecting, nil, nil, 0, nil, nil
	t.attempt = 1
	if m.opener == nil {
		t.state = closed
		t.err = errors.New("SSH sessions are not available in this build of the UI; use S for a full-screen session")
		return nil
	}
	parent := m.c.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	t.cancel = cancel
	id, gen, inst, events := t.id, t.gen, t.inst, m.events
	cols, rows := m.paneSize()
	hooks := Hooks{
		Progress: func(step string) {
			select {
			case events <- progressMsg{tab: id, gen: gen, step: step}:
			default: // a slow UI loses a progress line, never blocks the connection
			}
		},
		Prompt: func(ctx context.Context, p Prompt) ([]string, error) {
			ch := make(chan promptAnswer, 1)
			select {
			case events <- promptMsg{tab: id, p: p, answer: ch}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case a := <-ch:
				return a.answers, a.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}
	opener := m.opener
	return func() tea.Msg {
		conn, err := opener.Open(ctx, inst, cols, rows, hooks)
		return openedMsg{tab: id, gen: gen, cols: cols, rows: rows, conn: conn, err: err}
	}
}

// listenCmd delivers progress and prompts from connecting sessions.
func (m *Model) listenCmd() tea.Cmd {
	if m.listen {
		return nil
	}
	m.listen = true
	ch := m.events
	return func() tea.Msg { return <-ch }
}

func (m *Model) find(id int) *tab {
	for _, t := range m.tabs {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (m *Model) indexOf(id int64) int {
	for i, t := range m.tabs {
		if t.pane != nil && t.pane.ID() == id {
			return i
		}
	}
	return -1
}

// Owns reports whether msg is one of this component's asynchronous results
// (the root routes those here whether or not a tab is shown).
func Owns(msg tea.Msg) bool {
	switch msg.(type) {
	case openedMsg, exitedMsg, progressMsg, promptMsg, termpane.FrameMsg, termpane.ClosedMsg, termpane.CommandMsg:
		return true
	}
	return false
}

// Update handles this component's messages and, when it is shown, input.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case progressMsg:
		m.listen = false
		if t := m.find(msg.tab); t != nil && t.gen == msg.gen && t.state == connecting {
			t.addStep(msg.step)
		}
		return m.listenCmd()
	case promptMsg:
		m.listen = false
		if t := m.find(msg.tab); t != nil && t.state == connecting {
			m.prompt = newPromptDialog(t, msg.p, msg.answer)
			for i, tt := range m.tabs {
				if tt == t {
					m.active = i
				}
			}
		} else {
			msg.answer <- promptAnswer{err: errors.New("the session was closed")}
		}
		return m.listenCmd()
	case openedMsg:
		t := m.find(msg.tab)
		if t == nil || t.gen != msg.gen {
			if msg.conn != nil {
				msg.conn.Close()
			}
			return nil
		}
		if m.prompt != nil && m.prompt.tab == t {
			m.prompt = nil
		}
		if msg.err != nil {
			t.state, t.err = closed, msg.err
			return changed
		}
		t.state, t.conn = open, msg.conn
		cols, rows := m.paneSize()
		t.pane = termpane.New(termpane.Config{Output: msg.conn, Input: msg.conn, Resize: msg.conn.Resize, Width: cols, Height: rows})
		t.pane.SetOrigin(0, 1)
		if cols != msg.cols || rows != msg.rows {
			// The window changed while the session connected.
			_ = msg.conn.Resize(cols, rows)
		}
		conn, id, gen := msg.conn, t.id, t.gen
		wait := func() tea.Msg {
			code, err := conn.Wait()
			return exitedMsg{tab: id, gen: gen, code: code, err: err}
		}
		return tea.Batch(t.pane.Start(), wait, changed)
	case exitedMsg:
		t := m.find(msg.tab)
		if t == nil || t.gen != msg.gen {
			return nil
		}
		t.state, t.exit, t.err = closed, msg.code, msg.err
		if t.conn != nil {
			t.conn.Close()
		}
		if t.pane != nil {
			t.pane.Close()
		}
		if msg.code == 0 && msg.err == nil {
			// A clean exit closes the tab; failures stay to be read.
			inst := t.inst
			for i, tt := range m.tabs {
				if tt == t {
					return tea.Batch(m.closeTab(i), func() tea.Msg { return EndedMsg{Instance: inst} })
				}
			}
		}
		return changed
	case termpane.FrameMsg:
		if i := m.indexOf(msg.ID); i >= 0 {
			return m.tabs[i].pane.Update(msg)
		}
		return nil
	case termpane.ClosedMsg:
		return nil // the exit status (exitedMsg) closes the tab
	case termpane.CommandMsg:
		return m.command(msg.Key)
	case tea.WindowSizeMsg:
		m.resize()
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.PasteMsg:
		if m.prompt != nil {
			m.prompt.paste(msg.Content)
			return nil
		}
		if t := m.current(); t != nil && t.state == open {
			return t.pane.Update(msg)
		}
	case tea.MouseMsg:
		if t := m.current(); t != nil && t.state == open && m.prompt == nil {
			return t.pane.Update(msg)
		}
	}
	return nil
}

// SetSize resizes every pane (the root calls it on window changes).
func (m *Model) SetSize(w, h int) {
	m.c.Width, m.c.Height = w, h
	m.resize()
}

func (m *Model) resize() {
	cols, rows := m.paneSize()
	for _, t := range m.tabs {
		if t.pane != nil && t.state == open {
			t.pane.SetSize(cols, rows)
		}
	}
}

func (m *Model) current() *tab {
	if m.active < 0 || m.active >= len(m.tabs) {
		return nil
	}
	return m.tabs[m.active]
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	m.flash = ""
	if t := m.current(); t != nil && t.state == open && t.pane.PrefixPending() && msg.String() == "y" {
		m.flash = "screen copied (OSC 52)"
	}
	if m.prompt != nil {
		done, answers, err := m.prompt.key(msg)
		if done {
			m.prompt.answer <- promptAnswer{answers: answers, err: err}
			m.prompt = nil
		}
		return nil
	}
	if m.help {
		m.help = false
		return nil
	}
	t := m.current()
	if t == nil {
		return func() tea.Msg { return FocusExplorerMsg{} }
	}
	if t.state == open {
		return t.pane.Update(msg)
	}
	// A connecting or closed tab has no terminal: the prefix still works,
	// and a few plain keys act on the tab.
	if msg.String() == "ctrl+]" {
		m.pendingPrefix = true
		return nil
	}
	if m.pendingPrefix {
		m.pendingPrefix = false
		return m.command(msg)
	}
	switch msg.String() {
	case "r", "enter":
		if t.state == closed {
			return tea.Batch(m.connect(t), m.listenCmd(), changed)
		}
	case "x":
		return m.command(msg)
	case "esc", "e":
		return func() tea.Msg { return FocusExplorerMsg{} }
	}
	return nil
}

// command runs the key pressed after the prefix.
func (m *Model) command(k tea.KeyPressMsg) tea.Cmd {
	t := m.current()
	switch s := k.String(); s {
	case "n", "tab", "right", "l":
		m.switchBy(1)
	case "p", "shift+tab", "left", "h":
		m.switchBy(-1)
	case "e", "esc", "q":
		return func() tea.Msg { return FocusExplorerMsg{} }
	case "?":
		m.help = true
	case "d", "c":
		if t != nil {
			return m.Open(t.inst)
		}
	case "x", "k":
		if t != nil {
			return m.closeTab(m.active)
		}
	case "r":
		if t != nil && t.state == closed {
			return tea.Batch(m.connect(t), m.listenCmd(), changed)
		}
		if t != nil {
			m.flash = "r reconnects a closed session; this one is open"
			if t.state == connecting {
				m.flash = "r reconnects a closed session; this one is connecting"
			}
		}
	case "f":
		if t != nil {
			inst := t.inst
			return func() tea.Msg { return FullScreenRequestedMsg{Instance: inst} }
		}
	default:
		n, err := strconv.Atoi(s)
		switch {
		case err == nil && n >= 1 && n <= len(m.tabs):
			m.active = n - 1
		case err == nil:
			m.flash = fmt.Sprintf("no tab %d", n)
		default:
			m.flash = "ctrl+] " + s + " does nothing · ctrl+] ? lists the keys"
		}
	}
	return nil
}

func (m *Model) switchBy(d int) {
	if len(m.tabs) == 0 {
		return
	}
	m.active = (m.active + d + len(m.tabs)) % len(m.tabs)
}

func (m *Model) closeTab(i int) tea.Cmd {
	t := m.tabs[i]
	t.shutdown()
	if m.prompt != nil && m.prompt.tab == t {
		m.prompt.answer <- promptAnswer{err: errors.New("the session was closed")}
		m.prompt = nil
	}
	m.tabs = append(m.tabs[:i], m.tabs[i+1:]...)
	if m.active >= len(m.tabs) {
		m.active = len(m.tabs) - 1
	}
	if len(m.tabs) == 0 {
		m.active = 0
		return tea.Batch(changed, func() tea.Msg { return FocusExplorerMsg{} })
	}
	return changed
}

func (t *tab) shutdown() {
	t.gen++ // late results of this connection are dropped
	if t.cancel != nil {
		t.cancel()
	}
	if t.conn != nil {
		t.conn.Close()
	}
	if t.pane != nil {
		t.pane.Close()
	}
	t.state = closed
}

// CloseAll ends every session (when the program quits).
func (m *Model) CloseAll() {
	for _, t := range m.tabs {
		t.shutdown()
	}
	if m.prompt != nil {
		m.prompt.answer <- promptAnswer{err: errors.New("iapterm is quitting")}
		m.prompt = nil
	}
	m.tabs = nil
	m.active = 0
}

// View draws the tab bar and the active tab, exactly the component's size.
func (m *Model) View() string {
	w := m.c.Width
	st := m.c.Styles
	labels := make([]string, len(m.tabs))
	for i, t := range m.tabs {
		label := fmt.Sprintf(" %d %s ", i+1, t.inst.Name)
		switch t.state {
		case connecting:
			label = fmt.Sprintf(" %d %s… ", i+1, t.inst.Name)
		case closed:
			label = fmt.Sprintf(" %d %s ✗ ", i+1, t.inst.Name)
			if m.c.ASCII {
				label = fmt.Sprintf(" %d %s x ", i+1, t.inst.Name)
			}
		}
		labels[i] = label
	}
	lo, hi := tabWindow(labels, m.active, w)
	before, after := "…", "…" // more tabs that do not fit
	if m.c.ASCII {
		before, after = "<", ">"
	}
	var bar strings.Builder
	if lo > 0 {
		bar.WriteString(st.Dim.Render(before))
	}
	for i := lo; i < hi; i++ {
		if i == m.active {
			bar.WriteString(st.Selected.Render(labels[i]))
		} else {
			bar.WriteString(st.Dim.Render(labels[i]))
		}
	}
	if hi < len(labels) {
		bar.WriteString(st.Dim.Render(after))
	}
	right := st.Dim.Render(" ctrl+] ? keys ")
	if m.flash != "" {
		// The word on the last command is cut to the room the tabs
		// leave rather than dropped.
		room := w - ansi.StringWidth(bar.String()) - 1
		right = st.Key.Render(ansi.Truncate(" "+m.flash+" ", max(room, 0), "…"))
	}
	if t := m.current(); t != nil && t.pane != nil && t.pane.PrefixPending() || m.pendingPrefix {
		right = st.Key.Render(" ctrl+] … ")
	} else if t != nil && t.pane != nil && t.pane.ScrollMode() {
		right = st.Key.Render(" scrollback: ↑↓ pgup/pgdn g/G, q leaves ")
	}
	top := bar.String()
	if t := m.current(); t != nil && t.state == open && t.pane != nil {
		// The window title the program on the VM set (OSC 0/2), in the
		// room the tabs and the hint leave.
		if title := t.pane.Title(); title != "" {
			if room := w - ansi.StringWidth(top) - ansi.StringWidth(right) - 2; room >= 8 {
				top += " " + st.Dim.Render(ansi.Truncate(title, room, "…"))
			}
		}
	}
	if gap := w - ansi.StringWidth(top) - ansi.StringWidth(right); gap > 0 {
		top += strings.Repeat(" ", gap) + right
	}
	top = ansi.Truncate(top, w, "")
	cols, rows := m.paneSize()
	var body string
	t := m.current()
	switch {
	case t == nil:
		body = m.box(cols, rows, "No SSH sessions. Press e to return to the explorer.")
	case m.help:
		body = m.box(cols, rows, helpText(cols))
	case m.prompt != nil:
		body = m.box(cols, rows, m.prompt.view(st))
	case t.state == connecting:
		body = m.box(cols, rows, m.connectingText(t))
	case t.state == closed:
		body = m.closedView(t, cols, rows)
	default:
		body = t.pane.View()
	}
	return top + "\n" + body
}

// tabWindow is the range [lo, hi) of tab labels the bar shows in w
// cells: all of them when they fit with the keys hint, else as many as
// fit around the active one (which is always shown), leaving a third of
// the width for the hint and a cell for each "more tabs" mark.
func tabWindow(labels []string, active, w int) (lo, hi int) {
	n := len(labels)
	if n == 0 || active < 0 || active >= n {
		return 0, n
	}
	total := 0
	for _, l := range labels {
		total += ansi.StringWidth(l)
	}
	avail := w - ansi.StringWidth(" ctrl+] ? keys ")
	if total <= avail {
		return 0, n
	}
	avail = w - w/3
	marks := func(lo, hi int) int {
		m := 0
		if lo > 0 {
			m++
		}
		if hi < n {
			m++
		}
		return m
	}
	lo, hi = active, active+1
	used := ansi.StringWidth(labels[active])
	for grew := true; grew; {
		grew = false
		if hi < n && used+ansi.StringWidth(labels[hi])+marks(lo, hi+1) <= avail {
			used += ansi.StringWidth(labels[hi])
			hi++
			grew = true
		}
		if lo > 0 && used+ansi.StringWidth(labels[lo-1])+marks(lo-1, hi) <= avail {
			lo--
			used += ansi.StringWidth(labels[lo])
			grew = true
		}
	}
	return lo, hi
}

// helpKeys are the keys after the prefix, in reading order.
var helpKeys = [][2]string{
	{"n / tab / →", "next tab"}, {"p / shift+tab / ←", "previous tab"},
	{"1 … 9", "tab by number"}, {"e / esc", "back to the explorer"},
	{"d", "duplicate session"}, {"x", "close this session"},
	{"r", "reconnect (closed)"}, {"f", "open full screen"},
	{"[", "scroll back (q leaves)"}, {"y", "copy the lines shown (OSC 52)"},
	{"ctrl+]", "send ctrl+] to the VM"},
}

// helpText lists the tab keys in two aligned columns, or in one when
// the two do not fit in width (the box's frame included). The prose and,
// on narrow screens, the descriptions wrap to the box, so no line is
// wider than width.
func helpText(width int) string {
	inner := max(width-boxFrame, 20)
	var b strings.Builder
	b.WriteString(wrapText("SSH tab keys: everything goes to the VM except ctrl+] (the prefix).", inner) + "\nAfter ctrl+]:\n")
	keyW, descW := 20, 0
	for _, k := range helpKeys {
		descW = max(descW, ansi.StringWidth(k[1])+2)
	}
	row := func(k [2]string, descW int) string {
		return "  " + padRight(k[0], keyW) + padRight(k[1], descW)
	}
	twoCols := 2*(2+keyW+descW) <= inner
	if !twoCols && 2+keyW+descW-2 > inner {
		// One column does not fit either: narrow the key column to the
		// widest key and wrap the descriptions under themselves.
		keyW = 0
		for _, k := range helpKeys {
			keyW = max(keyW, ansi.StringWidth(k[0])+1)
		}
	}
	for i := 0; i < len(helpKeys); i++ {
		if !twoCols {
			descLines := strings.Split(wrapText(helpKeys[i][1], max(inner-2-keyW, 8)), "\n")
			for j, d := range descLines {
				k := ""
				if j == 0 {
					k = helpKeys[i][0]
				}
				b.WriteString(strings.TrimRight("  "+padRight(k, keyW)+d, " ") + "\n")
			}
			continue
		}
		line := row(helpKeys[i], descW)
		if i+1 < len(helpKeys) {
			i++
			line += row(helpKeys[i], descW)[2:]
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString(wrapText("shift+pgup/pgdn scroll back without the prefix; the mouse wheel too unless the program on the VM uses the mouse.", inner))
	b.WriteString("\n\nPress any key.")
	return b.String()
}

// boxFrame is the width the dialog box adds around its text: a border
// and one cell of padding on each side.
const boxFrame = 4

// wrapText wraps plain text to width cells between words (a word longer
// than width is cut).
func wrapText(s string, width int) string {
	return ansi.Wrap(s, width, "")
}

func padRight(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s + " "
}

func (m *Model) connectingText(t *tab) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Connecting to %s (%s, %s)\n\n", t.inst.Name, t.inst.Zone, t.inst.Project)
	for i, s := range t.steps {
		mark := "✓"
		if m.c.ASCII {
			mark = "ok"
		}
		if i == len(t.steps)-1 {
			mark = "…"
			if m.c.ASCII {
				mark = ".."
			}
		}
		if i == len(t.steps)-1 && t.attempt > 1 {
			s += fmt.Sprintf(" (attempt %d)", t.attempt)
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, s)
	}
	b.WriteString("\nctrl+] x cancels, ctrl+] e returns to the explorer.")
	return b.String()
}

func (m *Model) closedView(t *tab, cols, rows int) string {
	st := m.c.Styles
	var b strings.Builder
	if t.err != nil {
		b.WriteString(st.Error.Render("Session to "+t.inst.Name+" closed") + "\n\n")
		// Between words only: a command in the error stays whole.
		b.WriteString(common.WrapWords(t.err.Error(), max(cols-6, 20)) + "\n\n")
	} else {
		b.WriteString(fmt.Sprintf("Session to %s ended: the shell exited with status %d.\n\n", t.inst.Name, t.exit))
	}
	b.WriteString("r reconnect · x close tab · e explorer · ctrl+] d new session")
	msg := b.String()
	if t.pane == nil {
		return m.box(cols, rows, msg)
	}
	// Keep the last screen above the notice, so the output stays readable.
	lines := strings.Split(t.pane.View(), "\n")
	notice := strings.Split(lipgloss.NewStyle().Width(cols).Render(msg), "\n")
	keep := rows - len(notice) - 1
	if keep < 0 {
		keep = 0
	}
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	out := append(lines, strings.Repeat("─", cols))
	out = append(out, notice...)
	return fit(strings.Join(out, "\n"), cols, rows)
}

// box centres text in a cols x rows area.
// box centres text in a dialog box of at most cols x rows: lines wider
// than the box wrap, and when the text is taller than the box its last
// line (what to press) stays and the lines before it are cut, marked "…".
func (m *Model) box(cols, rows int, text string) string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Split(ansi.Wrap(l, max(cols-boxFrame, 1), ""), "\n")...)
	}
	if room := rows - 2; len(lines) > room && room >= 2 {
		last, mark := lines[len(lines)-1], "…"
		if m.c.ASCII {
			mark = "..."
		}
		lines = append(lines[:room-2], mark, last)
	}
	boxed := m.c.Styles.Dialog.Render(strings.Join(lines, "\n"))
	return lipgloss.Place(cols, rows, lipgloss.Center, lipgloss.Center, boxed)
}

// fit pads or cuts s to exactly cols x rows.
func fit(s string, cols, rows int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > rows {
		lines = lines[:rows]
	}
	for len(lines) < rows {
		lines = append(lines, "")
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w < cols {
			lines[i] = l + strings.Repeat(" ", cols-w)
		} else if w > cols {
			lines[i] = ansi.Truncate(l, cols, "")
		}
	}
	return strings.Join(lines, "\n")
}
