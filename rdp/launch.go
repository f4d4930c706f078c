package rdp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Forwarder opens the local end of a tunnel to the VM's RDP port
// (remotePort) and returns its loopback address ("127.0.0.1:PORT").
// release is called exactly once, when the client process has exited.
// The CLI and the TUI adapt the tunnel pool to this.
type Forwarder func(ctx context.Context, remotePort int) (addr string, release func(), err error)

// LaunchOptions describe one client launch.
type LaunchOptions struct {
	Client   Client
	Settings Settings
	// Password is handed to FreeRDP on its stdin. Other clients cannot
	// take a password without putting it on a command line or in a file,
	// so Launch refuses one for them: the user types it in the client.
	Password string
	// Forward opens the tunnel. Required.
	Forward Forwarder
	// Name labels the log file and the window title default (usually the
	// instance name).
	Name string
	// LogDir receives the client's stdout and stderr; default
	// os.UserCacheDir()/iapterm/logs.
	LogDir string
	// TempDir is where the private 0700 directory for .rdp/.remmina files
	// is made; default os.TempDir().
	TempDir string
	// Env is the client's environment; default os.Environ().
	Env []string
	// ExtraArgs are appended to FreeRDP's or Remmina's arguments (e.g.
	// "+auth-only", "/kbd:0x407"). A password argument is refused.
	ExtraArgs []string
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
	// StopGrace is how long Stop (or cancelling the context) lets the
	// client end on its own before killing its process group, so a client
	// that ignores the request cannot keep the caller and the tunnel
	// waiting; default DefaultStopGrace, negative kills at once.
	StopGrace time.Duration
}

// State is where a launched client is in its life.
type State int

const (
	StateRunning State = iota // the client process is running, the tunnel is open
	StateExited               // the client exited with status 0, or FreeRDP reported a deliberate disconnect or logoff
	StateFailed               // the client exited non-zero or could not be waited for
	StateStopped              // Stop was called or the launch context was cancelled
)

func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	case StateFailed:
		return "failed"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Session is a launched RDP client and the tunnel it uses. The tunnel is
// released when the client process exits.
type Session struct {
	Client  Client
	Addr    string // the local tunnel address the client connects to
	LogPath string // the client's stdout and stderr
	PID     int
	Started time.Time

	cmd     *exec.Cmd
	grace   time.Duration
	done    chan struct{}
	mu      sync.Mutex
	state   State
	err     error
	stopped bool
}

// Done is closed when the client has exited and the tunnel is released.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait blocks until the client exits. It returns nil on exit status 0,
// on FreeRDP's disconnect/logoff statuses (1, 2, 11) and after Stop, else
// an *ExitError.
func (s *Session) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// State reports the session's state for display.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// DefaultStopGrace is how long Stop lets the client end on its own
// (SIGTERM) before it kills the client's process group.
const DefaultStopGrace = 5 * time.Second

// Stop ends the client (its whole process group) and, through its exit,
// releases the tunnel. It does not wait: use Done or Wait. A client still
// running LaunchOptions.StopGrace later is killed.
func (s *Session) Stop() error {
	s.mu.Lock()
	if s.state != StateRunning || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	grace := s.grace
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			kill(s.cmd)
		}
	}()
	return terminate(s.cmd)
}

// ExitError is a client that exited with a non-zero status.
type ExitError struct {
	Client  Client
	Code    int
	LogPath string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", filepath.Base(e.Client.Path), e.Code)
	if e.Client.Kind == FreeRDP {
		if r := FreeRDPExitReason(e.Code); r != "" {
			msg += " (" + r + ")"
		}
	}
	if e.LogPath != "" {
		msg += "; its output is in " + e.LogPath
	}
	return msg
}

// FreeRDPExitReason explains the exit statuses of FreeRDP's clients that
// users meet most often (FreeRDP's XF_EXIT_* codes); "" when unknown.
func FreeRDPExitReason(code int) string {
	switch code {
	case 1:
		return "disconnected"
	case 2:
		return "logged off"
	case 3:
		return "idle timeout"
	case 5:
		return "another session replaced this one"
	case 11:
		return "disconnected by the user"
	case 128:
		return "bad command-line arguments: this FreeRDP build may not know an option; see the log"
	case 131, 141, 147:
		return "connection failed: is the VM's RDP service running and listening on the port?"
	case 132, 134, 154:
		return "authentication failed: wrong username or password"
	case 133:
		return "security negotiation failed: try --nla=false"
	case 135:
		return "account locked out"
	case 143:
		return "TLS connection failed"
	case 148, 149, 152:
		return "the password has expired or must be changed: generate new credentials"
	case 151:
		return "account disabled"
	case 155:
		return "access denied: is the user allowed to log on through Remote Desktop?"
	}
	return ""
}

