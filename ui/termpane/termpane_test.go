package termpane

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// sink records what the pane sends to the remote.
type sink struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func newSink() *sink { return &sink{ch: make(chan struct{}, 1)} }

func (s *sink) Write(b []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(b)
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor blocks until the sink holds want (the test's deadline bounds it).
func (s *sink) waitFor(t *testing.T, want string) {
	t.Helper()
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.ch:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type harness struct {
	p   *Pane
	out *io.PipeWriter
	in  *sink
	fed int64
}

func newHarness(t *testing.T, w, h int, resize func(int, int) error) *harness {
	t.Helper()
	pr, pw := io.Pipe()
	in := newSink()
	p := New(Config{Output: pr, Input: in, Width: w, Height: h, Resize: resize})
	t.Cleanup(func() {
		pw.Close()
		p.Close()
	})
	return &harness{p: p, out: pw, in: in}
}

// feed writes remote output and waits until the emulator has taken it in.
func (h *harness) feed(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(h.out, s); err != nil {
		t.Fatal(err)
	}
	h.fed += int64(len(s))
	for h.p.BytesRead() < h.fed {
		time.Sleep(time.Millisecond)
	}
}

func TestScreenContent(t *testing.T) {
	h := newHarness(t, 20, 5, nil)
	h.feed(t, "hello\r\n\x1b[31mred\x1b[0m plain\r\n\x1b[4;3Hxy")
	if got := h.p.Line(0); got != "hello" {
		t.Errorf("line 0 = %q", got)
	}
	if got := h.p.Line(1); got != "red plain" {
		t.Errorf("line 1 = %q", got)
	}
	if got := h.p.Line(3); got != "  xy" {
		t.Errorf("line 3 after CUP = %q", got)
	}
	red := h.p.Cell(0, 1)
	if red.Style.Fg == nil || !sameColor(red.Style.Fg, ansi.Red) {
		t.Errorf("cell (0,1) colour = %v, want red", red.Style.Fg)
	}
	if plain := h.p.Cell(4, 1); plain.Style.Fg != nil {
		t.Errorf("cell after SGR 0 has colour %v", plain.Style.Fg)
	}
	view := h.p.View()
	if lines := strings.Split(view, "\n"); len(lines) != 5 {
		t.Fatalf("view has %d lines, want 5", len(lines))
	}
	for i, l := range strings.Split(view, "\n") {
		if w := ansi.StringWidth(l); w != 20 {
			t.Errorf("view line %d is %d wide, want 20", i, w)
		}
	}
	if !strings.Contains(view, "\x1b[31m") && !strings.Contains(view, "\x1b[31;") {
		t.Errorf("view lost the colour: %q", view)
	}
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestAltScreen(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	h.feed(t, "shell$ vim")
	h.feed(t, "\x1b[?1049h\x1b[H\x1b[2JVIM SCREEN")
	if !h.p.AltScreen() {
		t.Fatal("not on the alternate screen after ?1049h")
	}
	if got := h.p.Line(0); got != "VIM SCREEN" {
		t.Errorf("alt screen line 0 = %q", got)
	}
	h.feed(t, "\x1b[?1049l")
	if h.p.AltScreen() {
		t.Fatal("still on the alternate screen after ?1049l")
	}
	if got := h.p.Line(0); got != "shell$ vim" {
		t.Errorf("main screen not restored: %q", got)
	}
}

func TestScrollback(t *testing.T) {
	h := newHarness(t, 10, 3, nil)
	for i := 0; i < 10; i++ {
		h.feed(t, "line"+string(rune('0'+i))+"\r\n")
	}
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	if h.p.Scrolled() == 0 {
		t.Fatal("shift+pgup did not scroll back")
	}
	if !strings.Contains(h.p.View(), "line") {
		t.Errorf("scrolled view shows no history: %q", h.p.View())
	}
	if h.in.String() != "" {
		t.Errorf("shift+pgup reached the remote: %q", h.in.String())
	}
	// prefix+[ enters scroll mode; g goes to the top, q leaves.
	h.p.Update(tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	h.p.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	if !h.p.ScrollMode() {
		t.Fatal("prefix+[ did not enter scroll mode")
	}
	h.p.Update(tea.KeyPressMsg{Code: 'g', Text: "g"})
	if first := strings.Split(h.p.View(), "\n")[0]; !strings.HasPrefix(first, "line0") {
		t.Errorf("top of scrollback = %q, want line0", first)
	}
	h.p.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if h.p.ScrollMode() || h.p.Scrolled() != 0 {
		t.Error("q did not leave scroll mode")
	}
	if h.in.String() != "" {
		t.Errorf("scroll mode keys reached the remote: %q", h.in.String())
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		key  tea.KeyPressMsg
		app  bool
		want string
	}{
		{"escape", tea.KeyPressMsg{Code: tea.KeyEscape}, false, "\x1b"},
		{"enter", tea.KeyPressMsg{Code: tea.KeyEnter}, false, "\r"},
		{"tab", tea.KeyPressMsg{Code: tea.KeyTab}, false, "\t"},
		{"shift+tab", tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}, false, "\x1b[Z"},
		{"backspace", tea.KeyPressMsg{Code: tea.KeyBackspace}, false, "\x7f"},
		{"letter", tea.KeyPressMsg{Code: 'a', Text: "a"}, false, "a"},
		{"shifted letter", tea.KeyPressMsg{Code: 'a', Text: "A", Mod: tea.ModShift}, false, "A"},
		{"unicode", tea.KeyPressMsg{Code: 'é', Text: "é"}, false, "é"},
		{"space", tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}, false, " "},
		{"up normal", tea.KeyPressMsg{Code: tea.KeyUp}, false, "\x1b[A"},
		{"up application", tea.KeyPressMsg{Code: tea.KeyUp}, true, "\x1bOA"},
		{"left application", tea.KeyPressMsg{Code: tea.KeyLeft}, true, "\x1bOD"},
		{"ctrl+right", tea.KeyPressMsg{Code: tea.KeyRight, Mod: tea.ModCtrl}, true, "\x1b[1;5C"},
		{"home", tea.KeyPressMsg{Code: tea.KeyHome}, false, "\x1b[H"},
		{"pgdown", tea.KeyPressMsg{Code: tea.KeyPgDown}, false, "\x1b[6~"},
		{"delete", tea.KeyPressMsg{Code: tea.KeyDelete}, false, "\x1b[3~"},
		{"f1", tea.KeyPressMsg{Code: tea.KeyF1}, false, "\x1bOP"},
		{"f5", tea.KeyPressMsg{Code: tea.KeyF5}, false, "\x1b[15~"},
		{"shift+f5", tea.KeyPressMsg{Code: tea.KeyF5, Mod: tea.ModShift}, false, "\x1b[15;2~"},
		{"f12", tea.KeyPressMsg{Code: tea.KeyF12}, false, "\x1b[24~"},
		{"ctrl+c", tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, false, "\x03"},
		{"ctrl+a", tea.KeyPressMsg{Code: 'a', Mod: tea.ModCtrl}, false, "\x01"},
		{"ctrl+z", tea.KeyPressMsg{Code: 'z', Mod: tea.ModCtrl}, false, "\x1a"},
		{"ctrl+space", tea.KeyPressMsg{Code: tea.KeySpace, Mod: tea.ModCtrl}, false, "\x00"},
		{"ctrl+backslash", tea.KeyPressMsg{Code: '\\', Mod: tea.ModCtrl}, false, "\x1c"},
		{"alt+x", tea.KeyPressMsg{Code: 'x', Mod: tea.ModAlt}, false, "\x1bx"},
		{"alt+X", tea.KeyPressMsg{Code: 'x', Text: "X", Mod: tea.ModAlt | tea.ModShift}, false, "\x1bX"},
		{"ctrl+alt+a", tea.KeyPressMsg{Code: 'a', Mod: tea.ModAlt | tea.ModCtrl}, false, "\x1b\x01"},
		{"alt+up", tea.KeyPressMsg{Code: tea.KeyUp, Mod: tea.ModAlt}, true, "\x1b[1;3A"},
		{"alt+enter", tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt}, false, "\x1b\r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Encode(tt.key, tt.app); got != tt.want {
				t.Errorf("Encode(%v, app=%v) = %q, want %q", tt.key, tt.app, got, tt.want)
			}
		})
	}
}

