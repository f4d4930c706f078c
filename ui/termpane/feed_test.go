package termpane

import (
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// A pair of emulators: ref takes every byte as is, fed through the feeder.
type feedPair struct {
	ref, emu *vt.Emulator
	f        *feeder
	keep     int
}

func newFeedPair(t testing.TB, w, h, keep int) *feedPair {
	ref := vt.NewEmulator(w, h)
	ref.SetScrollbackSize(keep)
	clampMargins(ref)
	emu := vt.NewEmulator(w, h)
	emu.SetScrollbackSize(keep + scrollbackSlack)
	p := &feedPair{ref: ref, emu: emu, keep: keep}
	emu.SetCallbacks(vt.Callbacks{
		EnableMode:  func(m ansi.Mode) { p.f.setMode(m, true) },
		DisableMode: func(m ansi.Mode) { p.f.setMode(m, false) },
	})
	p.f = newFeeder(emu, keep)
	for _, e := range []*vt.Emulator{ref, emu} {
		go func() { _, _ = io.Copy(io.Discard, e) }() // answers to queries
	}
	t.Cleanup(func() {
		// Not Emulator.Close, which races with Read.
		ref.InputPipe().(*io.PipeWriter).Close()
		emu.InputPipe().(*io.PipeWriter).Close()
	})
	return p
}

func (p *feedPair) write(b []byte) {
	_, _ = p.ref.Write(b)
	p.f.write(b)
}

func (p *feedPair) resize(w, h int) {
	p.ref.Resize(w, h)
	p.emu.Resize(w, h)
	p.f.resized()
}

func (p *feedPair) diff() string { return emuDiff(p.ref, p.emu) }

// emuDiff describes the first difference between b and the reference a in
// their visible state (screen, cursor, scrollback), or "".
func emuDiff(a, b *vt.Emulator) string {
	if a.IsAltScreen() != b.IsAltScreen() {
		return "alt screen differs"
	}
	if a.CursorPosition() != b.CursorPosition() {
		return fmt.Sprintf("cursor %v, want %v", b.CursorPosition(), a.CursorPosition())
	}
	for y := 0; y < a.Height(); y++ {
		for x := 0; x < a.Width(); x++ {
			ca, cb := a.CellAt(x, y), b.CellAt(x, y)
			if (ca == nil) != (cb == nil) || ca != nil && !ca.Equal(cb) {
				return fmt.Sprintf("cell %d,%d = %+v, want %+v\nscreen:\n%s\nwant:\n%s", x, y, cb, ca, b.String(), a.String())
			}
		}
	}
	if a.ScrollbackLen() != b.ScrollbackLen() {
		return fmt.Sprintf("scrollback has %d lines, want %d", b.ScrollbackLen(), a.ScrollbackLen())
	}
	for i := 0; i < a.ScrollbackLen(); i++ {
		la, lb := a.Scrollback().Line(i), b.Scrollback().Line(i)
		if len(la) != len(lb) {
			return fmt.Sprintf("scrollback line %d: %q, want %q", i, lb.String(), la.String())
		}
		for x := range la {
			if !la[x].Equal(&lb[x]) {
				return fmt.Sprintf("scrollback line %d cell %d = %+v, want %+v", i, x, lb[x], la[x])
			}
		}
	}
	return ""
}

// check compares the pair, then again after a probe that shows the pen,
// the repeat character and the background a line feed fills with.
func (p *feedPair) check(t testing.TB, what string) {
	t.Helper()
	if d := p.diff(); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
	p.write([]byte("P\x1b[2b\r\n\n\x1b[0m"))
	if d := p.diff(); d != "" {
		t.Fatalf("%s, after a probe: %s", what, d)
	}
}

func lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(f(i))
	}
	return b.String()
}

