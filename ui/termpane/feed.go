package termpane

import (
	"image/color"
	"strconv"
	"unicode/utf8"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/parser"
	"github.com/charmbracelet/x/vt"
)

// feeder moves remote output into the emulator.
//
// vt scrolls by moving every cell of its screen up one row, once per line
// feed at the bottom: bulk output (a cat, a build log) cost a whole screen
// of cell copies per line. Most such output is a run of plain lines (text,
// colours, CR, LF). For such a run the feeder scrolls once per screenful
// with SU and moves the cursor up, so the lines then land on rows already
// blank; and when a run is longer than the scrollback keeps, it drops the
// lines nobody could see any more, replaying only their colour changes.
// The emulator ends in the same state as if it had taken every byte in
// order (feed_test.go checks this against a plain emulator). Anything the
// fast path cannot prove safe goes to the emulator as is.
type feeder struct {
	emu  *vt.Emulator
	keep int // scrollback lines kept

	// shadow follows the emulator's parser over the bytes written as is,
	// so a run only starts where the emulator's parser is in its ground
	// state (not inside a sequence split across reads).
	shadow    *ansi.Parser
	lineStart bool // the last byte written as is was a line feed

	// sgr parses one SGR sequence of a run; sgrBg is its result.
	sgr   *ansi.Parser
	sgrBg bgChange

	// Emulator state the fast path depends on, kept up to date by
	// handlers that only observe (they return false, so vt's own run).
	bg          color.Color // the pen's background, when bgKnown
	bgKnown     bool
	regionFull  [2]bool // main, alt: DECSTBM margins are the whole screen
	lrMode      bool    // DECLRMM on
	lrMargins   bool    // left/right margins may be set
	lnm         bool    // line feed also returns the carriage
	singleShift bool    // an SS2/SS3 may be waiting for the next character

	// dropped counts the scrollback lines the feeder removed (trims and
	// skipped runs), so that the pane can tell how many lines output
	// pushed into the scrollback.
	dropped int

	lines   []runLine // scratch
	scratch []byte    // scratch
}

// bgChange is what an SGR does to the pen's background.
type bgChange struct {
	set bool        // it sets one (else leaves it)
	bg  color.Color // the new background (nil: the default)
}

// penBg is the pen's background at a point of a run: with set, the colour
// bg; else the one at the start of the run, which the feeder may not know.
type penBg struct {
	set bool
	bg  color.Color
}

// runLine is one line of a run: where it ends (after its LF), the cursor
// column and the pen's background there.
type runLine struct {
	end   int
	col   int
	exact bool // col is exact (only ASCII since the last CR)
	ascii bool // prints an ASCII character (sets vt's REP character)
	bg    penBg
}

// minRun is the fewest lines worth the fast path.
const minRun = 2

// slowChunk bounds the bytes written as is between two scrollback trims.
const slowChunk = 16 << 10

func newFeeder(emu *vt.Emulator, keep int) *feeder {
	f := &feeder{
		emu:        emu,
		keep:       keep,
		lineStart:  true,
		bgKnown:    true,
		regionFull: [2]bool{true, true},
	}
	f.shadow = ansi.NewParser()
	f.shadow.SetDataSize(1)
	f.shadow.SetHandler(ansi.Handler{
		Print: func(rune) { f.singleShift = false },
		Execute: func(b byte) {
			if b == ansi.SS2 || b == ansi.SS3 {
				f.singleShift = true
			}
		},
	})
	f.sgr = ansi.NewParser()
	f.sgr.SetDataSize(1)
	f.sgr.SetHandler(ansi.Handler{
		HandleCsi: func(cmd ansi.Cmd, params ansi.Params) {
			f.sgrBg = sgrBackground(params)
		},
	})

	emu.RegisterCsiHandler('m', func(params ansi.Params) bool {
		if c := sgrBackground(params); c.set {
			f.bg, f.bgKnown = c.bg, true
		}
		return false
	})
	emu.RegisterCsiHandler('r', func(params ansi.Params) bool {
		// As vt's DECSTBM: defaults, and no change when top >= bottom.
		h := emu.Height()
		top, _, _ := params.Param(0, 1)
		top = max(top, 1)
		bottom, _, _ := params.Param(1, h)
		if bottom < 1 {
			bottom = h
		}
		if top < bottom {
			f.regionFull[f.screen()] = top == 1 && bottom == h
		}
		return false
	})
	clampMargins(emu) // registered last: runs before the handler above
	emu.RegisterEscHandler('8', func() bool {
		f.bgKnown = false // DECRC restores a saved pen
		return false
	})
	emu.RegisterEscHandler('c', func() bool {
		f.bg, f.bgKnown = nil, true
		f.regionFull = [2]bool{true, true}
		f.lrMargins = false
		f.singleShift = false
		return false
	})
	return f
}

