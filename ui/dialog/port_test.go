package dialog

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
)

func newPort() *Port {
	c := &common.Common{Width: 80, Height: 24, Styles: common.DefaultStyles()}
	d := NewPort(c, projects.Instance{Name: "web-1", Project: "p", Zone: "z"})
	d.Init()
	return d
}

// A port pasted into the form lands in the field, without the line
// break or spaces that came with it; pasted text that is not a port is
// refused with a message rather than silently dropped.
func TestPortPaste(t *testing.T) {
	d := newPort()
	d.Update(tea.PasteMsg{Content: " 5432\n"})
	if got := d.remote.Value(); got != "5432" {
		t.Errorf("remote port after pasting: %q, want 5432", got)
	}
	d.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	d.Update(tea.PasteMsg{Content: "15432"})
	if got := d.local.Value(); got != "15432" {
		t.Errorf("local port after pasting: %q, want 15432", got)
	}

	d = newPort()
	d.Update(tea.PasteMsg{Content: "db:5432"})
	if d.remote.Value() != "" {
		t.Errorf("pasted text that is not a port went in: %q", d.remote.Value())
	}
	if view := ansi.Strip(d.View()); !strings.Contains(view, "not a port") {
		t.Errorf("no message for pasted text that is not a port:\n%s", view)
	}
}

// A letter typed into a port field is refused with a message, not
// swallowed without a word; the next digit clears it.
func TestPortLetterExplained(t *testing.T) {
	d := newPort()
	d.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if d.remote.Value() != "" {
		t.Fatalf("a letter went in: %q", d.remote.Value())
	}
	if view := ansi.Strip(d.View()); !strings.Contains(view, "digits only") {
		t.Errorf("no message for a letter:\n%s", view)
	}
	d.Update(tea.KeyPressMsg{Code: '2', Text: "2"})
	if view := ansi.Strip(d.View()); d.remote.Value() != "2" || strings.Contains(view, "digits only") {
		t.Errorf("after a digit: value %q, view:\n%s", d.remote.Value(), view)
	}
}
