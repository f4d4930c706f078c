package rdp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Kind is the family of an RDP client: it decides how the client is
// started and how settings reach it.
type Kind string

const (
	// FreeRDP is xfreerdp, xfreerdp3, wlfreerdp, sdl-freerdp: settings as
	// arguments, the password on stdin.
	FreeRDP Kind = "freerdp"
	// Remmina reads a generated .remmina file; it asks for the password.
	Remmina Kind = "remmina"
	// MSTSC is Windows' Remote Desktop Connection, given a generated .rdp
	// file; it asks for the password.
	MSTSC Kind = "mstsc"
	// WindowsApp is Microsoft's Windows App (formerly Microsoft Remote
	// Desktop) on macOS, opened with `open -W -a APP file.rdp`.
	WindowsApp Kind = "windows-app"
)

// EnvClient names the environment variable that overrides discovery.
const EnvClient = "IAPTERM_RDP_CLIENT"

// Client is an RDP client found on this machine.
type Client struct {
	Kind Kind
	// Path is the program that is run: the client itself, or `open` for
	// WindowsApp.
	Path string
	// App is the macOS application bundle opened with `open -a` (WindowsApp only).
	App string
	// Major is FreeRDP's major version (2 or 3); 0 for other kinds.
	Major int
	// Version is the version string the client reported, if known.
	Version string
	// VersionGuessed is true when Major comes from the program's name
	// because `--version` did not answer (FreeRDP's X11 client needs a
	// display even for that).
	VersionGuessed bool
}

// String names the client for messages: "xfreerdp 2.11.7 (FreeRDP 2)".
func (c Client) String() string {
	name := filepath.Base(c.Path)
	if c.Kind == WindowsApp {
		name = strings.TrimSuffix(filepath.Base(c.App), ".app")
	}
	switch {
	case c.Kind == FreeRDP && c.Version != "":
		return fmt.Sprintf("%s %s (FreeRDP %d)", name, c.Version, c.Major)
	case c.Kind == FreeRDP:
		return fmt.Sprintf("%s (FreeRDP %d, guessed from its name)", name, c.Major)
	}
	return name
}

// PasswordOnStdin reports whether the client can be given a password
// without it appearing on a command line or in a file. Only FreeRDP can;
// mstsc, Windows App and Remmina ask the user.
func (c Client) PasswordOnStdin() bool { return c.Kind == FreeRDP }

// FindOptions tune discovery. The zero value searches this machine.
type FindOptions struct {
	// Path is an explicit client (the --client flag); it wins over
	// IAPTERM_RDP_CLIENT and the search.
	Path string
	// GOOS defaults to runtime.GOOS.
	GOOS string
	// Getenv, LookPath, Exists and RunVersion replace the real functions
	// in tests.
	Getenv     func(string) string
	LookPath   func(string) (string, error)
	Exists     func(string) bool
	RunVersion func(ctx context.Context, path string) (string, error)
}