// clampMargins keeps DECSTBM's bottom margin on the screen. vt takes one
// below the screen as is, then moves the cursor off the screen and panics
// scrolling there (ESC[;3r and a few line feeds on a two-row screen ended
// the program). vt's own handler, which runs after this one (handlers run
// last registered first), reads the same parameters.
func clampMargins(emu *vt.Emulator) {
	emu.RegisterCsiHandler('r', func(params ansi.Params) bool {
		if h := emu.Height(); len(params) > 1 && params[1].Param(0) > h {
			params[1] = ansi.Param(h)
		}
		return false
	})
}

// recover puts the emulator back in order after it panicked on some
// output: vt's parser back in its ground state, margins reset, the cursor
// on the screen.
func (f *feeder) recover() {
	_, _ = f.emu.Write([]byte{ansi.CAN})
	f.emu.Resize(f.emu.Width(), f.emu.Height())
	f.shadow.Reset()
	f.resized()
	f.bgKnown = false
	f.lineStart = false
}

func (f *feeder) screen() int {
	if f.emu.IsAltScreen() {
		return 1
	}
	return 0
}

// setMode follows the modes the fast path depends on (from the
// emulator's mode callbacks).
func (f *feeder) setMode(m ansi.Mode, on bool) {
	switch m {
	case ansi.ModeAltScreen, ansi.ModeSaveCursor, ansi.ModeAltScreenSaveCursor, ansi.DECMode(47):
		f.bgKnown = false // the pen may be another screen's or a saved one
	case ansi.ModeLeftRightMargin:
		f.lrMode = on
		if on {
			f.lrMargins = true
		}
	case ansi.ModeLineFeedNewLine:
		f.lnm = on
	}
}

// resized follows Emulator.Resize, which resets both screens' margins.
func (f *feeder) resized() {
	f.regionFull = [2]bool{true, true}
	f.lrMargins = f.lrMode
}

var bgSentinel = color.RGBA{1, 2, 3, 4} // no SGR yields this alpha

// sgrBackground says what an SGR does to the pen's background, by running
// vt's own SGR reader on a pen with a background no SGR sets.
func sgrBackground(params ansi.Params) bgChange {
	pen := uv.Style{Bg: bgSentinel}
	uv.ReadStyle(params, &pen)
	if pen.Bg == bgSentinel {
		return bgChange{}
	}
	return bgChange{set: true, bg: pen.Bg}
}

// write feeds data to the emulator. The caller holds the pane's lock.
func (f *feeder) write(data []byte) {
	flushed := 0 // data[:flushed] is in the emulator
	lfs := 0     // line feeds in data[flushed:i]
	for i := 0; i < len(data); {
		if f.lineStart && f.shadow.State() == parser.GroundState && plainLine(data[i:], f.emu.Width()) {
			f.flush(data[flushed:i])
			flushed, lfs = i, 0
			if n := f.tryRun(data[i:]); n > 0 {
				i += n
				flushed = i
				continue
			}
		}
		// As is, up to and including the next line feed.
		j, end := i, min(len(data), i+slowChunk)
		for j < end && data[j] != '\n' {
			f.shadow.Advance(data[j])
			j++
		}
		if j < end {
			f.shadow.Advance('\n')
			j++
			lfs++
			f.lineStart = true
		} else {
			f.lineStart = false
		}
		i = j
		// Keep the lines the emulator scrolls between two trims (one per
		// LF, or per wrap) below the slack.
		if lfs >= 1024 || i-flushed >= slowChunk {
			f.flush(data[flushed:i])
			flushed, lfs = i, 0
		}
	}
	f.flush(data[flushed:])
}

