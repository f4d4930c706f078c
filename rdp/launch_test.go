package rdp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake RDP client: with IAPTERM_FAKE_RDP set
// it records what it was given (arguments, stdin, the connection file and
// its permissions) as JSON in that file and exits with
// IAPTERM_FAKE_RDP_EXIT, or waits for a signal when that is "wait".
func TestMain(m *testing.M) {
	if out := os.Getenv("IAPTERM_FAKE_RDP"); out != "" {
		os.Exit(fakeClient(out))
	}
	os.Exit(m.Run())
}

type fakeRecord struct {
	Args     []string
	Stdin    string
	File     string
	FileData string
	FileMode string
	DirMode  string
	Setsid   bool
	Banner   string
}

func fakeClient(out string) int {
	code := os.Getenv("IAPTERM_FAKE_RDP_EXIT")
	if code == "ignore-term" {
		// A client that does not end when asked to.
		signal.Ignore(syscall.SIGTERM)
	}
	rec := fakeRecord{Args: os.Args[1:]}
	for _, a := range os.Args[1:] {
		if strings.HasSuffix(a, ".rdp") || strings.HasSuffix(a, ".remmina") {
			rec.File = a
			if st, err := os.Stat(a); err == nil {
				rec.FileMode = st.Mode().Perm().String()
				data, _ := os.ReadFile(a)
				rec.FileData = string(data)
			}
			if st, err := os.Stat(filepath.Dir(a)); err == nil {
				rec.DirMode = st.Mode().Perm().String()
			}
		}
	}
	if slices.Contains(os.Args, "/from-stdin:force") {
		b, _ := io.ReadAll(os.Stdin)
		rec.Stdin = string(b)
	}
	rec.Setsid = isSessionLeader()
	if os.Getenv("IAPTERM_FAKE_RDP_DIAL") != "" {
		// Connect to the address given with /v: and keep the first line
		// the server sends, to prove the tunnel works.
		for _, a := range os.Args[1:] {
			if addr, ok := strings.CutPrefix(a, "/v:"); ok {
				if c, err := net.DialTimeout("tcp", addr, 30*time.Second); err == nil {
					c.SetReadDeadline(time.Now().Add(30 * time.Second))
					line, _ := bufio.NewReader(c).ReadString('\n')
					rec.Banner = line
					c.Close()
				}
			}
		}
	}
	data, _ := json.Marshal(rec)
	os.WriteFile(out, data, 0o600)
	if code == "wait" || code == "ignore-term" {
		time.Sleep(time.Hour)
	}
	n, _ := strconv.Atoi(code)
	return n
}

type fakeTunnel struct {
	opened   atomic.Int32
	released atomic.Int32
	port     int
}

func (f *fakeTunnel) forward(ctx context.Context, remotePort int) (string, func(), error) {
	f.opened.Add(1)
	f.port = remotePort
	return "127.0.0.1:12345", func() { f.released.Add(1) }, nil
}

