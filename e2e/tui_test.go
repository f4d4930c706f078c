//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxPane runs a command in a detached tmux session of a fixed size.
type tmuxPane struct {
	t       *testing.T
	tmux    string
	session string
	socket  string
}

func newTmuxPane(t *testing.T, width, height int, env []string, shellCmd string) *tmuxPane {
	t.Helper()
	tmux := needProgram(t, "tmux", "tmux")
	p := &tmuxPane{t: t, tmux: tmux, session: "iapterm-e2e", socket: filepath.Join(t.TempDir(), "tmux.sock")}
	args := []string{"new-session", "-d", "-s", p.session, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, shellCmd)
	p.run(args...)
	p.run("set-option", "-t", p.session, "remain-on-exit", "on")
	t.Cleanup(func() { exec.Command(p.tmux, "-S", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command(p.tmux, append([]string{"-S", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (p *tmuxPane) capture() string { return p.run("capture-pane", "-p", "-t", p.session) }

// keys sends tmux key names (Enter, Escape, Down...) one at a time, with a
// pause so an Escape is never read together with the next key as Alt+key.
func (p *tmuxPane) keys(keys ...string) {
	for _, k := range keys {
		p.run("send-keys", "-t", p.session, k)
		time.Sleep(150 * time.Millisecond)
	}
}

func (p *tmuxPane) text(s string) { p.run("send-keys", "-t", p.session, "-l", s) }

// waitFor polls the screen until match accepts it.
func (p *tmuxPane) waitFor(what string, match func(string) bool) string {
	p.t.Helper()
	// Generous: the first SSH connection makes a key and waits for the
	// guest agent to apply it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := p.capture()
		if match(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *tmuxPane) waitText(subs ...string) string {
	p.t.Helper()
	return p.waitFor(strings.Join(subs, ", "), func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	})
}

var tunnelOpenRE = regexp.MustCompile(`Tunnel open: 127\.0\.0\.1:(\d+) → dev-alice:22`)

func TestTUIDemo(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL="}
	// After the UI ends the shell reports the exit status and whether the
	// terminal is back in cooked mode with echo, in one echo so the screen
	// never shows the first without the second.
	script := iaptermBin + " ui --demo; " + reportExit
	p := newTmuxPane(t, 120, 40, env, script)

	// The demo projects and VMs appear.
	p.waitText("acme-prod", "acme-dev", "acme-analytics", "dev-alice", "web-1", "win-app-1", "refreshed")

	// Filtering narrows the tree and hides projects without a match.
	p.keys("/")
	p.text("env:prod")
	scr := p.waitText("filter", "shown")
	p.keys("Escape")
	p.keys("/")
	p.text("dev-alice")
	scr = p.waitFor("only dev-alice", func(s string) bool {
		return strings.Contains(s, "λ dev-alice") && !strings.Contains(s, "web-1") && !strings.Contains(s, "acme-prod")
	})

	// enter on a Linux VM hands the terminal to an SSH session on it, and
	// the explorer comes back when the session ends.
	p.keys("Enter", "Enter") // the filter selected the only match
	p.waitText("dev-alice:~")
	p.text("echo hello-$((6*7)); exit")
	p.keys("Enter")
	p.waitText("SSH to dev-alice: session ended", "λ dev-alice")

	// c opens a tunnel to port 22 and shows its address.
	p.keys("c")
	scr = p.waitFor("the tunnel address", func(s string) bool { return tunnelOpenRE.MatchString(s) })
	port := tunnelOpenRE.FindStringSubmatch(scr)[1]

	// Traffic through the tunnel shows up in the tunnels panel.
	p.keys("t")
	p.waitText("LOCAL ADDRESS", "127.0.0.1:"+port, "0 B       0 B")
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("no SSH banner through the tunnel: %q, %v", banner, err)
	}
	fmt.Fprintf(c, "SSH-2.0-iapterm-e2e\r\n")
	rowRE := regexp.MustCompile(`dev-alice\s+acme-dev\s+us-east1-b\s+22\s+127\.0\.0\.1:` + port + `\s+(\d+) B\s+(\d+) B\s+1/1`)
	p.waitFor("bytes in and out counted", func(s string) bool {
		m := rowRE.FindStringSubmatch(s)
		return m != nil && m[1] != "0" && m[2] != "0"
	})
	c.Close()

	// Closing the tunnel from the panel.
	p.keys("x")
	p.waitText("No tunnels open")
	if d, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 2*time.Second); err == nil {
		d.Close()
		t.Fatal("the closed tunnel still accepts connections")
	}

	// q quits from the explorer and the terminal is restored.
	p.keys("Escape", "q")
	scr = p.waitText("EXITED rc=0")
	if !strings.Contains(scr, "icanon") || strings.Contains(scr, "-icanon") || strings.Contains(scr, "-echo") {
		t.Fatalf("terminal left in raw mode:\n%s", scr)
	}
	if alt := strings.TrimSpace(p.run("display-message", "-p", "-t", p.session, "#{alternate_on}")); alt != "0" {
		t.Fatalf("still in the alternate screen (alternate_on=%s)", alt)
	}

	// The demo's project list and selection were saved.
	data, err := os.ReadFile(filepath.Join(home, ".config", "iapterm", "ui-state-demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"acme-dev"`) || !strings.Contains(string(data), `"selected": "i:acme-dev/us-east1-b/dev-alice"`) {
		t.Fatalf("state file:\n%s", data)
	}
}

// reportExit, run after iapterm in a tmux pane, prints its exit status and
// the terminal's modes in one line (so a test never reads the first without
// the second), then keeps the pane open.
const reportExit = `rc=$?; echo "EXITED rc=$rc modes: $(stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' ')"; sleep 600`