func TestApplicationCursorFollowsRemote(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	h.in.waitFor(t, "\x1b[A")
	h.feed(t, "\x1b[?1h") // what vim and readline send
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	h.in.waitFor(t, "\x1b[A\x1bOA")
}

func TestPrefixNotForwarded(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	prefix := tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}
	if cmd := h.p.Update(prefix); cmd != nil {
		t.Errorf("prefix returned a command")
	}
	if !h.p.PrefixPending() {
		t.Fatal("prefix not pending")
	}
	cmd := h.p.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if cmd == nil {
		t.Fatal("prefix+n gave no command")
	}
	msg, ok := cmd().(CommandMsg)
	if !ok || msg.Key.String() != "n" || msg.ID != h.p.ID() {
		t.Fatalf("prefix+n gave %#v", msg)
	}
	// Escape and a letter go to the remote; the prefix twice sends it once.
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	h.p.Update(tea.KeyPressMsg{Code: 'a', Text: "a"})
	h.p.Update(prefix)
	h.p.Update(prefix)
	h.in.waitFor(t, "\x1ba\x1d")
	if got := h.in.String(); got != "\x1ba\x1d" {
		t.Errorf("remote got %q, want ESC a ^]", got)
	}
}

func TestQueriesAnsweredWithoutDeadlock(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	// Many queries in a row: each reply goes through the emulator's
	// synchronous pipe, which only a continuous reader keeps from blocking.
	var q strings.Builder
	for i := 0; i < 200; i++ {
		q.WriteString("\x1b[c\x1b[6n")
	}
	h.feed(t, q.String()+"after")
	if got := h.p.Line(0); got != "after" {
		t.Errorf("line 0 = %q", got)
	}
	h.in.waitFor(t, "\x1b[1;1R")
	if n := strings.Count(h.in.String(), "R"); n < 200 {
		// Wait for the rest of the replies to arrive.
		for strings.Count(h.in.String(), "R") < 200 {
			time.Sleep(time.Millisecond)
		}
	}
	if !strings.Contains(h.in.String(), "\x1b[?") {
		t.Errorf("no device attributes reply: %q", h.in.String()[:min(40, len(h.in.String()))])
	}
}