func launchFake(t *testing.T, kind Kind, exit string, s Settings, password string) (*Session, *fakeTunnel, string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "record.json")
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	ft := &fakeTunnel{}
	sess, err := Launch(context.Background(), LaunchOptions{
		Client:   Client{Kind: kind, Path: self, Major: 3, App: "/Applications/Windows App.app"},
		Settings: s,
		Password: password,
		Forward:  ft.forward,
		Name:     "win-1",
		LogDir:   filepath.Join(dir, "logs"),
		TempDir:  tmp,
		Env:      append(os.Environ(), "IAPTERM_FAKE_RDP="+rec, "IAPTERM_FAKE_RDP_EXIT="+exit, "DISPLAY=:99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess, ft, rec, tmp
}

func readRecord(t *testing.T, path string) fakeRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r fakeRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLaunchFreeRDPPasswordOnStdinOnly(t *testing.T) {
	s := DefaultSettings()
	s.Username = "alice"
	const pw = "s3cr3t-P@ss word"
	sess, ft, rec, _ := launchFake(t, FreeRDP, "0", s, pw)
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	r := readRecord(t, rec)
	for _, a := range r.Args {
		if strings.Contains(a, pw) {
			t.Fatalf("password in argv: %q", r.Args)
		}
	}
	if r.Stdin != pw+"\n" {
		t.Fatalf("stdin = %q, want the password and a newline", r.Stdin)
	}
	if !slices.Contains(r.Args, "/v:127.0.0.1:12345") || !slices.Contains(r.Args, "/u:alice") || !slices.Contains(r.Args, "/t:win-1 (iapterm)") {
		t.Fatalf("args %q", r.Args)
	}
	if runtime.GOOS != "windows" && !r.Setsid {
		t.Error("client is not in its own session")
	}
	if sess.State() != StateExited {
		t.Errorf("state %v", sess.State())
	}
	if ft.opened.Load() != 1 || ft.released.Load() != 1 || ft.port != 3389 {
		t.Errorf("tunnel opened %d released %d port %d", ft.opened.Load(), ft.released.Load(), ft.port)
	}
	st, err := os.Stat(sess.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v", st.Mode().Perm())
	}
	logData, _ := os.ReadFile(sess.LogPath)
	if strings.Contains(string(logData), pw) {
		t.Error("password in the client log")
	}
}

func TestLaunchRDPFileIsPrivateAndRemoved(t *testing.T) {
	for _, kind := range []Kind{MSTSC, WindowsApp, Remmina} {
		t.Run(string(kind), func(t *testing.T) {
			s := DefaultSettings()
			s.Username = "bob"
			sess, ft, rec, tmp := launchFake(t, kind, "0", s, "")
			if err := sess.Wait(); err != nil {
				t.Fatal(err)
			}
			r := readRecord(t, rec)
			if r.File == "" {
				t.Fatalf("no connection file in %q", r.Args)
			}
			if runtime.GOOS != "windows" && (r.FileMode != "-rw-------" || r.DirMode != "-rwx------") {
				t.Errorf("file mode %s, dir mode %s; want 0600 and 0700", r.FileMode, r.DirMode)
			}
			if !strings.Contains(r.FileData, "127.0.0.1:12345") || !strings.Contains(r.FileData, "bob") {
				t.Errorf("file contents %q", r.FileData)
			}
			if _, err := os.Stat(r.File); !os.IsNotExist(err) {
				t.Errorf("connection file left behind: %v", err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temp dir not cleaned: %v", left)
			}
			if kind == WindowsApp && (r.Args[0] != "-W" || !slices.Contains(r.Args, "/Applications/Windows App.app")) {
				t.Errorf("open args %q", r.Args)
			}
			if ft.released.Load() != 1 {
				t.Error("tunnel not released")
			}
		})
	}
}

func TestLaunchRefusesPasswordForClientsWithoutStdin(t *testing.T) {
	s := DefaultSettings()
	s.Username = "bob"
	ft := &fakeTunnel{}
	_, err := Launch(context.Background(), LaunchOptions{Client: Client{Kind: MSTSC, Path: "mstsc"}, Settings: s, Password: "x", Forward: ft.forward, LogDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "type it in the client") {
		t.Fatalf("err = %v", err)
	}
	if ft.opened.Load() != 0 {
		t.Error("tunnel opened for a refused launch")
	}
}

func TestLaunchErrors(t *testing.T) {
	ft := &fakeTunnel{}
	base := LaunchOptions{Client: Client{Kind: FreeRDP, Path: "/bin/true", Major: 2}, Settings: DefaultSettings(), Forward: ft.forward, LogDir: t.TempDir(), Env: []string{"DISPLAY=:1"}}
	cases := map[string]func(o *LaunchOptions){
		"a password was given without a username": func(o *LaunchOptions) { o.Password = "x" },
		"line break":                          func(o *LaunchOptions) { o.Settings.Username = "u"; o.Password = "a\nb" },
		"no tunnel":                           func(o *LaunchOptions) { o.Forward = nil },
		"call FindClient":                     func(o *LaunchOptions) { o.Client = Client{} },
		"out of range":                        func(o *LaunchOptions) { o.Settings.Port = 99999 },
		"neither DISPLAY nor WAYLAND_DISPLAY": func(o *LaunchOptions) { o.Env = []string{"HOME=/"} },
		"would put a password on the command line": func(o *LaunchOptions) { o.ExtraArgs = []string{"/p:secret"} },
		`argument "-p" would put a password`:       func(o *LaunchOptions) { o.ExtraArgs = []string{"-p", "secret"} },
		"not supported for it": func(o *LaunchOptions) {
			o.Client = Client{Kind: MSTSC, Path: "mstsc"}
			o.ExtraArgs = []string{"/admin"}
		},
		"opening the tunnel": func(o *LaunchOptions) {
			o.Forward = func(context.Context, int) (string, func(), error) { return "", nil, errors.New("denied") }
		},
		"starting xfreerdp": func(o *LaunchOptions) {
			o.Client = Client{Kind: FreeRDP, Path: filepath.Join(t.TempDir(), "missing", "xfreerdp"), Major: 2}
			o.Forward = (&fakeTunnel{}).forward
		},
	}
	for want, mod := range cases {
		if want == "neither DISPLAY nor WAYLAND_DISPLAY" && (runtime.GOOS == "darwin" || runtime.GOOS == "windows") {
			continue
		}
		o := base
		mod(&o)
		_, err := Launch(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	if ft.opened.Load() != 0 {
		t.Errorf("tunnel opened %d times by failed launches", ft.opened.Load())
	}
	// No client ran, so no log file is left behind.
	if logs, _ := os.ReadDir(base.LogDir); len(logs) != 0 {
		t.Errorf("failed launches left %d log files, e.g. %s", len(logs), logs[0].Name())
	}
}

func TestLaunchExitStatus(t *testing.T) {
	sess, ft, _, _ := launchFake(t, FreeRDP, "132", DefaultSettings(), "")
	err := sess.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 132 || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), sess.LogPath) {
		t.Fatalf("err = %v", err)
	}
	if sess.State() != StateFailed || ft.released.Load() != 1 {
		t.Fatalf("state %v released %d", sess.State(), ft.released.Load())
	}
}

func TestLaunchFreeRDPDisconnectIsNormal(t *testing.T) {
	for _, code := range []string{"1", "2", "11"} {
		sess, _, _, _ := launchFake(t, FreeRDP, code, DefaultSettings(), "")
		if err := sess.Wait(); err != nil || sess.State() != StateExited {
			t.Errorf("status %s: %v, state %v", code, err, sess.State())
		}
	}
	sess, _, _, _ := launchFake(t, MSTSC, "1", DefaultSettings(), "")
	if err := sess.Wait(); err == nil {
		t.Error("mstsc status 1 treated as normal")
	}
}

func TestLaunchStopAndCancel(t *testing.T) {
	sess, ft, _, _ := launchFake(t, FreeRDP, "wait", DefaultSettings(), "")
	if sess.State() != StateRunning {
		t.Fatalf("state %v", sess.State())
	}
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	<-sess.Done()
	if err := sess.Wait(); err != nil {
		t.Fatalf("Wait after Stop = %v", err)
	}
	if sess.State() != StateStopped || ft.released.Load() != 1 {
		t.Fatalf("state %v released %d", sess.State(), ft.released.Load())
	}

	self, _ := os.Executable()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ft2 := &fakeTunnel{}
	sess, err := Launch(ctx, LaunchOptions{
		Client: Client{Kind: FreeRDP, Path: self, Major: 2}, Settings: DefaultSettings(), Forward: ft2.forward, LogDir: dir,
		Env: append(os.Environ(), "IAPTERM_FAKE_RDP="+filepath.Join(dir, "r.json"), "IAPTERM_FAKE_RDP_EXIT=wait", "DISPLAY=:99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-sess.Done()
	if sess.State() != StateStopped || ft2.released.Load() != 1 {
		t.Fatalf("after cancel: state %v released %d", sess.State(), ft2.released.Load())
	}
}

func TestLaunchExtraArgs(t *testing.T) {
	self, _ := os.Executable()
	dir := t.TempDir()
	rec := filepath.Join(dir, "r.json")
	sess, err := Launch(context.Background(), LaunchOptions{
		Client: Client{Kind: FreeRDP, Path: self, Major: 2}, Settings: DefaultSettings(), Forward: (&fakeTunnel{}).forward,
		LogDir: dir, ExtraArgs: []string{"+auth-only", "/kbd:0x407"},
		Env: append(os.Environ(), "IAPTERM_FAKE_RDP="+rec, "IAPTERM_FAKE_RDP_EXIT=0", "DISPLAY=:99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Wait(); err != nil {
		t.Fatal(err)
	}
	args := readRecord(t, rec).Args
	if len(args) < 2 || args[len(args)-2] != "+auth-only" || args[len(args)-1] != "/kbd:0x407" {
		t.Fatalf("args %q", args)
	}
}

func TestLaunchStopKillsClientIgnoringTerm(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	released := make(chan struct{})
	self, _ := os.Executable()
	dir := t.TempDir()
	sess, err := Launch(context.Background(), LaunchOptions{
		Client: Client{Kind: FreeRDP, Path: self, Major: 2}, Settings: DefaultSettings(), LogDir: dir, StopGrace: -1,
		Forward: func(context.Context, int) (string, func(), error) {
			return ln.Addr().String(), func() { close(released) }, nil
		},
		Env: append(os.Environ(), "IAPTERM_FAKE_RDP="+filepath.Join(dir, "r.json"), "IAPTERM_FAKE_RDP_EXIT=ignore-term",
			"IAPTERM_FAKE_RDP_DIAL=1", "DISPLAY=:99"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The client connects once it ignores SIGTERM.
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	<-sess.Done()
	<-released
	if sess.State() != StateStopped {
		t.Fatalf("state %v", sess.State())
	}
}
