//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The settings view, the Diagnose panel and session restore in the real
// terminal UI of the demo, driven through tmux.
func TestTUISettingsDiagnoseRestore(t *testing.T) {
	home := t.TempDir()
	cfgDir := filepath.Join(home, ".config", "iapterm")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(cfgDir, "config.toml")
	const initial = "# Team settings, kept in git.\n[settings.ui]\nrestore_sessions = true # reopen tunnels\n"
	if err := os.WriteFile(cfgPath, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL="}
	// Two runs: the second one reopens the tunnel the first left open.
	script := fmt.Sprintf("%s ui --demo; echo FIRST rc=$?; read x; %s ui --demo; echo SECOND rc=$?; sleep 600", iaptermBin, iaptermBin)
	p := newTmuxPane(t, 120, 40, env, script)
	p.waitText("acme-dev", "dev-alice", "refreshed")

	// Select dev-alice and open its settings.
	p.keys("/")
	p.text("dev-alice")
	p.waitFor("only dev-alice", func(s string) bool { return strings.Contains(s, "λ dev-alice") && !strings.Contains(s, "web-1") })
	p.keys("Enter", "G", "s")
	p.waitText("Settings · instance dev-alice", "ssh.user", "ui.restore_sessions", "inherited from global settings")

	// Change ssh.user (the first row) at the instance level.
	p.keys("e", "C-u")
	p.text("e2e-user")
	p.keys("Enter")
	p.waitText("ssh.user = e2e-user saved for instance dev-alice")
	// The row is bold (the instance's own value) and says so.
	colour := p.run("capture-pane", "-p", "-e", "-t", p.session)
	row := ""
	for _, l := range strings.Split(colour, "\n") {
		if strings.Contains(l, "ssh.user") && strings.Contains(l, "set here") {
			row = l
		}
	}
	if !strings.Contains(row, "set here") || !regexp.MustCompile(`\x1b\[[0-9;]*\b1[;m]`).MatchString(row) {
		t.Fatalf("ssh.user row is not bold or not 'set here': %q", row)
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Team settings, kept in git.", "restore_sessions = true # reopen tunnels", `[instance."acme-dev/us-east1-b/dev-alice".ssh]`, `user = "e2e-user"`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("config file lacks %q:\n%s", want, data)
		}
	}
	p.keys("Escape")

	// Diagnose the demo VM that no firewall rule admits.
	p.keys("Escape", "/")
	p.text("no-firewall")
	p.waitFor("only no-firewall", func(s string) bool { return strings.Contains(s, "λ no-firewall") && !strings.Contains(s, "dev-alice") })
	p.keys("Enter", "G", "d")
	p.waitText("Diagnose no-firewall", "Port to check: 22")
	p.keys("Enter")
	p.waitText("[failed]", "Firewall", "fix: gcloud compute firewall-rules create", "f create the firewall rule")
	p.keys("Escape")

	// A tunnel left open at quit is reopened at the next start.
	p.keys("Escape", "/")
	p.text("dev-alice")
	p.waitFor("only dev-alice", func(s string) bool { return strings.Contains(s, "λ dev-alice") && !strings.Contains(s, "no-firewall") })
	p.keys("Enter", "G", "c")
	scr := p.waitFor("the tunnel address", func(s string) bool { return tunnelOpenRE.MatchString(s) })
	port := tunnelOpenRE.FindStringSubmatch(scr)[1]
	p.keys("q")
	p.waitText("FIRST rc=0")
	saved, err := os.ReadFile(filepath.Join(cfgDir, "ui-state-demo-sessions.json"))
	if err != nil || !strings.Contains(string(saved), `"instance": "dev-alice"`) {
		t.Fatalf("sessions file: %v\n%s", err, saved)
	}
	p.keys("Enter") // the second run
	// The same local port unless something else took it meanwhile (other
	// tests on this machine use the same deterministic port).
	scr = p.waitFor("the restored tunnel", func(s string) bool { return tunnelOpenRE.MatchString(s) })
	if again := tunnelOpenRE.FindStringSubmatch(scr)[1]; again != port {
		t.Logf("restored on port %s instead of %s (taken)", again, port)
	}
	p.keys("q")
	p.waitText("SECOND rc=0")
}
