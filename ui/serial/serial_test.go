package serial

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
)

func newViewer(w, h int) *Model {
	c := &common.Common{Ctx: context.Background(), Width: w, Height: h, Styles: common.DefaultStyles()}
	m := New(c, projects.Instance{Name: "web-1", Project: "p", Zone: "z"}, 1)
	m.SetSize(w, h)
	return m
}

func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for _, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d wide: %q", n, ansi.Strip(l))
		}
	}
}

// Console lines wider than the screen wrap, so the end of a kernel line
// is not lost.
func TestLongLinesWrap(t *testing.T) {
	m := newViewer(40, 12)
	long := "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-cloud-amd64 root=PARTUUID=1234 console=ttyS0"
	m.Update(ReadMsg{gen: m.gen, Contents: long + "\nweb-1 login: "})
	view := ansi.Strip(m.View())
	checkFits(t, view, 40, 12)
	joined := strings.ReplaceAll(strings.Join(strings.Split(view, "\n")[1:], ""), " ", "")
	for _, want := range []string{strings.ReplaceAll(long, " ", ""), "web-1login:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("%q is not shown whole:\n%s", want, view)
		}
	}
}

// A long read error wraps under the title instead of being cut.
func TestLongErrorWraps(t *testing.T) {
	m := newViewer(40, 12)
	msg := "reading serial port 1 of web-1: permission denied: you need compute.instances.getSerialPortOutput on the instance"
	m.Update(ReadMsg{gen: m.gen, Err: errors.New(msg)})
	view := ansi.Strip(m.View())
	checkFits(t, view, 40, 12)
	if !strings.Contains(strings.Join(strings.Fields(view), " "), msg) {
		t.Errorf("the error is not shown whole:\n%s", view)
	}
}
