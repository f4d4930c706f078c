//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The RDP tests put a real xrdp (with its session manager authenticating a
// real local account through PAM) behind the emulator's dev-win VM, and
// launch a real xfreerdp under Xvfb through `iapterm rdp`. xrdp writes
// "access granted" or "AUTHFAIL" to its session manager's log, which shows
// whether the password reached the server through FreeRDP's stdin.

const rdpUser = "iaptermrdp"

// rdpWaitFor polls cond until it holds or the deadline passes.
func rdpWaitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rdpStopProcess ends a process started with rdpStartGroup and everything it
// forked (xrdp forks per connection, sesman per session).
func rdpStopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-done
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// rdpStartGroup starts cmd in its own process group with its output in a
// file of dir, so forked children neither outlive the test nor hold the
// test's own output open.
func rdpStartGroup(t *testing.T, cmd *exec.Cmd, dir, name string) {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		rdpStopProcess(cmd)
		out.Close()
	})
}

// rdpStartXvfb starts a virtual X server and returns its DISPLAY.
func rdpStartXvfb(t *testing.T) string {
	t.Helper()
	xvfb := needProgram(t, "Xvfb", "xvfb")
	n := -1
	for i := 90; i < 120; i++ {
		_, err1 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", i))
		_, err2 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", i))
		if os.IsNotExist(err1) && os.IsNotExist(err2) {
			n = i
			break
		}
	}
	if n < 0 {
		t.Fatal("no free X display number in :90-:119")
	}
	cmd := exec.Command(xvfb, fmt.Sprintf(":%d", n), "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	rdpStartGroup(t, cmd, t.TempDir(), "Xvfb")
	rdpWaitFor(t, "Xvfb's socket", 20*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		return err == nil
	})
	return fmt.Sprintf(":%d", n)
}

// createRDPAccount makes a local account with a random password for xrdp
// to authenticate through PAM, removed when the test ends.
func createRDPAccount(t *testing.T) string {
	t.Helper()
	needProgram(t, "useradd", "passwd")
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: creating the local account xrdp authenticates needs root (run the e2e tests as root)")
	}
	exec.Command("userdel", "-r", rdpUser).Run()
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", rdpUser).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-r", rdpUser).Run() })
	b := make([]byte, 8)
	rand.Read(b)
	pw := "Rdp-" + hex.EncodeToString(b) + "!"
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(rdpUser + ":" + pw + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	return pw
}

