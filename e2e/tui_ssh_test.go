//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTUISSHTab opens an SSH tab on a demo VM, runs a command in it,
// switches to the explorer and back with the prefix key, duplicates the
// session, and quits with the terminal restored.
func TestTUISSHTab(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL="}
	script := iaptermBin + " ui --demo; " + reportExit
	p := newTmuxPane(t, 120, 40, env, script)
	p.waitText("acme-dev", "dev-alice", "refreshed")

	p.keys("/")
	p.text("dev-alice")
	p.waitFor("only dev-alice", func(s string) bool {
		return strings.Contains(s, "λ dev-alice") && !strings.Contains(s, "web-1")
	})
	// enter on the Linux VM opens an SSH tab.
	p.keys("Enter", "Enter") // the filter selected the only match
	p.waitText("1 dev-alice", "dev-alice:~")
	p.text("echo hello-$((6*7))")
	p.keys("Enter")
	p.waitText("hello-42")

	// ctrl+] e: back to the explorer, the session stays open.
	p.keys("C-]", "e")
	p.waitFor("the explorer", func(s string) bool {
		return strings.Contains(s, "λ dev-alice") && !strings.Contains(s, "hello-42")
	})
	// ctrl+] in the explorer returns to the tab, output intact.
	p.keys("C-]")
	p.waitText("1 dev-alice", "hello-42")

	// ctrl+] d duplicates the session into a second tab.
	p.keys("C-]", "d")
	p.waitText("2 dev-alice", "dev-alice:~")
	p.text("echo second-$((2*3))")
	p.keys("Enter")
	p.waitText("second-6")
	// ctrl+] 1 shows the first tab again.
	p.keys("C-]", "1")
	p.waitFor("the first tab", func(s string) bool {
		return strings.Contains(s, "hello-42") && !strings.Contains(s, "second-6")
	})

	// Back to the explorer and quit: q asks first while sessions are open,
	// then they close and the terminal is restored.
	p.keys("C-]", "e", "q")
	p.waitText("2 SSH sessions open (dev-alice)", "Quit?")
	p.keys("y")
	scr := p.waitText("EXITED rc=0")
	if !strings.Contains(scr, "icanon") || strings.Contains(scr, "-icanon") || strings.Contains(scr, "-echo") {
		t.Fatalf("terminal left in raw mode:\n%s", scr)
	}
	if alt := strings.TrimSpace(p.run("display-message", "-p", "-t", p.session, "#{alternate_on}")); alt != "0" {
		t.Fatalf("still in the alternate screen (alternate_on=%s)", alt)
	}
}
