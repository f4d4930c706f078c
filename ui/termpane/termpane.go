// Package termpane is a Bubble Tea component that embeds a terminal
// emulator (charmbracelet/x/vt) for a remote program: it reads the remote
// output into the emulator, sends key presses, pastes and (when the remote
// asked for them) mouse events back, and draws the screen at most about 30
// times a second, only when something changed. Output is taken in as fast
// as it arrives, however often the screen is drawn: a reader queues it
// and the emulator takes everything queued at once (see feed.go for how
// bulk output avoids the emulator's per-line cost).
//
// One prefix key (ctrl+] by default) is never forwarded: the key after it
// is a command for iapterm (see CommandMsg). Everything else, Escape
// included, goes to the remote.
package termpane

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// FrameInterval is the minimum time between two redraws of a pane.
const FrameInterval = time.Second / 30

// DefaultPrefix is the key that introduces iapterm's own commands.
var DefaultPrefix = key.NewBinding(key.WithKeys("ctrl+]"), key.WithHelp("ctrl+]", "prefix"))

// Scrollback is how many lines of history a pane keeps.
const Scrollback = 10000

// Config describes the remote side of a pane.
type Config struct {
	// Output is the remote program's output (stdout and stderr merged).
	Output io.Reader
	// Input receives key presses, pastes, mouse reports and the
	// emulator's answers to terminal queries.
	Input io.Writer
	// Resize tells the remote side the new size (an SSH window-change).
	Resize func(cols, rows int) error
	// Width and Height are the initial size (80x24 when 0).
	Width, Height int
	// Prefix overrides DefaultPrefix.
	Prefix *key.Binding
}

var lastID atomic.Int64

// Pane is one embedded terminal. Use it from the Bubble Tea goroutine;
// the reader goroutines only touch it under mu.
type Pane struct {
	id     int64
	prefix key.Binding
	resize func(cols, rows int) error

	mu          sync.Mutex // guards emu, feed and the fields the callbacks set
	emu         *vt.Emulator
	feed        *feeder
	cursorShown bool
	// pushed counts the lines output pushed into the scrollback, so that
	// a view scrolled back stays on the lines it shows.
	pushed int

	clipMu sync.Mutex // not mu: frames must not wait for the emulator
	clip   []string   // OSC 52 copies waiting for the next frame

	// Set by the emulator's callbacks, read by the UI without waiting
	// for the emulator.
	appCursor atomic.Bool
	title     atomic.Pointer[string]
	paste     atomic.Bool
	mouse     atomic.Bool

	out      *outputQueue
	in       *inputQueue
	wake     chan struct{}
	done     chan struct{}
	readErr  error
	dirty    atomic.Bool
	lastDraw atomic.Int64

	// UI-side state.
	w, h         int
	originX      int
	originY      int
	cache        string
	pending      bool // prefix pressed, waiting for the command key
	scroll       int  // lines scrolled back; 0 follows the output
	seenPushed   int  // pushed when the view was last drawn
	scrollMode   bool
	closedSent   bool
	waiting      bool // a frame command is outstanding
	bytesWritten atomic.Int64
}

// New creates a pane; call Start to run it.
func New(cfg Config) *Pane {
	w, h := cfg.Width, cfg.Height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	p := &Pane{
		id:          lastID.Add(1),
		prefix:      DefaultPrefix,
		resize:      cfg.Resize,
		emu:         vt.NewEmulator(w, h),
		cursorShown: true,
		in:          newInputQueue(cfg.Input),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		w:           w,
		h:           h,
	}
	if cfg.Prefix != nil {
		p.prefix = *cfg.Prefix
	}
	p.emu.SetScrollbackSize(Scrollback + scrollbackSlack)
	p.emu.SetCallbacks(vt.Callbacks{
		EnableMode:       func(m ansi.Mode) { p.setMode(m, true) },
		DisableMode:      func(m ansi.Mode) { p.setMode(m, false) },
		CursorVisibility: func(v bool) { p.cursorShown = v },
		Title:            p.setTitle,
	})
	p.emu.RegisterOscHandler(52, p.osc52)
	p.feed = newFeeder(p.emu, Scrollback)
	p.dirty.Store(true)
	p.out = newOutputQueue(cfg.Output)
	go p.drainReplies()
	go p.readOutput()
	return p
}

