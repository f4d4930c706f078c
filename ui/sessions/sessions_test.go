package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/termpane"
)

func newModel(opener Opener) *Model {
	c := &common.Common{Ctx: context.Background(), Width: 80, Height: 20, Styles: common.DefaultStyles()}
	return New(c, opener)
}

func msgOf(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	m := cmd()
	if b, ok := m.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, msgOf(c)...)
		}
		return out
	}
	return []tea.Msg{m}
}

func has[T any](msgs []tea.Msg) bool {
	for _, m := range msgs {
		if _, ok := m.(T); ok {
			return true
		}
	}
	return false
}

func TestWithoutOpenerTabExplains(t *testing.T) {
	m := newModel(nil)
	inst := projects.Instance{Name: "web-1", Project: "p", Zone: "z"}
	m.Open(inst)
	if m.Len() != 1 || !strings.Contains(m.Status(0), "not available") {
		t.Fatalf("status %q", m.Status(0))
	}
	if !strings.Contains(m.View(), "r reconnect") {
		t.Errorf("closed tab view:\n%s", m.View())
	}
	if n := len(m.Counts()); n != 0 {
		t.Errorf("a closed tab counts as open: %v", m.Counts())
	}
}

func TestPrefixCommandsOnClosedTabs(t *testing.T) {
	m := newModel(nil)
	a := projects.Instance{Name: "a", Project: "p", Zone: "z"}
	b := projects.Instance{Name: "b", Project: "p", Zone: "z"}
	m.Open(a)
	m.Open(b)
	if m.Active() != 1 {
		t.Fatalf("active %d after opening two tabs", m.Active())
	}
	prefix := tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}
	m.Update(prefix)
	m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if m.Active() != 0 {
		t.Errorf("prefix n: active %d, want 0 (wraps)", m.Active())
	}
	m.Update(prefix)
	m.Update(tea.KeyPressMsg{Code: '2', Text: "2"})
	if m.Active() != 1 {
		t.Errorf("prefix 2: active %d", m.Active())
	}
	m.Update(prefix)
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	if !strings.Contains(m.View(), "duplicate session") {
		t.Errorf("prefix ? shows no key list:\n%s", m.View())
	}
	m.Update(tea.KeyPressMsg{Code: 'z', Text: "z"}) // any key closes the list
	m.Update(prefix)
	if !has[FocusExplorerMsg](msgOf(m.Update(tea.KeyPressMsg{Code: 'e', Text: "e"}))) {
		t.Error("prefix e does not return to the explorer")
	}
	m.Update(prefix)
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if m.Len() != 1 {
		t.Fatalf("prefix x left %d tabs", m.Len())
	}
	m.Update(prefix)
	if !has[FocusExplorerMsg](msgOf(m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"}))) {
		t.Error("closing the last tab does not return to the explorer")
	}
	if m.Len() != 0 {
		t.Errorf("%d tabs left", m.Len())
	}
}

func TestViewFitsSize(t *testing.T) {
	m := newModel(nil)
	m.Open(projects.Instance{Name: "web-1", Project: "p", Zone: "z"})
	lines := strings.Split(m.View(), "\n")
	if len(lines) != 20 {
		t.Errorf("view has %d lines, want 20", len(lines))
	}
}

// On a narrow or short screen the tab keys' help wraps its prose and
// descriptions inside the box and is cut to the screen's height, keeping
// the line that says how to leave it: no line is wider than the screen.
func TestHelpFitsNarrowScreen(t *testing.T) {
	for _, size := range []struct{ w, h int }{{50, 40}, {50, 16}, {78, 24}, {36, 30}} {
		m := newModel(nil)
		m.c.Width, m.c.Height = size.w, size.h
		m.Open(projects.Instance{Name: "web-1", Project: "p", Zone: "z"})
		m.command(tea.KeyPressMsg{Code: '?', Text: "?"})
		if !m.help {
			t.Fatal("ctrl+] ? did not open the help")
		}
		view := m.View()
		lines := strings.Split(view, "\n")
		if len(lines) > size.h {
			t.Errorf("%dx%d: the view has %d lines", size.w, size.h, len(lines))
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size.w {
				t.Errorf("%dx%d: line %d wide: %q", size.w, size.h, w, ansi.Strip(l))
			}
		}
		plain := ansi.Strip(view)
		for _, want := range []string{"Press any key.", "SSH tab keys"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%dx%d: %q is missing:\n%s", size.w, size.h, want, plain)
			}
		}
		if size.h >= 40 && !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(plain, "│", " ")), " "), "the mouse wheel too unless the program on the VM uses the mouse.") {
			t.Errorf("%dx%d: the scrolling sentence is cut:\n%s", size.w, size.h, plain)
		}
	}
}

