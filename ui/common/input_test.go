package common

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestNewInputShowsWholePlaceholder(t *testing.T) {
	for _, focused := range []bool{false, true} {
		in := NewInput("Local port:  ", "any free port")
		if focused {
			in.Focus()
		}
		got := ansi.Strip(in.View())
		if !strings.Contains(got, "any free port") {
			t.Errorf("focused=%v: view %q does not show the placeholder", focused, got)
		}
	}
}

func TestNewInputShowsValue(t *testing.T) {
	in := NewInput("Port: ", "1-65535")
	in.Focus()
	in.SetValue("22")
	if got := ansi.Strip(in.View()); !strings.Contains(got, "Port: 22") {
		t.Errorf("view %q does not show the value", got)
	}
}