// ID identifies the pane in its messages.
func (p *Pane) ID() int64 { return p.id }

// setMode runs under mu (callbacks fire inside emu.Write).
func (p *Pane) setMode(m ansi.Mode, on bool) {
	switch m {
	case ansi.ModeCursorKeys:
		p.appCursor.Store(on)
	case ansi.ModeBracketedPaste:
		p.paste.Store(on)
	case ansi.ModeMouseX10, ansi.ModeMouseNormal, ansi.ModeMouseHighlight, ansi.ModeMouseButtonEvent, ansi.ModeMouseAnyEvent:
		p.mouse.Store(on)
	}
	if p.feed != nil {
		p.feed.setMode(m, on)
	}
}

// osc52 passes a remote clipboard copy on to the host terminal. Reads of
// the clipboard ("?") are refused: the remote must not see the user's
// clipboard.
func (p *Pane) osc52(data []byte) bool {
	parts := bytes.SplitN(data, []byte{';'}, 3)
	if len(parts) != 3 || string(parts[2]) == "?" {
		return true
	}
	b, err := base64.StdEncoding.DecodeString(string(parts[2]))
	if err != nil {
		return true
	}
	p.clipMu.Lock()
	p.clip = append(p.clip, string(b))
	p.clipMu.Unlock()
	return true
}

// readOutput feeds the remote output into the emulator until it ends,
// taking everything queued since the last time at once.
func (p *Pane) readOutput() {
	var buf []byte
	for {
		var err error
		// Output streaming in (more than one read queued while the last
		// was written): let more gather, so that runs longer than the
		// scrollback skip the lines nobody could see.
		gather := len(buf) >= bulkTake
		buf, err = p.out.take(buf[:0], gather)
		if len(buf) > 0 {
			p.mu.Lock()
			p.write(buf)
			p.mu.Unlock()
			p.bytesWritten.Add(int64(len(buf)))
			p.markDirty()
		}
		if len(buf) < bulkTake && cap(buf) > bulkTake {
			buf = nil // a burst is over: do not keep its buffer
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.mu.Lock()
			p.readErr = err
			p.mu.Unlock()
			close(p.done)
			p.markDirty()
			return
		}
	}
}

// write feeds the emulator (under mu). Should the emulator library panic
// on some output, the pane logs it and goes on with the emulator reset
// rather than ending the program; the rest of buf is lost.
func (p *Pane) write(buf []byte) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("terminal emulator failed on the remote's output; its state was reset", "panic", r)
			p.feed.recover()
		}
	}()
	before, dropped := p.emu.ScrollbackLen(), p.feed.dropped
	p.feed.write(buf)
	if n := p.emu.ScrollbackLen() - before + p.feed.dropped - dropped; n > 0 {
		p.pushed += n
	}
}

// scrollbackSlack is room above Scrollback in vt's own limit, so that vt
// never drops lines itself (a copy of the whole scrollback per line): the
// feeder trims back to Scrollback after every write of at most this many
// lines.
const scrollbackSlack = 4096