// The tab keys' help is two aligned columns when wide enough, one column
// otherwise; either way its box fits the screen.
func TestHelpColumnsAlignedAndFit(t *testing.T) {
	m := newModel(nil)
	for _, tc := range []struct{ width, rows int }{{140, 6}, {80, 11}} {
		text := helpText(tc.width)
		if w := lipgloss.Width(m.c.Styles.Dialog.Render(text)); w > tc.width {
			t.Errorf("width %d: help box is %d wide", tc.width, w)
		}
		lines := strings.Split(text, "\n")
		start := slices.Index(lines, "After ctrl+]:")
		if start < 0 {
			t.Fatal("no \"After ctrl+]:\" line")
		}
		col, rows := -1, 0
		for _, l := range lines[start+1:] {
			if !strings.HasPrefix(l, "  ") {
				break
			}
			rows++
			fields := regexp.MustCompile(`\S+(?: \S+)*`).FindAllStringIndex(l, -1)
			if len(fields) != 4 {
				continue
			}
			c := ansi.StringWidth(l[:fields[2][0]])
			if col < 0 {
				col = c
			} else if c != col {
				t.Errorf("width %d: second column at %d, want %d: %q", tc.width, c, col, l)
			}
		}
		if rows != tc.rows {
			t.Errorf("width %d: %d key rows, want %d:\n%s", tc.width, rows, tc.rows, text)
		}
	}
}

// A key after the prefix that does nothing says so in the tab bar, as do
// a tab number that does not exist, r on a session that is open and the
// screen copy (which has no other visible effect); the next key clears it.
func TestPrefixKeysGiveFeedback(t *testing.T) {
	m := newModel(nil)
	m.c.Width = 60
	m.Open(projects.Instance{Name: "web-1", Project: "p", Zone: "z"}) // closed: no opener
	prefix := tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}
	bar := func() string { return ansi.Strip(strings.Split(m.View(), "\n")[0]) }
	press := func(k tea.KeyPressMsg) {
		m.Update(prefix)
		cmd := m.Update(k)
		if tb := m.current(); tb.state == open && k.String() != "y" {
			// The pane hands the command back as a message.
			for _, msg := range msgOf(cmd) {
				if Owns(msg) {
					m.Update(msg)
				}
			}
		}
	}
	press(tea.KeyPressMsg{Code: 'z', Text: "z"})
	if b := bar(); !strings.Contains(b, "ctrl+] z does nothing") {
		t.Errorf("ctrl+] z: bar %q", b)
	}
	if w := ansi.StringWidth(strings.Split(m.View(), "\n")[0]); w > 60 {
		t.Errorf("the bar is %d wide", w)
	}
	press(tea.KeyPressMsg{Code: '7', Text: "7"})
	if b := bar(); !strings.Contains(b, "no tab 7") {
		t.Errorf("ctrl+] 7 with one tab: bar %q", b)
	}
	m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if b := bar(); strings.Contains(b, "no tab") || !strings.Contains(b, "ctrl+] ? keys") {
		t.Errorf("the next key did not clear the word: bar %q", b)
	}

	// An open session: r does not reconnect it, y copies its screen.
	pr, pw := io.Pipe()
	defer pw.Close()
	tb := m.current()
	tb.state = open
	tb.pane = termpane.New(termpane.Config{Output: pr, Input: io.Discard, Width: 60, Height: 19})
	defer tb.pane.Close()
	press(tea.KeyPressMsg{Code: 'r', Text: "r"})
	if b := bar(); !strings.Contains(b, "r reconnects a closed session") {
		t.Errorf("ctrl+] r on an open session: bar %q", b)
	}
	press(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if b := bar(); !strings.Contains(b, "screen copied") {
		t.Errorf("ctrl+] y: bar %q", b)
	}
}

// A closed tab's error wraps between words, so the firewall command in
// it can be typed back as shown: no flag or name is split at a hyphen.
func TestClosedTabErrorKeepsCommandWhole(t *testing.T) {
	m := newModel(nil)
	m.c.Width = 60
	m.Open(projects.Instance{Name: "no-firewall", Project: "acme-dev", Zone: "us-east1-b"})
	cmd := "gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20"
	m.current().err = errors.New("IAP could not connect to port 22 of instance no-firewall (project acme-dev, zone us-east1-b); allow it with:\n  " + cmd)
	view := ansi.Strip(m.View())
	var words []string
	for _, l := range strings.Split(view, "\n") {
		if w := ansi.StringWidth(l); w > 60 {
			t.Errorf("line %d wide: %q", w, l)
		}
		words = append(words, strings.Fields(strings.Trim(l, "│ "))...)
	}
	joined := " " + strings.Join(words, " ") + " "
	for _, f := range append(strings.Fields(cmd), "us-east1-b);") {
		if !strings.Contains(joined, " "+f+" ") {
			t.Errorf("%q is not shown whole:\n%s", f, view)
		}
	}
}

