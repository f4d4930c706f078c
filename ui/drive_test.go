package ui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"iapterm/ui/common"
)

// timerMsg is what common.Tick produces in tests: the timer's message,
// held back until the test delivers it.
type timerMsg struct {
	d   time.Duration
	msg tea.Msg
}

func init() {
	common.Tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		return func() tea.Msg { return timerMsg{d: d, msg: fn(fixedNow.Add(d))} }
	}
}

// harness drives a Model synchronously: every command runs at once and its
// message is fed back, except timers, which wait in pending.
type harness struct {
	t       testing.TB
	m       *Model
	fake    *fakeBackend
	pending []tea.Msg
	seen    []tea.Msg // every message delivered
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	fake := newFake(loadFixture(t))
	if opts.Backend.Inventory == nil {
		opts.Backend = fake.backend()
	}
	if opts.StatePath == "" {
		opts.StatePath = filepath.Join(t.TempDir(), "ui-state.json")
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if opts.Account == "" {
		opts.Account, opts.AccountSource, opts.Endpoint = "dev@example.com", "IAPTERM_ACCESS_TOKEN", "emulator http://127.0.0.1:8080"
	}
	h := &harness{t: t, fake: fake}
	h.m = New(context.Background(), opts)
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	h.run(h.m.Init())
	return h
}

// send delivers msg and everything its commands produce.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		h.seen = append(h.seen, msg)
		_, cmd := h.m.Update(msg)
		queue = append(queue, h.exec(cmd)...)
	}
}

func (h *harness) run(cmd tea.Cmd) {
	for _, msg := range h.exec(cmd) {
		h.send(msg)
	}
}

func (h *harness) exec(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, h.exec(c)...)
		}
		return out
	case timerMsg:
		h.pending = append(h.pending, msg.msg)
		return nil
	case spinner.TickMsg:
		return nil // the spinner animates only in a real program
	}
	return []tea.Msg{msg}
}

// fire delivers the pending timers whose message matches keep.
func (h *harness) fire(keep func(tea.Msg) bool) int {
	var now, later []tea.Msg
	for _, m := range h.pending {
		if keep(m) {
			now = append(now, m)
		} else {
			later = append(later, m)
		}
	}
	h.pending = later
	for _, m := range now {
		h.send(m)
	}
	return len(now)
}

func (h *harness) key(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// screen is the plain text of the current view.
func (h *harness) screen() string { return ansi.Strip(h.m.Render()) }

// keyMsg builds the key press for a key name as tea.KeyPressMsg.String
// prints it.
func keyMsg(k string) tea.KeyPressMsg {
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
		"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
		"ctrl+]":    {Code: ']', Mod: tea.ModCtrl},
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