func (p *Pane) markDirty() {
	p.dirty.Store(true)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// drainReplies moves the emulator's answers to terminal queries (device
// attributes, cursor position, colours) to the remote. The emulator writes
// them to a synchronous pipe: without this reader its Write would block.
func (p *Pane) drainReplies() {
	buf := make([]byte, 4096)
	for {
		n, err := p.emu.Read(buf)
		if n > 0 {
			p.in.write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// Start returns the command that delivers the first frame.
func (p *Pane) Start() tea.Cmd {
	p.waiting = true
	return p.nextFrame()
}

// nextFrame waits for new output (or the end), no sooner than
// FrameInterval after the previous frame.
func (p *Pane) nextFrame() tea.Cmd {
	return func() tea.Msg {
		select {
		case <-p.wake:
		case <-p.done:
		}
		if d := time.Until(time.Unix(0, p.lastDraw.Load()).Add(FrameInterval)); d > 0 {
			time.Sleep(d)
		}
		return FrameMsg{ID: p.id}
	}
}

// FrameMsg tells pane ID that it has something new to draw.
type FrameMsg struct{ ID int64 }

// ClosedMsg reports that the remote output ended (Err nil: cleanly).
type ClosedMsg struct {
	ID  int64
	Err error
}

// CommandMsg is the key pressed after the prefix, for the pane's owner
// (next tab, close, ...). Keys the pane handles itself (scrollback, copy,
// the prefix again) do not produce one.
type CommandMsg struct {
	ID  int64
	Key tea.KeyPressMsg
}

// Update handles the messages for this pane: frames, keys, pastes, mouse.
// Route keys, pastes and mouse events only to the focused pane.
func (p *Pane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case FrameMsg:
		if msg.ID != p.id {
			return nil
		}
		return p.frame()
	case tea.KeyPressMsg:
		return p.key(msg)
	case tea.PasteMsg:
		p.Paste(msg.Content)
	case tea.MouseMsg:
		return p.mouseEvent(msg)
	}
	return nil
}

func (p *Pane) frame() tea.Cmd {
	p.waiting = false
	p.lastDraw.Store(time.Now().UnixNano())
	var cmds []tea.Cmd
	if p.dirty.Swap(false) {
		// The UI does not wait while a large write is in the emulator:
		// the frame after this one draws it.
		if p.mu.TryLock() {
			p.renderLocked()
			p.mu.Unlock()
		} else {
			p.markDirty()
		}
	}
	p.clipMu.Lock()
	clips := p.clip
	p.clip = nil
	p.clipMu.Unlock()
	for _, c := range clips {
		cmds = append(cmds, tea.SetClipboard(c))
	}
	select {
	case <-p.done:
		if !p.closedSent {
			p.closedSent = true
			err := p.Err()
			id := p.id
			cmds = append(cmds, func() tea.Msg { return ClosedMsg{ID: id, Err: err} })
		}
	default:
		p.waiting = true
		cmds = append(cmds, p.nextFrame())
	}
	return tea.Batch(cmds...)
}

// Err is why the output ended (nil while running or after a clean end).
func (p *Pane) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readErr
}

// Done is closed when the remote output ends.
func (p *Pane) Done() <-chan struct{} { return p.done }

// Title is the window title the remote set (OSC 0/2), without control
// characters; "" when none. It does not wait for the emulator.
func (p *Pane) Title() string {
	if t := p.title.Load(); t != nil {
		return *t
	}
	return ""
}

// maxTitle bounds the title kept, in bytes.
const maxTitle = 256

func (p *Pane) setTitle(s string) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > maxTitle {
		s = strings.ToValidUTF8(s[:maxTitle], "")
	}
	p.title.Store(&s)
}

// Close stops the pane's goroutines that it owns (the output reader ends
// when its reader does).
func (p *Pane) Close() {
	if pw, ok := p.emu.InputPipe().(*io.PipeWriter); ok {
		pw.Close()
	}
	p.in.close()
}

// SetSize resizes the emulator and tells the remote side.
func (p *Pane) SetSize(w, h int) {
	if w < 1 {
		w = 1
	}
	if h < 1 {
		h = 1
	}
	if w == p.w && h == p.h {
		return
	}
	p.w, p.h = w, h
	p.mu.Lock()
	p.emu.Resize(w, h)
	p.feed.resized()
	p.mu.Unlock()
	if p.resize != nil {
		_ = p.resize(w, h)
	}
	p.render()
}

// SetOrigin is where the pane's top-left cell is on the screen, to turn
// mouse positions into pane cells.
func (p *Pane) SetOrigin(x, y int) { p.originX, p.originY = x, y }

// Size returns the pane's columns and rows.
func (p *Pane) Size() (int, int) { return p.w, p.h }

// Write sends raw bytes to the remote, as if typed.
func (p *Pane) Write(b []byte) { p.in.write(b) }

// Paste sends text, wrapped in bracketed-paste markers when the remote
// enabled them, so editors and shells do not run pasted lines.
func (p *Pane) Paste(text string) {
	if p.paste.Load() {
		// A pasted end marker would end the paste early and run the rest.
		text = strings.ReplaceAll(text, ansi.BracketedPasteEnd, "")
		p.in.write([]byte(ansi.BracketedPasteStart + text + ansi.BracketedPasteEnd))
		return
	}
	p.in.write([]byte(text))
}

// Prefix is the pane's prefix key.
func (p *Pane) Prefix() key.Binding { return p.prefix }

// PrefixPending reports whether the prefix was pressed and the pane waits
// for the command key.
func (p *Pane) PrefixPending() bool { return p.pending }

// Scrolled reports how many lines the view is scrolled back (0: live).
func (p *Pane) Scrolled() int { return p.scroll }

// ScrollMode reports whether the pane is in scrollback mode (prefix+[).
func (p *Pane) ScrollMode() bool { return p.scrollMode }

func (p *Pane) key(msg tea.KeyPressMsg) tea.Cmd {
	if p.pending {
		p.pending = false
		switch {
		case key.Matches(msg, p.prefix):
			// The prefix twice sends it once.
			p.sendKey(msg)
			return nil
		case msg.String() == "[":
			p.scrollMode = true
			return nil
		case msg.String() == "y":
			return tea.SetClipboard(p.ShownText())
		}
		id := p.id
		return func() tea.Msg { return CommandMsg{ID: id, Key: msg} }
	}
	if key.Matches(msg, p.prefix) {
		p.pending = true
		return nil
	}
	switch msg.String() {
	case "shift+pgup":
		p.scrollBy(p.h / 2)
		return nil
	case "shift+pgdown":
		p.scrollBy(-p.h / 2)
		return nil
	}
	if p.scrollMode {
		switch msg.String() {
		case "up", "k":
			p.scrollBy(1)
		case "down", "j":
			p.scrollBy(-1)
		case "pgup", "b", "ctrl+b":
			p.scrollBy(p.h - 1)
		case "pgdown", "f", "ctrl+f", "space":
			p.scrollBy(-(p.h - 1))
		case "g", "home":
			p.scrollBy(1 << 30)
		case "G", "end":
			p.scrollBy(-(1 << 30))
		case "q", "esc", "enter":
			p.scrollMode = false
			p.scrollBy(-(1 << 30))
		}
		return nil
	}
	if p.scroll != 0 {
		p.scrollBy(-(1 << 30)) // typing returns to the live screen
	}
	p.sendKey(msg)
	return nil
}

func (p *Pane) sendKey(msg tea.KeyPressMsg) {
	if s := Encode(msg, p.appCursor.Load()); s != "" {
		p.in.write([]byte(s))
	}
}

// sendKeys sends key code n times.
func (p *Pane) sendKeys(code rune, n int) {
	p.in.write([]byte(strings.Repeat(Encode(tea.KeyPressMsg{Code: code}, p.appCursor.Load()), n)))
}

func (p *Pane) scrollBy(n int) {
	p.mu.Lock()
	max := p.emu.ScrollbackLen()
	if p.emu.IsAltScreen() {
		max = 0
	}
	p.mu.Unlock()
	s := p.scroll + n
	if s > max {
		s = max
	}
	if s < 0 {
		s = 0
	}
	if s != p.scroll {
		p.scroll = s
		p.render()
	}
}

func (p *Pane) mouseEvent(msg tea.MouseMsg) tea.Cmd {
	m := msg.Mouse()
	x, y := m.X-p.originX, m.Y-p.originY
	if x < 0 || y < 0 || x >= p.w || y >= p.h {
		return nil
	}
	if !p.mouse.Load() {
		// The remote did not ask for the mouse: the wheel scrolls back,
		// or on the alternate screen (less, man), which has no
		// scrollback, moves by lines with the arrow keys as most
		// terminals do.
		if w, ok := msg.(tea.MouseWheelMsg); ok {
			alt := p.AltScreen()
			switch {
			case w.Button == tea.MouseWheelUp && alt:
				p.sendKeys(tea.KeyUp, 3)
			case w.Button == tea.MouseWheelDown && alt:
				p.sendKeys(tea.KeyDown, 3)
			case w.Button == tea.MouseWheelUp:
				p.scrollBy(3)
			case w.Button == tea.MouseWheelDown:
				p.scrollBy(-3)
			}
		}
		return nil
	}
	um := uv.Mouse{X: x, Y: y, Button: m.Button, Mod: m.Mod}
	var ev vt.Mouse
	switch msg.(type) {
	case tea.MouseClickMsg:
		ev = uv.MouseClickEvent(um)
	case tea.MouseReleaseMsg:
		ev = uv.MouseReleaseEvent(um)
	case tea.MouseWheelMsg:
		ev = uv.MouseWheelEvent(um)
	case tea.MouseMotionMsg:
		ev = uv.MouseMotionEvent(um)
	default:
		return nil
	}
	p.mu.Lock()
	p.emu.SendMouse(ev)
	p.mu.Unlock()
	return nil
}

// render redraws the cached view from the emulator.
func (p *Pane) render() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.renderLocked()
}