// With more tabs than the bar holds, the bar shows the active tab (and
// the ones around it, marked where some are left out) and keeps the
// keys hint, instead of cutting the active tab off the right edge.
func TestTabBarShowsActiveTab(t *testing.T) {
	m := newModel(nil)
	m.c.Width = 60
	names := []string{"dev-alice", "dev-bob", "dev-oslogin", "web-frontend-1", "web-frontend-2", "db-primary", "db-replica"}
	for _, n := range names {
		m.Open(projects.Instance{Name: n, Project: "p", Zone: "z"})
	}
	for i, n := range names {
		m.active = i
		bar := ansi.Strip(strings.Split(m.View(), "\n")[0])
		if w := ansi.StringWidth(bar); w > 60 {
			t.Errorf("tab %d: bar %d wide", i+1, w)
		}
		if want := fmt.Sprintf(" %d %s ", i+1, n); !strings.Contains(bar, want) {
			t.Errorf("tab %d: the active tab %q is not in the bar %q", i+1, want, bar)
		}
		if !strings.Contains(bar, "ctrl+] ? keys") {
			t.Errorf("tab %d: no keys hint in %q", i+1, bar)
		}
		if i > 0 && !strings.Contains(bar, " 1 dev-alice ") && !strings.HasPrefix(bar, "…") {
			t.Errorf("tab %d: tabs left out on the left are not marked: %q", i+1, bar)
		}
	}
}

// waitOpener blocks every Open until its context ends.
type waitOpener struct{}

func (waitOpener) Open(ctx context.Context, _ projects.Instance, _, _ int, _ Hooks) (Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRetriedStepsDoNotGrowTheList(t *testing.T) {
	m := newModel(waitOpener{})
	m.c.Height = 14
	inst := projects.Instance{Name: "web-1", Project: "p", Zone: "z"}
	m.Open(inst)
	defer m.tabs[0].cancel()
	id, gen := m.tabs[0].id, m.tabs[0].gen
	step := func(s string) { m.Update(progressMsg{tab: id, gen: gen, step: s}) }
	step("publishing key")
	for range 6 {
		step("opening tunnel")
		step("authenticating")
		step("waiting for the guest agent")
	}
	v := ansi.Strip(m.View())
	if n := strings.Count(v, "opening tunnel"); n != 1 {
		t.Errorf("opening tunnel listed %d times:\n%s", n, v)
	}
	if !strings.Contains(v, "waiting for the guest agent (attempt 6)") {
		t.Errorf("the current step and attempt are not shown:\n%s", v)
	}
	if got := m.Status(0); got != "connecting: waiting for the guest agent" {
		t.Errorf("status %q", got)
	}
}

// sizeConn is an open session that records the sizes it is told.
type sizeConn struct {
	r     *io.PipeReader
	sizes []string
}

func (c *sizeConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *sizeConn) Write(b []byte) (int, error) { return len(b), nil }
func (c *sizeConn) Resize(cols, rows int) error {
	c.sizes = append(c.sizes, fmt.Sprintf("%dx%d", cols, rows))
	return nil
}
func (c *sizeConn) Wait() (int, error) { select {} }
func (c *sizeConn) Close() error       { return c.r.Close() }

type sizeOpener struct {
	conn   *sizeConn
	opened string
}

func (o *sizeOpener) Open(_ context.Context, _ projects.Instance, cols, rows int, _ Hooks) (Conn, error) {
	o.opened = fmt.Sprintf("%dx%d", cols, rows)
	return o.conn, nil
}

func TestResizeWhileConnectingReachesTheVM(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	o := &sizeOpener{conn: &sizeConn{r: r}}
	m := newModel(o)
	batch, _ := m.Open(projects.Instance{Name: "web-1", Project: "p", Zone: "z"})().(tea.BatchMsg)
	if len(batch) == 0 {
		t.Fatal("Open returned no commands")
	}
	opened := batch[0]() // the connection; the others wait for events
	if _, ok := opened.(openedMsg); !ok || o.opened != "80x19" {
		t.Fatalf("first command gave %T, opened with %q", opened, o.opened)
	}
	m.SetSize(100, 30) // the window grows before the session is up
	m.Update(opened)
	if got := o.conn.sizes; !slices.Equal(got, []string{"100x29"}) {
		t.Errorf("sizes sent to the VM: %v, want [100x29]", got)
	}
	if cols, rows := m.Pane(0).Size(); cols != 100 || rows != 29 {
		t.Errorf("pane %dx%d", cols, rows)
	}
}

func TestTabBarShowsWindowTitle(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	o := &sizeOpener{conn: &sizeConn{r: r}}
	m := newModel(o)
	batch, _ := m.Open(projects.Instance{Name: "web-1", Project: "p", Zone: "z"})().(tea.BatchMsg)
	m.Update(batch[0]())
	p := m.Pane(0)
	out := "\x1b]2;vim main.go\x07$ "
	if _, err := io.WriteString(w, out); err != nil {
		t.Fatal(err)
	}
	for p.BytesRead() < int64(len(out)) {
		runtime.Gosched()
	}
	bar := strings.SplitN(ansi.Strip(m.View()), "\n", 2)[0]
	if !strings.Contains(bar, " 1 web-1  vim main.go ") {
		t.Errorf("tab bar %q lacks the title", bar)
	}
	if ansi.StringWidth(bar) != 80 {
		t.Errorf("tab bar is %d wide", ansi.StringWidth(bar))
	}
}