func TestBracketedPaste(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	h.p.Update(tea.PasteMsg{Content: "ls\n"})
	h.in.waitFor(t, "ls\n")
	h.feed(t, "\x1b[?2004h")
	h.p.Update(tea.PasteMsg{Content: "rm -rf x\x1b[201~\n"})
	want := "ls\n\x1b[200~rm -rf x\n\x1b[201~"
	h.in.waitFor(t, want)
	if got := h.in.String(); got != want {
		t.Errorf("remote got %q, want %q", got, want)
	}
}

func TestResizeCallsCallback(t *testing.T) {
	var got [][2]int
	h := newHarness(t, 20, 4, func(c, r int) error {
		got = append(got, [2]int{c, r})
		return nil
	})
	h.p.SetSize(100, 30)
	h.p.SetSize(100, 30) // unchanged: no second window-change
	if len(got) != 1 || got[0] != [2]int{100, 30} {
		t.Fatalf("resize callback calls = %v, want [[100 30]]", got)
	}
	if lines := strings.Split(h.p.View(), "\n"); len(lines) != 30 || ansi.StringWidth(lines[0]) != 100 {
		t.Errorf("view is %d lines of %d, want 30 of 100", len(lines), ansi.StringWidth(lines[0]))
	}
}

func TestMouseOnlyWhenRemoteAsked(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	click := tea.MouseClickMsg{X: 2, Y: 1, Button: tea.MouseLeft}
	h.p.Update(click)
	h.p.Update(tea.KeyPressMsg{Code: 'z', Text: "z"})
	h.in.waitFor(t, "z")
	if got := h.in.String(); got != "z" {
		t.Fatalf("a click reached a remote that did not enable the mouse: %q", got)
	}
	h.feed(t, "\x1b[?1000h\x1b[?1006h")
	h.p.Update(click)
	h.in.waitFor(t, "\x1b[<0;3;2M")
}

func TestOSC52ReachesHostClipboard(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	h.feed(t, "\x1b]52;c;aGVsbG8=\x07")
	cmd := h.p.Update(FrameMsg{ID: h.p.ID()})
	if cmd == nil {
		t.Fatal("no command after an OSC 52 copy")
	}
	if !containsClipboard(cmd, "hello") {
		t.Error("OSC 52 copy did not produce a clipboard command for \"hello\"")
	}
}

// containsClipboard checks the first command of the frame's batch (the
// clipboard copies come before the wait for the next frame). Bubble Tea's
// clipboard message is private: compare with what SetClipboard produces.
func containsClipboard(cmd tea.Cmd, text string) bool {
	want := tea.SetClipboard(text)()
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		return len(batch) > 0 && batch[0] != nil && batch[0]() == want
	}
	return msg == want
}

func TestClosedReportsEnd(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	h.feed(t, "bye")
	h.out.Close()
	<-h.p.Done()
	cmd := h.p.Update(FrameMsg{ID: h.p.ID()})
	found := false
	for _, m := range runBatch(cmd) {
		if c, ok := m.(ClosedMsg); ok && c.ID == h.p.ID() && c.Err == nil {
			found = true
		}
	}
	if !found {
		t.Error("no ClosedMsg after the output ended")
	}
}