// startXrdp runs xrdp on a free loopback port and xrdp-sesman (on its
// default port 3350, which xrdp reads from the system sesman.ini) with its
// log in a temp file. It returns the port and the session manager's log.
func startXrdp(t *testing.T) (int, string) {
	t.Helper()
	xrdp := needProgram(t, "xrdp", "xrdp")
	sesman := needProgram(t, "xrdp-sesman", "xrdp")
	lockXrdp(t)
	dir := t.TempDir()
	ini, err := os.ReadFile("/etc/xrdp/sesman.ini")
	if err != nil {
		t.Fatalf("reading xrdp's session manager config: %v", err)
	}
	logPath := filepath.Join(dir, "sesman.log")
	conf := regexp.MustCompile(`(?m)^LogFile=.*$`).ReplaceAllString(string(ini), "LogFile="+logPath)
	confPath := writeTestFile(t, dir, "sesman.ini", conf)
	os.MkdirAll("/run/xrdp/sockdir", 0o1777)
	rdpStartGroup(t, exec.Command(sesman, "--nodaemon", "-c", confPath), dir, "xrdp-sesman")
	port := freePort(t)
	rdpStartGroup(t, exec.Command(xrdp, "--nodaemon", "--port", fmt.Sprintf("tcp://127.0.0.1:%d", port)), dir, "xrdp")
	rdpWaitFor(t, "xrdp to listen", 20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port, logPath
}

// lockXrdp serialises xrdp tests across test processes on this machine:
// xrdp always talks to the session manager on the port in the system
// sesman.ini (3350), so two runs at once would share one.
func lockXrdp(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "iapterm-e2e-xrdp.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			t.Fatal("another test run has held the xrdp lock for 5 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

type rdpEnv struct {
	env      []string
	xfreerdp string
	display  string
	cache    string
	sesman   string
}

func setupRDP(t *testing.T) (*rdpEnv, string) {
	t.Helper()
	xfreerdp := needProgram(t, "xfreerdp", "freerdp2-x11")
	password := createRDPAccount(t)
	display := rdpStartXvfb(t)
	port, sesmanLog := startXrdp(t)
	emu := startEmulator(t, "--backend", fmt.Sprintf("acme-dev/us-east1-b/dev-win:3389=127.0.0.1:%d", port))
	home := t.TempDir()
	cache := filepath.Join(home, "cache")
	env := append(emu.Env(), "DISPLAY="+display, "HOME="+home, "XDG_CACHE_HOME="+cache,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "IAPTERM_KEYRING=file")
	return &rdpEnv{env: env, xfreerdp: xfreerdp, display: display, cache: cache, sesman: sesmanLog}, password
}

func (r *rdpEnv) rdpCommand(ctx context.Context, stdin string, extra ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	args := append([]string{"rdp", "dev-win", "--project", "acme-dev", "--zone", "us-east1-b", "--user", rdpUser,
		"--password-stdin", "--client", r.xfreerdp}, extra...)
	cmd := exec.CommandContext(ctx, iaptermBin, args...)
	// Interrupt rather than kill, so iapterm stops its detached client.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func (r *rdpEnv) sesmanLog() string {
	b, _ := os.ReadFile(r.sesman)
	return string(b)
}

// TestRDPAuthOnlyThroughTunnel: `iapterm rdp` finds the tunnel, starts
// xfreerdp with +auth-only against it, gives it the password on stdin, and
// closes the tunnel when the client exits with status 0.
func TestRDPAuthOnlyThroughTunnel(t *testing.T) {
	r, password := setupRDP(t)
	// Settings file values apply unless a flag overrides them.
	conf := writeTestFile(t, t.TempDir(), "config.toml", "[project.acme-dev.rdp]\ncolor_depth = \"high\"\naudio = \"off\"\n")
	r.env = append(r.env, "IAPTERM_CONFIG="+conf)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := r.rdpCommand(ctx, password+"\n", "--client-arg", "+auth-only", "--audio", "remote")
	if err := cmd.Run(); err != nil {
		t.Fatalf("iapterm rdp +auth-only: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !regexp.MustCompile(`Tunnel: 127\.0\.0\.1:\d+ -> dev-win port 3389`).MatchString(stdout.String()) {
		t.Errorf("no tunnel address on stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr.String(), "The client exited; tunnel closed.") {
		t.Errorf("stderr:\n%s", stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(r.cache, "iapterm", "logs", "rdp-dev-win-*.log"))
	if len(logs) != 1 {
		t.Fatalf("client logs: %v", logs)
	}
	st, err := os.Stat(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("client log mode %v", st.Mode().Perm())
	}
	data, _ := os.ReadFile(logs[0])
	first, _, _ := strings.Cut(string(data), "\n")
	if !strings.Contains(first, "/from-stdin:force") || !strings.Contains(first, "/u:"+rdpUser) || !strings.Contains(first, "+auth-only") ||
		!strings.Contains(first, "/bpp:16") || !strings.Contains(first, "/audio-mode:1") {
		t.Errorf("client command line %q", first)
	}
	if strings.Contains(string(data), password) {
		t.Error("the password is in the client's command line or log")
	}
	if !strings.Contains(string(data), "Authentication only, exit status 0") {
		t.Errorf("xfreerdp did not report a successful +auth-only run:\n%s", data)
	}
}

var rdpPidRE = regexp.MustCompile(`\(pid (\d+)\)`)

// runRDPSession starts a full session, waits until xrdp's session manager
// logs want, then interrupts iapterm and checks that the client is gone.
// (No X session starts behind xrdp here, as xorgxrdp is not installed: the
// logon decision is what is tested.)
func runRDPSession(t *testing.T, r *rdpEnv, password, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := r.rdpCommand(ctx, password+"\n")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(r.sesmanLog(), want) || !rdpPidRE.MatchString(stderr.String()) {
		select {
		case err := <-exited:
			t.Fatalf("iapterm rdp exited (%v) before xrdp logged %q\nstdout:\n%s\nstderr:\n%s\nsesman:\n%s", err, want, stdout, stderr, r.sesmanLog())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("xrdp did not log %q\nstderr:\n%s\nsesman:\n%s", want, stderr, r.sesmanLog())
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := rdpPidRE.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no client pid in stderr:\n%s", stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || (ee.ExitCode() != 130 && ee.ExitCode() != 1)) {
			t.Errorf("iapterm rdp after Ctrl-C: %v\nstderr:\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("iapterm rdp did not stop within 30s of Ctrl-C\nstderr:\n%s", stderr)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(-pid, syscall.SIGKILL)
		t.Errorf("the client (pid %d) outlived iapterm: %v", pid, err)
	}
}

// TestRDPSessionPasswordReachesServer: a real session through the tunnel;
// xrdp's PAM check accepts the password FreeRDP read from stdin, and
// rejects a wrong one.
func TestRDPSessionPasswordReachesServer(t *testing.T) {
	r, password := setupRDP(t)
	runRDPSession(t, r, password, "access granted): username "+rdpUser)
	runRDPSession(t, r, "wrong-"+password, "AUTHFAIL: user="+rdpUser)
}

// TestRDPOpenLink: `iapterm open` connects from an iap-rdp:/// link, with
// the link's parameters reaching the client's command line.
func TestRDPOpenLink(t *testing.T) {
	r, password := setupRDP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	link := "iap-rdp:///acme-dev/us-east1-b/dev-win?username=" + rdpUser + "&ColorDepth=HighColor&AudioMode=2&RedirectClipboard=0&ConnectionBar=1"
	cmd := exec.CommandContext(ctx, iaptermBin, "open", link, "--password-stdin", "--client", r.xfreerdp, "--client-arg", "+auth-only")
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iapterm open: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Ignoring ConnectionBar") {
		t.Errorf("no note about the ignored parameter:\n%s", out)
	}
	logs, _ := filepath.Glob(filepath.Join(r.cache, "iapterm", "logs", "rdp-dev-win-*.log"))
	if len(logs) != 1 {
		t.Fatalf("client logs: %v", logs)
	}
	data, _ := os.ReadFile(logs[0])
	first, _, _ := strings.Cut(string(data), "\n")
	for _, want := range []string{"/u:" + rdpUser, "/bpp:16", "/audio-mode:2", "-clipboard"} {
		if !strings.Contains(first, want) {
			t.Errorf("client command line lacks %s: %q", want, first)
		}
	}

	bad := exec.Command(iaptermBin, "open", "iap-rdp:///acme-dev/us-east1-b/dev-win?Password=hunter2")
	bad.Env = r.env
	out, err = bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "never carry passwords") || strings.Contains(string(out), "hunter2") {
		t.Errorf("a link with a password: %v\n%s", err, out)
	}
}

// TestWindowsCredentialsCLI: `iapterm windows-credentials` against the
// emulator's simulated guest agent prints a username and a password.
func TestWindowsCredentialsCLI(t *testing.T) {
	emu := startEmulator(t)
	home := t.TempDir()
	env := append(emu.Env(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "IAPTERM_KEYRING=file")
	cmd := exec.Command(iaptermBin, "windows-credentials", "dev-win", "--project", "acme-dev", "--zone", "us-east1-b", "--user", "alice", "--admin", "--yes", "--timeout", "1m")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("windows-credentials: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`^Username: alice\nPassword: (\S{15,})\n$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("stdout %q", stdout.String())
	}
	if strings.Contains(stderr.String(), m[1]) {
		t.Error("the password is on stderr too")
	}
	if !strings.Contains(stderr.String(), "Waiting for the guest agent") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}

	// A Linux VM and a bad username are refused with clear messages.
	for args, want := range map[string]string{
		"dev-alice --user alice":               "not a Windows VM",
		"dev-win --user a/b":                   "does not allow",
		"dev-win --user averyveryverylongname": "at most 20",
	} {
		c := exec.Command(iaptermBin, append([]string{"windows-credentials", "--project", "acme-dev", "--yes"}, strings.Fields(args)...)...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("windows-credentials %s: %v\n%s", args, err, out)
		}
	}
}

// TestRDPLoginScreenScreenshot: without a password xrdp paints its own
// logon dialog, which reaches the local X display through the tunnel and
// FreeRDP; the screenshot (an artefact) must not be a blank screen.
func TestRDPLoginScreenScreenshot(t *testing.T) {
	importBin := needProgram(t, "import", "imagemagick")
	identify := needProgram(t, "identify", "imagemagick")
	r, _ := setupRDP(t)
	dir := os.Getenv("IAPTERM_E2E_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "rdp-logon-screen.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"rdp", "dev-win", "--project", "acme-dev", "--zone", "us-east1-b", "--user", rdpUser, "--client", r.xfreerdp, "--size", "800x600"}
	cmd := exec.CommandContext(ctx, iaptermBin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = r.env
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	}()
	var spread float64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		if out, err := exec.Command(importBin, "-display", r.display, "-window", "root", shot).CombinedOutput(); err != nil {
			t.Fatalf("screenshot: %v\n%s", err, out)
		}
		out, err := exec.Command(identify, "-format", "%[fx:standard_deviation]", shot).Output()
		if err != nil {
			t.Fatalf("identify: %v", err)
		}
		spread, _ = strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if spread > 0.01 {
			break
		}
	}
	if spread <= 0.01 {
		t.Fatalf("the display stayed blank (standard deviation %.4f); iapterm said:\n%s", spread, stderr.String())
	}
	if !strings.Contains(stderr.String(), "No password") {
		t.Errorf("no note about the missing password:\n%s", stderr.String())
	}
	t.Logf("screenshot of xrdp's logon screen through the tunnel: %s", shot)
}