func TestFeederMatchesEmulator(t *testing.T) {
	const w, h, keep = 20, 6, 30
	many := keep + 4*h
	tests := []struct {
		name string
		out  string
	}{
		{"plain lines", lines(many*3, func(i int) string { return fmt.Sprintf("line %d\r\n", i) })},
		{"prompt then lines", "$ cat f\r\n" + lines(many*2, func(i int) string { return fmt.Sprintf("l%d\r\n", i) }) + "$ "},
		{"few lines from the top", "\x1b[H\x1b[2J" + lines(3, func(i int) string { return fmt.Sprintf("row %d\r\n", i) })},
		{"foreground colours", lines(many*2, func(i int) string {
			return fmt.Sprintf("\x1b[3%dmok\x1b[0m %d \x1b[1;38;5;%dmx\x1b[m\r\n", i%8, i, i%256)
		})},
		{"background colour at line feeds", lines(many*2, func(i int) string {
			if i%7 == 3 {
				return fmt.Sprintf("\x1b[4%dmbg %d\r\n\x1b[0m", i%8, i)
			}
			return fmt.Sprintf("\x1b[48;2;1;2;3mx\x1b[49m %d\r\n", i)
		})},
		{"background left on", "\x1b[44m" + lines(many, func(i int) string { return fmt.Sprintf("b%d\r\n", i) }) + "\x1b[0m" + lines(many, func(i int) string { return fmt.Sprintf("n%d\r\n", i) })},
		{"unicode and wide", lines(many*2, func(i int) string {
			return []string{"héllo wörld\r\n", "世界 🎉 x\r\n", "e\u0301\u0301\r\n", "ok\r\n"}[i%4]
		})},
		{"long lines wrap", lines(many, func(i int) string { return strings.Repeat(string(rune('a'+i%26)), i%(3*w)) + "\r\n" })},
		{"exactly the width", lines(many, func(i int) string { return strings.Repeat("x", w-1+i%3) + "\r\n" })},
		{"tabs and backspaces", lines(many*2, func(i int) string { return fmt.Sprintf("a\tb%d\bc\r\n", i) })},
		{"line feeds without returns", lines(many, func(i int) string { return "ab\n" }) + lines(many, func(i int) string { return "\r\nxy" })},
		{"carriage returns inside lines", lines(many*2, func(i int) string { return fmt.Sprintf("%d%%\r%d%%\r\n", i, i+1) })},
		{"empty lines", lines(many*2, func(i int) string { return "\r\n" })},
		{"scroll region", "\x1b[2;4r" + lines(many, func(i int) string { return fmt.Sprintf("r%d\r\n", i) }) + "\x1b[r" + lines(many, func(i int) string { return fmt.Sprintf("f%d\r\n", i) })},
		{"region past the bottom", "\x1b[1;99r" + lines(many, func(i int) string { return fmt.Sprintf("r%d\r\n", i) })},
		{"region past a small screen", "\x1b[;9r\n0" + lines(many, func(i int) string { return "\n" })},
		{"alt screen", "main\r\n\x1b[?1049h" + lines(many, func(i int) string { return fmt.Sprintf("alt%d\r\n", i) }) + "\x1b[?1049l" + lines(many, func(i int) string { return fmt.Sprintf("back%d\r\n", i) })},
		{"alt screen with a background", "\x1b[?1049h\x1b[42m\x1b[?1049l" + lines(many, func(i int) string { return fmt.Sprintf("m%d\r\n", i) })},
		{"saved pen restored", "\x1b[41m\x1b7\x1b[0m" + lines(many, func(i int) string { return "a\r\n" }) + "\x1b8" + lines(many, func(i int) string { return "b\r\n" })},
		{"line graphics charset", "\x1b(0" + lines(many*2, func(i int) string { return "lqqk\r\n" }) + "\x1b(B"},
		{"single shift", "\x1b*0\x8e" + lines(many*2, func(i int) string { return "qx\r\n" })},
		{"new line mode", "\x1b[20h" + lines(many, func(i int) string { return "n\n" }) + "\x1b[20l" + lines(many, func(i int) string { return "o\r\n" })},
		{"left right margins", "\x1b[?69h\x1b[3;10s" + lines(many, func(i int) string { return fmt.Sprintf("m%d\r\n", i) }) + "\x1b[?69l" + lines(many, func(i int) string { return "z\r\n" })},
		{"reset", "\x1b[2;3r\x1b[41m\x1bc" + lines(many*2, func(i int) string { return fmt.Sprintf("%d\r\n", i) })},
		{"no ascii after the dropped lines", "x\r\n" + lines(many*2, func(i int) string { return "é\r\n" })},
		{"osc and queries between", lines(many*2, func(i int) string {
			if i%5 == 0 {
				return "\x1b]0;title\x07\x1b[6n\x1b[c" + fmt.Sprint(i) + "\r\n"
			}
			return fmt.Sprint(i) + "\r\n"
		})},
		{"cursor moved up", lines(many, func(i int) string { return "x\r\n" }) + "\x1b[3A" + lines(many, func(i int) string { return "y\r\n" })},
		{"insert mode", "\x1b[4h" + lines(many, func(i int) string { return fmt.Sprintf("i%d\r\n", i) }) + "\x1b[4l"},
		{"no autowrap", "\x1b[?7l" + lines(many, func(i int) string { return strings.Repeat("w", i%30) + "\r\n" }) + "\x1b[?7h"},
		{"invalid utf-8 and c1", lines(many, func(i int) string { return "\xc3\r\n\x9b\x80a\xff\r\n" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In one write, in small pieces (sequences split), in lines.
			for _, split := range []int{0, 1, 7, 64} {
				p := newFeedPair(t, w, h, keep)
				rng := rand.New(rand.NewSource(int64(split)))
				for b := []byte(tt.out); len(b) > 0; {
					n := len(b)
					if split > 0 {
						n = min(n, 1+rng.Intn(split))
					}
					p.write(b[:n])
					b = b[n:]
				}
				p.check(t, fmt.Sprintf("pieces up to %d bytes", split))
			}
		})
	}
}

// The fast path is in use for plain output (else the tests above prove
// little).
func TestFeederTakesRuns(t *testing.T) {
	const w, h, keep = 40, 10, 100
	p := newFeedPair(t, w, h, keep)
	out := []byte(lines(10*keep, func(i int) string { return fmt.Sprintf("\x1b[32m%d\x1b[0m\r\n", i) }))
	n := p.f.tryRun(out)
	if n != len(out) {
		t.Fatalf("run took %d of %d bytes", n, len(out))
	}
	_, _ = p.ref.Write(out)
	p.check(t, "one run")

	// A bottom margin past the screen, clamped, is the whole screen.
	p.write([]byte("\x1b[1;99r"))
	if n := p.f.tryRun(out); n != len(out) {
		t.Fatalf("after a clamped margin, run took %d of %d bytes", n, len(out))
	}
	_, _ = p.ref.Write(out)
	p.check(t, "run after a clamped margin")
}

func TestFeederResize(t *testing.T) {
	p := newFeedPair(t, 30, 8, 50)
	p.write([]byte(lines(200, func(i int) string { return fmt.Sprintf("a%d\r\n", i) })))
	p.write([]byte("\x1b[2;5r"))
	p.resize(25, 6)
	p.write([]byte(lines(200, func(i int) string { return fmt.Sprintf("b%d\r\n", i) })))
	p.check(t, "after a resize")
}

func FuzzFeeder(f *testing.F) {
	f.Add([]byte("a\r\nb\r\n\x1b[31mc\x1b[0m\r\n"), uint8(10), uint8(4), uint8(3))
	f.Add([]byte("\x1b[44mx\r\ny\r\n\x1b[2;3rz\r\n\x1b[?1049hq\r\n"), uint8(5), uint8(3), uint8(1))
	f.Add([]byte("héllo 世界\r\n\t\b\x8e\x1b(0q\r\n"), uint8(8), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, w, h, split uint8) {
		if w == 0 || h == 0 || w > 100 || h > 50 {
			return
		}
		// Repeat the input so that runs exceed the scrollback.
		out := []byte(strings.Repeat(string(data), 1+200/(len(data)+1)))
		p := newFeedPair(t, int(w), int(h), 8)
		for len(out) > 0 {
			n := len(out)
			if split > 0 {
				n = min(n, int(split))
			}
			p.write(out[:n])
			out = out[n:]
		}
		p.check(t, "fuzzed output")
	})
}