func (o *FindOptions) defaults() {
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.Exists == nil {
		o.Exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if o.RunVersion == nil {
		o.RunVersion = runVersion
	}
}

// LinuxSearchOrder is the order in which Linux (and other Unix) clients
// are looked for on PATH.
var LinuxSearchOrder = []string{"xfreerdp3", "xfreerdp", "wlfreerdp", "sdl-freerdp", "remmina"}

// MacApps are the macOS applications looked for, in order, in
// /Applications and ~/Applications, before FreeRDP on PATH.
var MacApps = []string{"Windows App.app", "Microsoft Remote Desktop.app"}

// ErrNoClient is wrapped by FindClient's error when nothing was found.
var ErrNoClient = errors.New("no RDP client found")

// FindClient returns the RDP client to use: --client (FindOptions.Path),
// else $IAPTERM_RDP_CLIENT, else the first found in the documented order
// for this OS (Linux: xfreerdp3, xfreerdp, wlfreerdp, sdl-freerdp,
// remmina; macOS: Windows App, Microsoft Remote Desktop, then the Linux
// list; Windows: mstsc). When nothing is found the error says what to
// install on this OS.
func FindClient(ctx context.Context, opts FindOptions) (Client, error) {
	opts.defaults()
	explicit, source := opts.Path, "--client"
	if explicit == "" {
		explicit, source = strings.TrimSpace(opts.Getenv(EnvClient)), EnvClient
	}
	if explicit != "" {
		return explicitClient(ctx, opts, explicit, source)
	}
	switch opts.GOOS {
	case "windows":
		if p, err := opts.LookPath("mstsc"); err == nil {
			return Client{Kind: MSTSC, Path: p}, nil
		}
		if root := opts.Getenv("SystemRoot"); root != "" {
			p := filepath.Join(root, "System32", "mstsc.exe")
			if opts.Exists(p) {
				return Client{Kind: MSTSC, Path: p}, nil
			}
		}
	case "darwin":
		if c, ok := findMacApp(opts); ok {
			return c, nil
		}
	}
	for _, name := range LinuxSearchOrder {
		if opts.GOOS == "windows" {
			break
		}
		p, err := opts.LookPath(name)
		if err != nil {
			continue
		}
		return classify(ctx, opts, p)
	}
	return Client{}, fmt.Errorf("%w: %s", ErrNoClient, InstallHint(opts.GOOS))
}

func findMacApp(opts FindOptions) (Client, bool) {
	open, err := opts.LookPath("open")
	if err != nil {
		open = "/usr/bin/open"
	}
	dirs := []string{"/Applications", "/System/Applications"}
	if home := opts.Getenv("HOME"); home != "" {
		dirs = append(dirs, filepath.Join(home, "Applications"))
	}
	for _, app := range MacApps {
		for _, d := range dirs {
			p := filepath.Join(d, app)
			if opts.Exists(p) {
				return Client{Kind: WindowsApp, Path: open, App: p}, true
			}
		}
	}
	return Client{}, false
}

func explicitClient(ctx context.Context, opts FindOptions, path, source string) (Client, error) {
	if strings.HasSuffix(strings.TrimRight(path, "/"), ".app") {
		if !opts.Exists(path) {
			return Client{}, fmt.Errorf("RDP client %s from %s does not exist", path, source)
		}
		open, err := opts.LookPath("open")
		if err != nil {
			return Client{}, fmt.Errorf("RDP client %s from %s is an application bundle, but `open` was not found: %w", path, source, err)
		}
		return Client{Kind: WindowsApp, Path: open, App: path}, nil
	}
	p, err := opts.LookPath(path)
	if err != nil {
		return Client{}, fmt.Errorf("RDP client %q from %s was not found or is not executable: %w", path, source, err)
	}
	c, err := classify(ctx, opts, p)
	if err != nil {
		return Client{}, fmt.Errorf("RDP client %q from %s: %w", path, source, err)
	}
	return c, nil
}

// classify decides a program's kind from its name and, for FreeRDP, asks
// its version.
func classify(ctx context.Context, opts FindOptions, path string) (Client, error) {
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(path), ".exe"))
	switch {
	case strings.Contains(base, "freerdp"):
		c := Client{Kind: FreeRDP, Path: path}
		// The exit status is ignored: some builds exit non-zero after
		// printing the version.
		out, _ := opts.RunVersion(ctx, path)
		if v, major, ok := ParseFreeRDPVersion(out); ok {
			c.Version, c.Major = v, major
		} else {
			c.Major, c.VersionGuessed = guessMajor(base), true
		}
		return c, nil
	case strings.Contains(base, "remmina"):
		return Client{Kind: Remmina, Path: path}, nil
	case strings.Contains(base, "mstsc"):
		return Client{Kind: MSTSC, Path: path}, nil
	}
	return Client{}, fmt.Errorf("cannot tell what kind of RDP client %s is: its name must contain freerdp, remmina or mstsc, or it must be a macOS .app bundle", filepath.Base(path))
}

// guessMajor guesses FreeRDP's major version from a program name:
// Debian names FreeRDP 3's programs xfreerdp3, wlfreerdp3, sdl-freerdp3,
// and the SDL client only exists from FreeRDP 3 on.
func guessMajor(base string) int {
	if strings.HasSuffix(base, "3") || strings.HasPrefix(base, "sdl-freerdp") {
		return 3
	}
	return 2
}

var freerdpVersionRE = regexp.MustCompile(`FreeRDP version ([0-9]+)\.([0-9]+)\.?([0-9A-Za-z.\-+~]*)`)

// ParseFreeRDPVersion finds "This is FreeRDP version 2.11.7 (...)" in the
// output of `xfreerdp --version`.
func ParseFreeRDPVersion(out string) (version string, major int, ok bool) {
	m := freerdpVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0, false
	}
	major, err := strconv.Atoi(m[1])
	if err != nil || major < 1 {
		return "", 0, false
	}
	v := m[1] + "." + m[2]
	if m[3] != "" {
		v += "." + strings.TrimRight(m[3], ".")
	}
	return v, major, true
}

func runVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// InstallHint says what to install on goos to get an RDP client iapterm
// can launch.
func InstallHint(goos string) string {
	switch goos {
	case "darwin":
		return "install Microsoft's \"Windows App\" from the Mac App Store (it opens the .rdp file iapterm writes), " +
			"or FreeRDP with Homebrew (brew install freerdp); or name a client with --client PATH or " + EnvClient
	case "windows":
		return "mstsc.exe (Remote Desktop Connection) is part of Windows but was not found on PATH or in %SystemRoot%\\System32; " +
			"name it with --client PATH or " + EnvClient
	default:
		return "looked for " + strings.Join(LinuxSearchOrder, ", ") + " on PATH. Install FreeRDP: " +
			"Debian/Ubuntu: sudo apt install freerdp3-x11 (or freerdp2-x11 on older releases); " +
			"Fedora/RHEL: sudo dnf install freerdp; Arch: sudo pacman -S freerdp; openSUSE: sudo zypper install freerdp; " +
			"or Remmina (sudo apt install remmina remmina-plugin-rdp); or name a client with --client PATH or " + EnvClient
	}
}