func (p *Pane) renderLocked() {
	lines := make([]string, 0, p.h)
	sbLen := p.emu.ScrollbackLen()
	if p.emu.IsAltScreen() {
		sbLen = 0
	}
	if p.scroll > 0 {
		// Scrolled back: stay on the same lines while output goes on
		// below (as far as the scrollback still holds them).
		p.scroll += p.pushed - p.seenPushed
	}
	p.seenPushed = p.pushed
	p.scroll = min(p.scroll, sbLen)
	scroll := p.scroll
	// Rows [sbLen-scroll, sbLen-scroll+h) of scrollback+screen.
	top := sbLen - scroll
	cur := p.emu.CursorPosition()
	for row := top; row < top+p.h; row++ {
		var line uv.Line
		if row < sbLen {
			line = p.emu.Scrollback().Line(row)
		} else {
			y := row - sbLen
			line = make(uv.Line, p.w)
			for x := 0; x < p.w; x++ {
				if c := p.emu.CellAt(x, y); c != nil {
					line[x] = *c
				} else {
					line[x] = uv.EmptyCell
				}
			}
			if scroll == 0 && p.cursorShown && y == cur.Y && cur.X >= 0 && cur.X < p.w {
				c := line[cur.X]
				if c.Content == "" && c.Width == 0 {
					c = uv.EmptyCell
				}
				c.Style.Attrs ^= uv.AttrReverse
				line[cur.X] = c
			}
		}
		s := line.Render()
		if w := ansi.StringWidth(s); w < p.w {
			s += strings.Repeat(" ", p.w-w)
		} else if w > p.w {
			s = ansi.Truncate(s, p.w, "")
		}
		lines = append(lines, s)
	}
	p.cache = strings.Join(lines, "\n")
}