func (f *feeder) flush(b []byte) {
	if len(b) > 0 {
		_, _ = f.emu.Write(b)
		f.trim()
	}
}

// trim drops scrollback beyond keep. vt's scrollback drops its oldest
// line with a copy of the whole buffer once full; the pane sets its limit
// keep+scrollbackSlack and trims here with one reslice instead.
func (f *feeder) trim() {
	if n := f.emu.ScrollbackLen(); n > f.keep {
		f.dropped += n - f.keep
		f.emu.SetScrollbackSize(f.keep)
		f.emu.SetScrollbackSize(f.keep + scrollbackSlack)
	}
}

// tryRun takes the run of plain lines at the start of data, if there is
// one worth it, and returns the bytes taken.
func (f *feeder) tryRun(data []byte) int {
	w, h := f.emu.Width(), f.emu.Height()
	if h < 2 || f.emu.IsAltScreen() || !f.regionFull[0] || f.lrMargins || f.lnm {
		return 0
	}
	cur := f.emu.CursorPosition()
	lines := f.scan(data, cur.X, w)
	if len(lines) < minRun {
		return 0
	}
	run := data[:lines[len(lines)-1].end]
	start := 0 // lines[:start] are done
	y := cur.Y
	// The pen's background at the start of the run (set: known) and of
	// the batch.
	start0 := penBg{set: f.bgKnown, bg: f.bg}
	resolve := func(b penBg) penBg {
		if !b.set {
			return start0
		}
		return b
	}
	pen := start0

	// Lines scrolled out of the scrollback before the run ends: drop
	// them. The tape of rows (screen, then each new row) is the same
	// from the row of line m+1 on whether the emulator saw lines[:m] or
	// a blank screen with the cursor where they left it; the kept lines
	// push everything older out of the scrollback.
	if m := len(lines) - (f.keep + 2*h); m > 0 && !f.singleShift && lines[m-1].exact && f.asciiAfter(lines, m) {
		f.scratch = append(f.scratch[:0], "\x1b["...)
		f.scratch = strconv.AppendInt(f.scratch, int64(h), 10)
		f.scratch = append(f.scratch, 'S')
		_, _ = f.emu.Write(f.scratch)
		f.dropped += f.emu.ScrollbackLen() + m
		f.emu.ClearScrollback()
		f.scratch = append(f.scratch[:0], "\x1b["...)
		f.scratch = strconv.AppendInt(f.scratch, int64(h), 10)
		f.scratch = append(f.scratch, ';')
		f.scratch = strconv.AppendInt(f.scratch, int64(lines[m-1].col+1), 10)
		f.scratch = append(f.scratch, 'H')
		f.scratch = appendSGRs(f.scratch, run[:lines[m-1].end])
		_, _ = f.emu.Write(f.scratch)
		start, y = m, h-1
		pen = resolve(lines[m-1].bg)
	}

	for start < len(lines) {
		// A line feed fills the new row with the pen's background, SU
		// with the one at its time: the batch's line feeds must all have
		// the pen's background at its start.
		b := 0
		for b < h-1 && start+b < len(lines) && sameBg(pen, resolve(lines[start+b].bg)) {
			b++
		}
		if b == 0 {
			b = 1 // this line's feed scrolls as is
		} else if n := y + b - (h - 1); n > 0 {
			// Scrolling n rows first leaves the cursor's row and those
			// below it as the line feeds would have; they then only move
			// the cursor down. n <= y as b <= h-1.
			f.scratch = append(f.scratch[:0], "\x1b["...)
			f.scratch = strconv.AppendInt(f.scratch, int64(n), 10)
			f.scratch = append(f.scratch, "S\x1b["...)
			f.scratch = strconv.AppendInt(f.scratch, int64(n), 10)
			f.scratch = append(f.scratch, 'A')
			_, _ = f.emu.Write(f.scratch)
			y -= n
		}
		from := 0
		if start > 0 {
			from = lines[start-1].end
		}
		_, _ = f.emu.Write(run[from:lines[start+b-1].end])
		f.trim()
		y = f.emu.CursorPosition().Y
		pen = resolve(lines[start+b-1].bg)
		start += b
	}
	if f.asciiAfter(lines, 0) {
		f.singleShift = false // a character took it
	}
	f.lineStart = true
	return len(run)
}

