//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestAuthLoginWithBrowser signs in the way a user does: `iapterm auth login
// --no-browser` prints an address, a real (headless) Chromium opens it and
// the user's choice on the consent page is made explicitly by clicking
// "Allow" through the DevTools protocol; then other commands work with the
// stored sign-in and nothing else.
func TestAuthLoginWithBrowser(t *testing.T) {
	chromium := needProgram(t, "chromium", "chromium")
	emu := startEmulator(t)

	home := t.TempDir()
	env := clientEnvWithoutToken(emu, home)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	login := exec.CommandContext(ctx, iaptermBin, "auth", "login", "--no-browser", "--account", "ops@example.com")
	login.Env = env
	var loginOut bytes.Buffer
	login.Stdout = &loginOut
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	authURL := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http") {
			authURL = line
			break
		}
	}
	if authURL == "" {
		login.Wait()
		t.Fatal("auth login printed no sign-in address")
	}
	go io.Copy(io.Discard, stderr)
	if !strings.HasPrefix(authURL, emu.Endpoint) || !strings.Contains(authURL, "code_challenge_method=S256") {
		t.Fatalf("sign-in address %q is not the emulator's PKCE authorize page", authURL)
	}

	browser := startChromium(t, ctx, chromium, authURL)
	// The consent page pre-selects the --account user; the click on Allow is
	// the explicit choice.
	result := browser.eval(t, ctx, `(() => {
		const b = document.querySelector('button[value=allow]');
		const sel = document.querySelector('input[name=login]:checked');
		if (!b || !sel) return "";
		const who = sel.value;
		b.click();
		return who;
	})()`)
	if result != "ops@example.com" {
		t.Fatalf("consent page had %q selected, want ops@example.com", result)
	}
	// The loopback receiver answers with iapterm's own page.
	page := browser.eval(t, ctx, `document.title.startsWith("Signed in") ? document.body.innerText : ""`)
	if !strings.Contains(page, "return to the terminal") {
		t.Errorf("redirect page text %q", page)
	}
	if err := login.Wait(); err != nil {
		t.Fatalf("auth login: %v\n%s", err, loginOut.String())
	}
	if !strings.Contains(loginOut.String(), "Signed in as ops@example.com") {
		t.Fatalf("auth login output: %q", loginOut.String())
	}

	// The sign-in went to the 0600 file (IAPTERM_KEYRING=file), without
	// leaking into the command output.
	cred := filepath.Join(home, "config", "iapterm", "credentials.json")
	st, err := os.Stat(cred)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v", st, err)
	}

	status := run(t, env, "auth", "status")
	for _, want := range []string{"ops@example.com", "iapterm sign-in", "valid until"} {
		if !strings.Contains(status, want) {
			t.Errorf("auth status lacks %q:\n%s", want, status)
		}
	}
	list := run(t, env, "instances", "list", "--project", "acme-prod")
	if !strings.Contains(list, "web-1") || !strings.Contains(list, "us-central1-a") {
		t.Errorf("instances list with the stored sign-in:\n%s", list)
	}
	data, _ := os.ReadFile(cred)
	var f struct {
		Accounts map[string]struct{ RefreshToken string } `json:"accounts"`
	}
	json.Unmarshal(data, &f)
	for _, a := range f.Accounts {
		if a.RefreshToken == "" || strings.Contains(status+list+loginOut.String(), a.RefreshToken) {
			t.Error("refresh token missing from the store, or printed")
		}
	}

	out := run(t, env, "auth", "logout")
	if !strings.Contains(out, "Signed out ops@example.com") {
		t.Errorf("auth logout: %q", out)
	}
	cmd := exec.Command(iaptermBin, "auth", "status")
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "iapterm auth login") {
		t.Errorf("auth status after logout: %v\n%s", err, b)
	}
}

// clientEnvWithoutToken is the emulator's client environment minus the
// ready-made token, with private config and cache directories.
func clientEnvWithoutToken(emu *Emulator, home string) []string {
	var env []string
	for _, kv := range emu.Env() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "IAPTERM_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "IAPTERM_KEYRING":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "IAPTERM_KEYRING=file")
}