// View is the pane's screen, exactly its width and height.
func (p *Pane) View() string {
	if p.cache == "" {
		p.render()
	}
	return p.cache
}

// ScreenText is the visible screen as plain text, trailing blanks trimmed.
func (p *Pane) ScreenText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.emu.String()
}

// ShownText is what the pane shows as plain text: the live screen, or
// the lines scrolled back to.
func (p *Pane) ShownText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	sbLen := p.emu.ScrollbackLen()
	if p.emu.IsAltScreen() {
		sbLen = 0
	}
	scroll := p.scroll
	if scroll > 0 {
		scroll += p.pushed - p.seenPushed // as the next frame draws it
	}
	scroll = min(scroll, sbLen)
	if scroll == 0 {
		return p.emu.String()
	}
	lines := make([]string, 0, p.h)
	for row := sbLen - scroll; len(lines) < p.h; row++ {
		if row < sbLen {
			lines = append(lines, strings.TrimRight(p.emu.Scrollback().Line(row).String(), " "))
		} else {
			lines = append(lines, p.lineLocked(row-sbLen))
		}
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// Line is row y of the live screen as plain text (trailing blanks trimmed).
func (p *Pane) Line(y int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lineLocked(y)
}

func (p *Pane) lineLocked(y int) string {
	var b strings.Builder
	for x := 0; x < p.emu.Width(); x++ {
		c := p.emu.CellAt(x, y)
		if c == nil || c.Content == "" {
			if c == nil || c.Width != 0 {
				b.WriteByte(' ')
			}
			continue
		}
		b.WriteString(c.Content)
	}
	return strings.TrimRight(b.String(), " ")
}

// Cell returns a copy of the cell at x, y of the live screen.
func (p *Pane) Cell(x, y int) uv.Cell {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.emu.CellAt(x, y); c != nil {
		return *c
	}
	return uv.EmptyCell
}

// AltScreen reports whether the remote switched to the alternate screen.
func (p *Pane) AltScreen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.emu.IsAltScreen()
}

