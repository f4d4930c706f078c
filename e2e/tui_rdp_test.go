//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rdpFakeClient writes a stand-in for xfreerdp into dir: it records its
// arguments and pid, connects to the /v: address (the tunnel), checks an
// echo through it, and runs until dir/stop exists.
func rdpFakeClient(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "xfreerdp")
	body := "#!/bin/bash\nD='" + dir + "'\n" + `if [ "$1" = "--version" ]; then echo "This is FreeRDP version 2.11.7 (2.11.7)"; exit 0; fi
echo $$ > "$D/pid"
printf '%s\n' "$@" > "$D/argv"
for a in "$@"; do case "$a" in /v:*) addr="${a#/v:}";; esac; done
exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" || exit 7
printf 'rdp-hello\n' >&3
read -r line <&3
printf '%s\n' "$line" > "$D/echoed"
while [ ! -e "$D/stop" ]; do sleep 0.05; done
exit 0
`
	if err := os.WriteFile(path, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// rdpLine is the tree row of dev-win.
func rdpLine(screen string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "⊞ dev-win ") {
			return l
		}
	}
	return ""
}

func waitForFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// enter on a Windows VM starts the RDP client detached: the explorer
// marks the session open and stays usable, the client reaches the VM's
// RDP port through the tunnel, and its exit closes the session.
func TestTUIRDPDetached(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	em := startEmulator(t, "--backend", "acme-dev/us-east1-b/dev-win:3389="+echo.Addr().String())
	home := t.TempDir()
	dir := t.TempDir()
	client := rdpFakeClient(t, dir)
	env := append(em.Env(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=", "DISPLAY=:0", "IAPTERM_RDP_CLIENT="+client)
	script := fmt.Sprintf("%s ui --project acme-dev --no-cache --state %s; echo EXITED rc=$?; sleep 600", iaptermBin, filepath.Join(home, "state.json"))
	p := newTmuxPane(t, 120, 40, env, script)
	p.waitText("acme-dev", "dev-win", "refreshed")

	p.keys("/")
	p.text("dev-win status:running")
	p.waitFor("only dev-win", func(s string) bool { return strings.Contains(s, "dev-win") && !strings.Contains(s, "dev-alice") })
	p.keys("Enter", "Enter") // the filter selected the only match
	scr := p.waitText("RDP to dev-win", "started")
	if !strings.Contains(rdpLine(scr), "●") {
		t.Fatalf("the session is not marked open:\n%s", scr)
	}
	if b := waitForFile(t, filepath.Join(dir, "echoed")); strings.TrimSpace(string(b)) != "rdp-hello" {
		t.Fatalf("through the tunnel came %q", b)
	}
	argv := string(waitForFile(t, filepath.Join(dir, "argv")))
	if !strings.Contains(argv, "/v:127.0.0.1:") || strings.Contains(strings.ToLower(argv), "/p:") {
		t.Fatalf("client argv %q", argv)
	}

	// The UI stays usable: the tunnels panel shows the tunnel, and the
	// selection moves.
	p.keys("t")
	p.waitText("LOCAL ADDRESS", "3389  127.0.0.1:")
	p.keys("t", "Up")
	p.waitFor("the selection off dev-win", func(s string) bool { return !strings.Contains(rdpLine(s), "›") })
	p.keys("Down")

	// The client exits: the session is shown closed.
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	scr = p.waitText("RDP to dev-win ended")
	if strings.Contains(rdpLine(scr), "●") {
		t.Fatalf("the session is still marked open:\n%s", scr)
	}

	// Quitting while a client runs stops it and says so.
	os.Remove(filepath.Join(dir, "stop"))
	os.Remove(filepath.Join(dir, "pid"))
	p.keys("v")
	p.waitText("RDP to dev-win", "started")
	pid, err := strconv.Atoi(strings.TrimSpace(string(waitForFile(t, filepath.Join(dir, "pid")))))
	if err != nil {
		t.Fatal(err)
	}
	p.keys("q")
	p.waitText("EXITED rc=0", "stopped 1 RDP client")
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the RDP client (pid %d) still runs after the UI quit", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