// freeRDPNormalEnd reports the statuses with which FreeRDP ends a session
// the user or the server closed on purpose.
func freeRDPNormalEnd(code int) bool { return code == 1 || code == 2 || code == 11 }

// Launch opens the tunnel, starts the client detached from the terminal
// (its own session and process group, output to a log file) and returns
// at once. The tunnel stays open while the client runs and is released
// when it exits; generated .rdp/.remmina files (0600, in a private 0700
// directory) are removed then too. Cancelling ctx stops the client.
func Launch(ctx context.Context, opts LaunchOptions) (*Session, error) {
	c := opts.Client
	if c.Path == "" {
		return nil, errors.New("no RDP client given: call FindClient first")
	}
	if opts.Forward == nil {
		return nil, errors.New("no tunnel given (LaunchOptions.Forward is nil)")
	}
	s := opts.Settings
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if opts.Password != "" {
		if !c.PasswordOnStdin() {
			return nil, fmt.Errorf("%s cannot be given a password safely (only FreeRDP reads it from stdin): leave the password out and type it in the client", c)
		}
		if s.Username == "" {
			return nil, errors.New("a password was given without a username: set the Windows username (--user)")
		}
		if strings.ContainsAny(opts.Password, "\r\n\x00") {
			return nil, errors.New("the password has a line break or NUL, which FreeRDP cannot read from stdin: type it in the client instead")
		}
	}
	if err := checkExtraArgs(c, opts.ExtraArgs); err != nil {
		return nil, err
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	if err := needDisplay(c, env); err != nil {
		return nil, err
	}
	if s.Title == "" && opts.Name != "" {
		s.Title = opts.Name + " (iapterm)"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}

	logPath, logFile, err := openLog(opts.LogDir, opts.Name)
	if err != nil {
		return nil, err
	}
	var tmpDir string
	started := false
	cleanup := func() {
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
		logFile.Close()
		if !started {
			// No client ran: the log would only hold the command line.
			os.Remove(logPath)
		}
	}

	addr, release, err := opts.Forward(ctx, s.Port)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("opening the tunnel to port %d: %w", s.Port, err)
	}
	var releaseOnce sync.Once
	releaseTunnel := func() {
		releaseOnce.Do(func() {
			if release != nil {
				release()
			}
		})
	}

	var argv []string
	var stdin []byte
	switch c.Kind {
	case FreeRDP:
		argv = append(FreeRDPArgs(c.Major, addr, s, opts.Password != ""), opts.ExtraArgs...)
		if opts.Password != "" {
			stdin = []byte(opts.Password + "\n")
		}
	case Remmina, MSTSC, WindowsApp:
		tmpDir, err = os.MkdirTemp(opts.TempDir, "iapterm-rdp-")
		if err == nil {
			err = os.Chmod(tmpDir, 0o700)
		}
		if err != nil {
			releaseTunnel()
			cleanup()
			return nil, fmt.Errorf("making a private directory for the connection file: %w", err)
		}
		name, data := "connection.rdp", RDPFile(addr, s)
		if c.Kind == Remmina {
			name, data = "connection.remmina", RemminaFile(addr, s)
		}
		file := filepath.Join(tmpDir, name)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			releaseTunnel()
			cleanup()
			return nil, fmt.Errorf("writing %s: %w", file, err)
		}
		switch c.Kind {
		case Remmina:
			argv = append([]string{"-c", file}, opts.ExtraArgs...)
		case MSTSC:
			argv = []string{file}
		case WindowsApp:
			// -W: wait until the application quits, so the tunnel is held
			// as long as it can be used; -n: a new instance, so -W waits for
			// this one.
			argv = []string{"-W", "-n", "-a", c.App, file}
		}
	default:
		releaseTunnel()
		cleanup()
		return nil, fmt.Errorf("unknown RDP client kind %q", c.Kind)
	}

	cmd := exec.Command(c.Path, argv...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	var stdinW io.WriteCloser
	if stdin != nil {
		stdinW, err = cmd.StdinPipe()
		if err != nil {
			releaseTunnel()
			cleanup()
			return nil, err
		}
	}
	fmt.Fprintf(logFile, "# %s %s %s\n", time.Now().UTC().Format(time.RFC3339), c.Path, strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		releaseTunnel()
		cleanup()
		return nil, fmt.Errorf("starting %s: %w", c, err)
	}
	started = true
	if stdinW != nil {
		// The pipe buffer holds a password easily; write it and close so
		// FreeRDP sees the end of input.
		go func() {
			stdinW.Write(stdin)
			stdinW.Close()
		}()
	}
	sess := &Session{
		Client: c, Addr: addr, LogPath: logPath, PID: cmd.Process.Pid,
		Started: time.Now(), cmd: cmd, grace: opts.StopGrace, done: make(chan struct{}), state: StateRunning,
	}
	if sess.grace == 0 {
		sess.grace = DefaultStopGrace
	}
	log.Info("rdp client started", "client", c.String(), "pid", sess.PID, "addr", addr, "log", logPath)

	stopWatch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sess.Stop()
		case <-stopWatch:
		}
	}()
	go func() {
		werr := cmd.Wait()
		close(stopWatch)
		releaseTunnel()
		cleanup()
		sess.mu.Lock()
		switch {
		case sess.stopped:
			sess.state = StateStopped
		case werr == nil:
			sess.state = StateExited
		default:
			sess.state = StateFailed
			var ee *exec.ExitError
			if errors.As(werr, &ee) {
				if c.Kind == FreeRDP && freeRDPNormalEnd(ee.ExitCode()) {
					sess.state = StateExited
					break
				}
				sess.err = &ExitError{Client: c, Code: ee.ExitCode(), LogPath: logPath}
			} else {
				sess.err = fmt.Errorf("waiting for %s: %w", c, werr)
			}
		}
		state := sess.state
		sess.mu.Unlock()
		log.Info("rdp client ended", "pid", sess.PID, "state", state.String())
		close(sess.done)
	}()
	return sess, nil
}

