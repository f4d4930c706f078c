package dialog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/ui/common"
)

// Commands in an error are wrapped between words, never inside a flag,
// so what the panel shows can be typed back as it reads.
func TestErrorPanelWrapsBetweenWords(t *testing.T) {
	c := &common.Common{Width: 140, Height: 40, Styles: common.DefaultStyles()}
	p := NewErrorPanel(c)
	cmd := "gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:3389 --source-ranges=35.235.240.0/20"
	p.Push(common.ErrorRaisedMsg{Title: "RDP", Err: errors.New("IAP could not connect to port 3389; allow it with:\n  " + cmd), Hint: "Run " + cmd + " again."})
	view := ansi.Strip(p.View())
	var words []string
	for _, l := range strings.Split(view, "\n") {
		words = append(words, strings.Fields(strings.Trim(l, "│┃ "))...)
	}
	joined := " " + strings.Join(words, " ") + " "
	for _, f := range strings.Fields(cmd) {
		if strings.Count(joined, " "+f+" ") < 2 {
			t.Errorf("%q is not shown whole in the error and the hint:\n%s", f, view)
		}
	}
}

// A long indented line (a command in an error) wraps into lines indented
// like it, so the command still reads as one block under its sentence.
func TestWrapWordsKeepsIndentation(t *testing.T) {
	in := "allow it with:\n  gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --source-ranges=35.235.240.0/20\nthen retry."
	got := wrapWords(in, 36)
	lines := strings.Split(got, "\n")
	if lines[0] != "allow it with:" || lines[len(lines)-1] != "then retry." {
		t.Fatalf("unindented lines changed:\n%s", got)
	}
	cmd := lines[1 : len(lines)-1]
	if len(cmd) < 3 {
		t.Fatalf("the command did not wrap:\n%s", got)
	}
	for _, l := range cmd {
		if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") {
			t.Errorf("line %q is not indented by two like the command", l)
		}
		if w := ansi.StringWidth(l); w > 36 {
			t.Errorf("line %q is %d wide, want at most 36", l, w)
		}
	}
	var words []string
	for _, l := range cmd {
		words = append(words, strings.Fields(l)...)
	}
	if strings.Join(words, " ") != strings.TrimSpace(strings.Split(in, "\n")[1]) {
		t.Errorf("the command's words changed:\n%s", got)
	}
	// A word longer than the room is cut into pieces, each indented.
	long := wrapWords("    "+strings.Repeat("x", 25), 12)
	for _, l := range strings.Split(long, "\n") {
		if !strings.HasPrefix(l, "    x") || ansi.StringWidth(l) > 12 {
			t.Errorf("piece %q of a long word: want indented by four and at most 12 wide", l)
		}
	}
	if n := strings.Count(long, "x"); n != 25 {
		t.Errorf("%d x left of 25:\n%s", n, long)
	}
}

// An error taller than the screen scrolls inside the panel, which never
// gets taller than the screen: its title and the keys that dismiss it
// stay in view, and every line of the message can be reached.
func TestErrorPanelTallerThanScreenScrolls(t *testing.T) {
	c := &common.Common{Width: 60, Height: 20, Styles: common.DefaultStyles()}
	p := NewErrorPanel(c)
	var msg []string
	for i := 1; i <= 30; i++ {
		msg = append(msg, fmt.Sprintf("line%02d", i))
	}
	p.Push(common.ErrorRaisedMsg{Title: "RDP to win-1", Err: errors.New(strings.Join(msg, "\n")), Hint: "the hint"})
	p.Push(common.ErrorRaisedMsg{Title: "second"})
	seen := map[string]bool{}
	for step := 0; step < 40; step++ {
		view := ansi.Strip(p.View())
		lines := strings.Split(view, "\n")
		if len(lines) > c.Height {
			t.Fatalf("step %d: the panel is %d lines on a %d-line screen:\n%s", step, len(lines), c.Height, view)
		}
		flat := strings.Join(strings.Fields(strings.ReplaceAll(view, "┃", " ")), " ")
		for _, want := range []string{"RDP to win-1", "enter/esc dismiss (1 more)", "scroll"} {
			if !strings.Contains(flat, want) {
				t.Fatalf("step %d: %q is not shown:\n%s", step, want, view)
			}
		}
		for _, f := range strings.Fields(view) {
			seen[f] = true
		}
		p.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	for _, want := range append(msg, "hint") {
		if !seen[want] {
			t.Errorf("%q was never shown", want)
		}
	}
	p.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	if view := ansi.Strip(p.View()); !strings.Contains(view, "line01") {
		t.Errorf("home does not go back to the top:\n%s", view)
	}
	p.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if view := ansi.Strip(p.View()); !strings.Contains(view, "second") || strings.Contains(view, "scroll") {
		t.Errorf("after dismissing, the short second error:\n%s", view)
	}
}