func runBatch(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			if c != nil {
				out = append(out, c())
			}
		}
		return out
	}
	return []tea.Msg{msg}
}

func TestScrolledBackViewStaysWhileOutputContinues(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "line %d\r\n", i)
		}
		return b.String()
	}
	redraw := func() string {
		h.p.Update(FrameMsg{ID: h.p.ID()})
		return h.p.View()
	}
	h.feed(t, lines(0, 30))
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	want := redraw()
	if !strings.Contains(want, "line 2") {
		t.Fatalf("scrolled view: %q", want)
	}
	// One line at a time (as is), then a run (the feeder's fast path).
	for i := 30; i < 35; i++ {
		h.feed(t, lines(i, i+1))
	}
	h.feed(t, lines(35, 60))
	if got := redraw(); got != want {
		t.Errorf("the scrolled-back view moved with the output:\n%s\nwant\n%s", got, want)
	}
	// Scrolled back to lines the scrollback drops, the view shows the
	// oldest lines it keeps.
	h.feed(t, lines(60, Scrollback+100))
	if got := redraw(); !strings.HasPrefix(got, "line 97 ") {
		t.Errorf("scrolled back past the kept lines: %q", got)
	}
	// With the scrollback full, trimmed lines still count.
	h.p.Update(tea.KeyPressMsg{Code: 'a', Text: "a"}) // back to live
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	h.p.Update(tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	want = redraw()
	h.feed(t, lines(Scrollback+100, Scrollback+150))
	if got := redraw(); got != want {
		t.Errorf("with a full scrollback, the view moved with the output:\n%s\nwant\n%s", got, want)
	}
	// Typing returns to the live screen.
	h.p.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if got := redraw(); !strings.Contains(got, fmt.Sprintf("line %d", Scrollback+149)) {
		t.Errorf("after typing, the view is not live: %q", got)
	}
}

func TestCopyWhileScrolledBackTakesTheShownLines(t *testing.T) {
	h := newHarness(t, 12, 3, nil)
	for i := range 10 {
		h.feed(t, fmt.Sprintf("line %d\r\n", i))
	}
	h.feed(t, "$ ")
	prefix := tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}
	copyKey := tea.KeyPressMsg{Code: 'y', Text: "y"}
	h.p.Update(prefix)
	if cmd := h.p.Update(copyKey); cmd == nil || !containsClipboard(cmd, "line 8\nline 9\n$") {
		t.Errorf("live copy: %q", h.p.ShownText())
	}
	h.p.Update(prefix)
	h.p.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	h.p.Update(tea.KeyPressMsg{Code: 'g', Text: "g"})
	h.p.Update(prefix)
	if cmd := h.p.Update(copyKey); cmd == nil || !containsClipboard(cmd, "line 0\nline 1\nline 2") {
		t.Errorf("copy at the top of the scrollback: %q", h.p.ShownText())
	}
}

func TestWheelOnAlternateScreenSendsArrows(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	wheel := func(b tea.MouseButton) { h.p.Update(tea.MouseWheelMsg{X: 2, Y: 1, Button: b}) }
	// A pager on the alternate screen, in application cursor mode, without
	// the mouse.
	h.feed(t, "\x1b[?1049h\x1b[?1h")
	wheel(tea.MouseWheelDown)
	wheel(tea.MouseWheelUp)
	h.p.Update(tea.KeyPressMsg{Code: 'z', Text: "z"}) // sent after the wheel's keys
	want := strings.Repeat("\x1bOB", 3) + strings.Repeat("\x1bOA", 3) + "z"
	h.in.waitFor(t, "z")
	if got := h.in.String(); got != want {
		t.Errorf("wheel on the alternate screen sent %q, want %q", got, want)
	}
}

func TestTitleFromRemote(t *testing.T) {
	h := newHarness(t, 20, 4, nil)
	if got := h.p.Title(); got != "" {
		t.Errorf("title before any: %q", got)
	}
	h.feed(t, "\x1b]0;user@web-1: ~\x07")
	if got := h.p.Title(); got != "user@web-1: ~" {
		t.Errorf("OSC 0 title %q", got)
	}
	h.feed(t, "\x1b]2;"+strings.Repeat("é", 300)+"\x1b\\")
	if got := h.p.Title(); len(got) > maxTitle || !utf8.ValidString(got) || !strings.HasPrefix(got, "éé") {
		t.Errorf("long title kept as %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