func run(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(iaptermBin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iapterm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// cdpPage is a minimal Chrome DevTools Protocol client for one page.
type cdpPage struct {
	conn *websocket.Conn
	id   int
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

func startChromium(t *testing.T, ctx context.Context, chromium, url string) *cdpPage {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes can still be writing its
	// profile when the test ends, which fails TempDir's cleanup.
	dataDir, err := os.MkdirTemp("", "iapterm-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dataDir, "--remote-debugging-port=0", url)
	// Its own process group, so the helpers are stopped with the browser.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dataDir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for i := 0; ; i++ {
			err := os.RemoveAll(dataDir)
			if err == nil {
				return
			}
			if i == 50 {
				t.Logf("leaving Chromium's profile %s behind: %v", dataDir, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	browserWS := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil {
			browserWS = m[1]
			break
		}
	}
	if browserWS == "" {
		t.Fatal("chromium did not print its DevTools address")
	}
	go io.Copy(io.Discard, stderr)
	hostPort := strings.SplitN(strings.TrimPrefix(browserWS, "ws://"), "/", 2)[0]
	var pageWS string
	for deadline := time.Now().Add(30 * time.Second); pageWS == "" && time.Now().Before(deadline); {
		resp, err := http.Get("http://" + hostPort + "/json/list")
		if err == nil {
			var targets []struct{ Type, URL, WebSocketDebuggerURL string }
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && tg.WebSocketDebuggerURL != "" {
					pageWS = tg.WebSocketDebuggerURL
				}
			}
		}
		if pageWS == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if pageWS == "" {
		t.Fatal("chromium opened no page target")
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, pageWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &cdpPage{conn: conn}
}

// eval runs expr in the page until it returns a non-empty string (pages load
// and navigate asynchronously).
func (p *cdpPage) eval(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	for ctx.Err() == nil {
		p.id++
		req := map[string]any{"id": p.id, "method": "Runtime.evaluate", "params": map[string]any{"expression": expr, "returnByValue": true}}
		if err := p.conn.WriteJSON(req); err != nil {
			t.Fatal(err)
		}
		for {
			var msg struct {
				ID     int `json:"id"`
				Result struct {
					Result struct {
						Value any `json:"value"`
					} `json:"result"`
				} `json:"result"`
			}
			p.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if err := p.conn.ReadJSON(&msg); err != nil {
				t.Fatalf("DevTools: %v", err)
			}
			if msg.ID != p.id {
				continue // an event
			}
			if s, ok := msg.Result.Result.Value.(string); ok && s != "" {
				return s
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(fmt.Errorf("page did not reach the expected state: %w", ctx.Err()))
	return ""
}

// TestInstancesAndProjectsCLI runs the inventory commands against the demo
// world with the emulator's token.
func TestInstancesAndProjectsCLI(t *testing.T) {
	emu := startEmulator(t)
	home := t.TempDir()
	env := append(clientEnvWithoutToken(emu, home), "IAPTERM_ACCESS_TOKEN="+emu.Token)

	out := run(t, env, "projects", "search", "ACME")
	for _, id := range []string{"acme-prod", "acme-dev"} {
		if !strings.Contains(out, id) {
			t.Errorf("projects search ACME lacks %s:\n%s", id, out)
		}
	}

	cmd := exec.Command(iaptermBin, "instances", "list", "--json", "-p", "acme-prod,acme-analytics", "-p", "no-such-project")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// The readable projects are listed; the exit status says one named
	// project could not be read.
	data, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("instances list with a missing project: %v, want exit 1\n%s", err, stderr.String())
	}
	var list []struct {
		Project, Zone, Name, Status, OS, InternalIP string
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatalf("instances list --json: %v\n%s", err, data)
	}
	oses := map[string]bool{}
	for _, in := range list {
		oses[in.OS] = true
		if in.Project == "" || in.Zone == "" || in.Name == "" || in.InternalIP == "" {
			t.Errorf("incomplete instance %+v", in)
		}
	}
	if len(list) == 0 || !oses["windows"] || !oses["linux"] {
		t.Errorf("instances: %+v", list)
	}
	warn := stderr.String()
	if !strings.Contains(warn, "warning: acme-analytics: asia-northeast1-a is unreachable") || !strings.Contains(warn, "warning: no-such-project:") ||
		!strings.Contains(warn, "could not list the instances of no-such-project (1 of 3 project(s)") {
		t.Errorf("warnings on stderr:\n%s", warn)
	}
	// An emulator's inventory never lands in the (Google) explorer cache.
	if _, err := os.Stat(filepath.Join(home, "cache", "iapterm", "inventory.json")); !os.IsNotExist(err) {
		t.Errorf("inventory cache written for an emulator: %v", err)
	}

	table := run(t, env, "instances", "list")
	if !strings.HasPrefix(table, "PROJECT") || !strings.Contains(table, "web-1") {
		t.Errorf("instances list table:\n%s", table)
	}
}
