package ui

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// runGolden runs the real Bubble Tea program at 100x30 with no colours and
// a fixed clock, plays steps, then compares the final screen with
// testdata/<test name>.golden (go test -update rewrites it).
func runGolden(t *testing.T, steps func(tm *teatest.TestModel, wait func(string))) {
	t.Helper()
	fake := newFake(loadFixture(t))
	m := New(context.Background(), Options{
		Backend:       fake.backend(),
		StatePath:     filepath.Join(t.TempDir(), "ui-state.json"),
		Projects:      demoProjects,
		Now:           func() time.Time { return fixedNow },
		Account:       "dev@example.com",
		AccountSource: "IAPTERM_ACCESS_TOKEN",
		Endpoint:      "emulator http://127.0.0.1:8080",
	})
	pr := &probe{Model: m}
	tm := teatest.NewTestModel(t, pr,
		teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY)),
	)
	wait := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(pr.screen(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", s, pr.screen())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("notebook")
	steps(tm, wait)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	golden.RequireEqual(t, []byte(pr.screen()+"\n"))
}

// probe records the screen after every update so a test can wait for what
// the user would see, whatever the renderer wrote to the terminal.
type probe struct {
	*Model
	mu   sync.Mutex
	last string
}

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	if _, quit := msg.(tea.QuitMsg); !quit {
		s := ansi.Strip(p.Model.Render())
		p.mu.Lock()
		p.last = s
		p.mu.Unlock()
	}
	return p, cmd
}

func (p *probe) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func press(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
}

func TestGoldenExplorerDetails(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "j", "j", "j", "j", "j", "j", "j")
		wait("n2-standard-4") // db-1's details
		wait("on (project)")  // with the project's metadata read
	})
}

func TestGoldenFilter(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "/")
		tm.Type("env:prod role:web")
		wait("2 shown")
		wait("10.128.0.2") // the first match is selected

		wait("on (project)")
	})
}

func TestGoldenTunnelsPanel(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "j", "j", "j", "j", "enter")
		wait("Tunnel open")
		press(tm, "t")
		wait("LOCAL ADDRESS")
		wait("on (project)")
	})
}

func TestGoldenHelp(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "?")
		wait("Instance actions")
	})
}

func TestGoldenPicker(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "a")
		wait("extra-04")
		press(tm, "down", "down", "down", "space", "space")
		wait("2 selected")
	})
}

func TestGoldenErrorPanel(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		press(tm, "j", "j", "j", "j", "p")
		wait("Remote port")
		tm.Type("9")
		press(tm, "enter")
		wait("dismiss")
		wait("on (project)")
	})
}

func TestGoldenNarrow80x24(t *testing.T) {
	runGolden(t, func(tm *teatest.TestModel, wait func(string)) {
		tm.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
		press(tm, "j", "j", "j", "j", "m")
		wait("Copy gcloud")
	})
}
