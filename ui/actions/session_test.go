package actions

import (
	"os/exec"
	"testing"

	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

func TestEnableTabs(t *testing.T) {
	linux := projects.Instance{Name: "web-1", Project: "p", Zone: "z", Status: "RUNNING", OS: projects.Linux}
	win := projects.Instance{Name: "win-1", Project: "p", Zone: "z", Status: "RUNNING", OS: projects.Windows}
	stopped := projects.Instance{Name: "old", Project: "p", Zone: "z", Status: "TERMINATED", OS: projects.Linux}
	// The registry is process-wide, so this test cannot assume EnableTabs
	// has not run yet (go test -count=N); it checks what EnableTabs leaves.
	EnableTabs()
	EnableTabs() // idempotent
	n := 0
	for _, a := range All() {
		if a.ID == "ssh.tab" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("ssh.tab registered %d times", n)
	}
	c := &common.Common{Backend: common.Backend{Self: func(args ...string) *exec.Cmd { return exec.Command("true") }}}

	tab, _ := ByID("ssh.tab")
	if !tab.Applies(linux) || tab.Applies(win) || tab.Applies(stopped) {
		t.Error("ssh.tab should apply to running Linux VMs only")
	}
	if got := tab.Why(win); got == "" {
		t.Error("no reason for Windows")
	}
	if msg, ok := tab.Run(c, linux)().(SessionRequestedMsg); !ok || msg.Instance.Name != "web-1" {
		t.Errorf("n gave %#v", msg)
	}
	if a, ok := Match(tea.KeyPressMsg{Code: 'n', Text: "n"}); !ok || a.ID != "ssh.tab" {
		t.Errorf("key n matches %q", a.ID)
	}
	if a, ok := Match(tea.KeyPressMsg{Code: 's', Text: "S", Mod: tea.ModShift}); !ok || a.ID != "ssh.fullscreen" {
		t.Errorf("key S matches %q", a.ID)
	}

	connect, _ := ByID("connect")
	if msg, ok := connect.Run(c, linux)().(SessionRequestedMsg); !ok || msg.Instance.Name != "web-1" {
		t.Errorf("enter on Linux gave %#v, want a tab", msg)
	}
	if _, isTab := connect.Run(c, win)().(SessionRequestedMsg); isTab {
		t.Error("enter on Windows opened an SSH tab")
	}
	if FullScreen(&common.Common{}, linux) == nil {
		t.Error("full screen without Self gave no error command")
	}
}