// BytesRead is how many output bytes the pane has taken in.
func (p *Pane) BytesRead() int64 { return p.bytesWritten.Load() }

// inputQueue decouples writers (keys, emulator replies) from the remote's
// stdin, which may block while the remote is not reading: the UI and the
// emulator never wait on the network.
type inputQueue struct {
	w      io.Writer
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newInputQueue(w io.Writer) *inputQueue {
	q := &inputQueue{w: w}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *inputQueue) write(b []byte) {
	q.mu.Lock()
	if !q.closed {
		q.buf = append(q.buf, b...)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

func (q *inputQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *inputQueue) run() {
	for {
		q.mu.Lock()
		for len(q.buf) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		b := q.buf
		q.buf = nil
		q.mu.Unlock()
		if q.w == nil {
			continue
		}
		if _, err := q.w.Write(b); err != nil {
			q.close()
			return
		}
	}
}

// maxQueued is how much output waits for the emulator before the reader
// stops reading (and the SSH channel's window stops the remote).
const maxQueued = 8 << 20

// While output streams in, the emulator takes it once maxQueued/2 is
// queued or gatherWait has passed: longer runs, fewer lines to draw into
// the emulator. The screen shows the stream at least every gatherWait.
const (
	bulkTake   = 64 << 10
	gatherWait = 100 * time.Millisecond
)

// outputQueue reads the remote output as it comes and queues it for the
// emulator, so the remote is never held up by the emulator or the UI
// until maxQueued is waiting.
type outputQueue struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	err  error // the reader's error (io.EOF at the end)
}

func newOutputQueue(r io.Reader) *outputQueue {
	q := &outputQueue{}
	q.cond = sync.NewCond(&q.mu)
	go q.run(r)
	return q
}

func (q *outputQueue) run(r io.Reader) {
	b := make([]byte, 64*1024)
	for {
		n, err := r.Read(b)
		q.mu.Lock()
		for len(q.buf) >= maxQueued {
			q.cond.Wait()
		}
		q.buf = append(q.buf, b[:n]...)
		if err != nil {
			q.err = err
		}
		q.cond.Broadcast()
		q.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// take appends everything queued to dst, waiting for output if there is
// none (with gather, for maxQueued/2 or gatherWait); the error is the
// reader's, once everything before it was taken.
func (q *outputQueue) take(dst []byte, gather bool) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if gather {
		timeUp := false
		t := time.AfterFunc(gatherWait, func() {
			q.mu.Lock()
			timeUp = true
			q.cond.Broadcast()
			q.mu.Unlock()
		})
		for len(q.buf) < maxQueued/2 && q.err == nil && !timeUp {
			q.cond.Wait()
		}
		t.Stop()
	}
	for len(q.buf) == 0 && q.err == nil {
		q.cond.Wait()
	}
	if len(dst) == 0 && cap(dst) < len(q.buf) {
		// Swap buffers rather than copy.
		dst, q.buf = q.buf, dst[:0]
	} else {
		dst = append(dst, q.buf...)
		q.buf = q.buf[:0]
	}
	q.cond.Broadcast()
	return dst, q.err
}
