// Package paneltest runs a panel.Panel in a real Bubble Tea program for
// golden tests, and builds key messages for model tests.
package paneltest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"iapterm/ui/common"
	"iapterm/ui/panel"
)

// Common returns a Common for tests: default styles, the given size and
// clock, and backend.
func Common(w, h int, now time.Time, b common.Backend) *common.Common {
	return &common.Common{Ctx: context.Background(), Styles: common.DefaultStyles(), Width: w, Height: h,
		Now: func() time.Time { return now }, Backend: b}
}

// Key builds the message for a key name ("enter", "esc", "ctrl+u", "x").
func Key(k string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter":     {Code: tea.KeyEnter},
		"esc":       {Code: tea.KeyEscape},
		"tab":       {Code: tea.KeyTab},
		"space":     {Code: tea.KeySpace, Text: " "},
		"up":        {Code: tea.KeyUp},
		"down":      {Code: tea.KeyDown},
		"left":      {Code: tea.KeyLeft},
		"right":     {Code: tea.KeyRight},
		"backspace": {Code: tea.KeyBackspace},
		"delete":    {Code: tea.KeyDelete},
		"pgdown":    {Code: tea.KeyPgDown},
		"pgup":      {Code: tea.KeyPgUp},
		"ctrl+u":    {Code: 'u', Mod: tea.ModCtrl},
		"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
	}
	if m, ok := special[k]; ok {
		return m
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// Drive delivers msg to p and then every message its commands produce,
// synchronously; timers (common.Tick in the caller's set-up) and tea.Exec
// commands are returned instead of run. It returns the messages delivered
// and those held back.
func Drive(p panel.Panel, msg tea.Msg) (seen, held []tea.Msg) {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		seen = append(seen, msg)
		if _, ok := msg.(panel.ClosedMsg); ok {
			continue
		}
		out, h := Exec(p.Update(msg))
		queue = append(queue, out...)
		held = append(held, h...)
	}
	return seen, held
}

// Held is a message a test chose not to run (a timer).
type Held interface{ Held() bool }

// Exec runs cmd and flattens batches; messages implementing Held, and
// anything that is not a plain message (exec requests), come back in held.
func Exec(cmd tea.Cmd) (msgs, held []tea.Msg) {
	if cmd == nil {
		return nil, nil
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
		return nil, nil
	case tea.BatchMsg:
		for _, c := range msg {
			m, h := Exec(c)
			msgs = append(msgs, m...)
			held = append(held, h...)
		}
		return msgs, held
	case Held:
		return nil, []tea.Msg{msg}
	}
	if strings.HasPrefix(typeName(msg), "tea.") && !isKey(msg) {
		return nil, []tea.Msg{msg}
	}
	return []tea.Msg{msg}, nil
}

func isKey(msg tea.Msg) bool { _, ok := msg.(tea.KeyPressMsg); return ok }

func typeName(v any) string { return strings.TrimPrefix(fmt.Sprintf("%T", v), "*") }

// host runs a panel as a program and records its screen after each update,
// downsampled to plain ASCII attributes (bold and reverse stay, colours go).
type host struct {
	p      panel.Panel
	mu     sync.Mutex
	screen string
}

func (h *host) Init() tea.Cmd { return h.p.Init() }

func (h *host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.p.SetSize(msg.Width, msg.Height)
	case panel.ClosedMsg:
	default:
		cmd = h.p.Update(msg)
	}
	if _, quit := msg.(tea.QuitMsg); !quit {
		var buf bytes.Buffer
		w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
		w.WriteString(h.p.View())
		h.mu.Lock()
		h.screen = buf.String()
		h.mu.Unlock()
	}
	return h, cmd
}

func (h *host) View() tea.View { return tea.NewView(h.p.View()) }

func (h *host) current() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.screen
}

// Program runs p at w x h and lets steps drive it; wait blocks until the
// plain text of the screen contains s. It returns the final screen with
// bold and reverse attributes as escape codes (for golden files).
func Program(t *testing.T, p panel.Panel, w, hgt int, steps func(tm *teatest.TestModel, wait func(string))) string {
	t.Helper()
	h := &host{p: p}
	tm := teatest.NewTestModel(t, h, teatest.WithInitialTermSize(w, hgt),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY)))
	wait := func(s string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(ansi.Strip(h.current()), s) {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", s, ansi.Strip(h.current()))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	steps(tm, wait)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	return h.current()
}
