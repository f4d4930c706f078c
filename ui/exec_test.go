package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestHelperSelf stands in for the iapterm binary in TestConnectHandsOverTerminal.
func TestHelperSelf(t *testing.T) {
	if os.Getenv("IAPTERM_UI_TEST_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	fmt.Fprintln(os.Stderr, "helper ran:", strings.Join(args, " "))
	fmt.Fprintln(os.Stderr, "permission denied (publickey)")
	os.Exit(3)
}

// enter on a Linux VM hands the terminal to `iapterm ssh` and, when it
// fails, shows its exit status and last stderr lines.
func TestConnectHandsOverTerminal(t *testing.T) {
	fake := newFake(loadFixture(t))
	be := fake.backend()
	be.Self = func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperSelf$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), "IAPTERM_UI_TEST_HELPER=1")
		return cmd
	}
	m := New(context.Background(), Options{Backend: be, StatePath: filepath.Join(t.TempDir(), "s.json"), Projects: demoProjects, Now: func() time.Time { return fixedNow }})
	pr := &probe{Model: m}
	tm := teatest.NewTestModel(t, pr, teatest.WithInitialTermSize(100, 30), teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY)))
	wait := func(s string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(pr.screen(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", s, pr.screen())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("notebook")
	press(tm, "j", "j", "j", "j", "enter")
	wait("exited with status 3")
	scr := pr.screen()
	for _, want := range []string{"SSH to web-1", "iapterm ssh exited with status 3", "permission denied (publickey)"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("error panel lacks %q:\n%s", want, scr)
		}
	}
	if !strings.Contains(scr, "helper ran: ssh web-1 --project acme-prod --zone") {
		t.Fatalf("wrong arguments:\n%s", scr)
	}
	tm.Quit()
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}