// sameBg reports whether two backgrounds are certainly the same (two
// unset ones are both the run's unknown starting one).
func sameBg(a, b penBg) bool {
	if a.set != b.set {
		return false
	}
	return !a.set || a.bg == b.bg
}

func (f *feeder) asciiAfter(lines []runLine, m int) bool {
	for _, l := range lines[m:] {
		if l.ascii {
			return true
		}
	}
	return false
}

// plainLine is a quick look before the emulator is brought up to date for
// a run: whether data starts with a line scan might take.
func plainLine(data []byte, w int) bool {
	col := 0
	for _, c := range data {
		switch {
		case c >= 0x20 && c < 0x7f:
			col++
			if col > w-1 {
				return false
			}
		case c == '\n':
			return true
		case c == '\r', c == 0x1b, c >= 0x80:
		default:
			return false
		}
	}
	return false
}

// scan returns the plain lines at the start of data, the first starting at
// column x0: printable text that never reaches the last column (so never
// wraps), CR, SGR, each ending in LF.
func (f *feeder) scan(data []byte, x0, w int) []runLine {
	lines := f.lines[:0]
	col, exact, ascii := x0, true, false
	var bg penBg
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			if col+1 > w-1 {
				return f.keepLines(lines)
			}
			col++
			ascii = true
			i++
		case c == '\r':
			col, exact = 0, true
			i++
		case c == '\n':
			i++
			lines = append(lines, runLine{end: i, col: col, exact: exact, ascii: ascii, bg: bg})
			ascii = false
		case c == 0x1b:
			n, c := f.sgrAt(data[i:])
			if n == 0 {
				return f.keepLines(lines)
			}
			if c.set {
				bg = penBg{set: true, bg: c.bg}
			}
			i += n
		case c >= 0xc2:
			r, n := utf8.DecodeRune(data[i:])
			// A cluster is never wider than its bytes: n bounds the width.
			if r == utf8.RuneError || r < 0xa0 || col+n > w-1 {
				return f.keepLines(lines)
			}
			col += n
			exact = false
			i += n
		default:
			return f.keepLines(lines)
		}
	}
	return f.keepLines(lines)
}

func (f *feeder) keepLines(l []runLine) []runLine {
	f.lines = l
	return l
}

// sgrAt parses the SGR sequence (ESC [ digits ; : m) at the start of b and
// returns its length and what it does to the background; 0 if b does not
// start with a complete one.
func (f *feeder) sgrAt(b []byte) (int, bgChange) {
	if len(b) < 3 || b[1] != '[' {
		return 0, bgChange{}
	}
	for j := 2; j < len(b) && j < 128; j++ {
		c := b[j]
		switch {
		case c >= '0' && c <= '9', c == ';', c == ':':
		case c == 'm':
			f.sgrBg = bgChange{}
			for _, c := range b[:j+1] {
				f.sgr.Advance(c)
			}
			return j + 1, f.sgrBg
		default:
			return 0, bgChange{}
		}
	}
	return 0, bgChange{}
}

// appendSGRs appends the escape sequences of run (all SGRs: scan took no
// other) to dst.
func appendSGRs(dst, run []byte) []byte {
	for i := 0; i < len(run); i++ {
		if run[i] != 0x1b {
			continue
		}
		j := i + 2
		for run[j] != 'm' {
			j++
		}
		dst = append(dst, run[i:j+1]...)
		i = j
	}
	return dst
}