// The pane's reader and feeder together: a burst of output larger than the
// queue, in pieces, ends as in a plain emulator.
func TestPaneBulkOutputMatchesEmulator(t *testing.T) {
	const w, h = 40, 5
	out := lines(Scrollback+2000, func(i int) string {
		if i%1000 == 999 {
			return "\x1b[44mblue\x1b[K\x1b[0m\ttab\r\n"
		}
		return fmt.Sprintf("\x1b[3%dm%d\x1b[0m quick brown fox\r\n", i%8, i)
	}) + "$ "
	hn := newHarness(t, w, h, nil)
	hn.feed(t, out)
	ref := vt.NewEmulator(w, h)
	ref.SetScrollbackSize(Scrollback)
	_, _ = ref.WriteString(out)
	hn.p.mu.Lock()
	d := emuDiff(ref, hn.p.emu)
	hn.p.mu.Unlock()
	if d != "" {
		t.Fatal(d)
	}
}

// A bottom margin below the screen made the emulator library panic once
// the cursor reached it, ending the program; the pane keeps it on screen.
func TestMarginBelowScreenDoesNotPanic(t *testing.T) {
	hn := newHarness(t, 10, 2, nil)
	hn.feed(t, "\x1b[;3r\n0\r\n\n\n\nok")
	if got := hn.p.Line(1); got != "ok" {
		t.Fatalf("last line %q, want ok\n%s", got, hn.p.ScreenText())
	}
}

// Should the emulator library panic anyway, the pane resets it and goes on.
func TestPaneRecoversFromEmulatorPanic(t *testing.T) {
	hn := newHarness(t, 20, 4, nil)
	hn.p.mu.Lock()
	hn.p.emu.RegisterCsiHandler('z', func(ansi.Params) bool { panic("test") })
	hn.p.mu.Unlock()
	hn.feed(t, "a\r\n\x1b[1z")
	hn.feed(t, "after\r\n")
	if !strings.Contains(hn.p.ScreenText(), "after") {
		t.Fatalf("screen after the panic:\n%s", hn.p.ScreenText())
	}
}