// needDisplay refuses to start an X11/Wayland client without a display,
// which would otherwise fail with a message only in the log.
func needDisplay(c Client, env []string) error {
	if c.Kind != FreeRDP && c.Kind != Remmina {
		return nil
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return nil
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "DISPLAY" || k == "WAYLAND_DISPLAY") && v != "" {
			return nil
		}
	}
	return fmt.Errorf("%s needs a graphical display, but neither DISPLAY nor WAYLAND_DISPLAY is set: run iapterm from a desktop session, or open a tunnel (iapterm tunnel) and connect from a machine with a display", c)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func openLog(dir, name string) (string, *os.File, error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", nil, fmt.Errorf("finding the cache directory for the client log: %w (set XDG_CACHE_HOME)", err)
		}
		dir = filepath.Join(cache, "iapterm", "logs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("making the log directory: %w", err)
	}
	if name == "" {
		name = "session"
	}
	base := fmt.Sprintf("rdp-%s-%s.log", unsafeName.ReplaceAllString(name, "_"), time.Now().Format("20060102-150405.000"))
	p := filepath.Join(dir, base)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("opening the client log: %w", err)
	}
	return p, f, nil
}

// checkExtraArgs refuses extra arguments for clients that take none and
// any that would put a password on the command line.
func checkExtraArgs(c Client, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.Kind != FreeRDP && c.Kind != Remmina {
		return fmt.Errorf("%s takes its settings from a .rdp file: extra client arguments are not supported for it", c)
	}
	for _, a := range args {
		l := strings.ToLower(strings.TrimLeft(a, "/-+"))
		// "-p PASSWORD" is FreeRDP's and rdesktop's old syntax.
		if l == "p" || strings.HasPrefix(l, "p:") || strings.HasPrefix(l, "gp:") || strings.HasPrefix(l, "pth:") || strings.Contains(l, "password") {
			return fmt.Errorf("extra client argument %q would put a password on the command line, where other users can read it: use --password-stdin or the keyring", strings.SplitN(a, ":", 2)[0])
		}
		if strings.ContainsAny(a, "\x00\n") {
			return fmt.Errorf("extra client argument %q has a control character", a)
		}
	}
	return nil
}
