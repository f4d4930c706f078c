package rdp

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// fakeSystem is a PATH and file system for discovery tests.
type fakeSystem struct {
	path     map[string]string // program name -> full path
	files    map[string]bool
	env      map[string]string
	versions map[string]string // full path -> --version output
}

func (f fakeSystem) opts(goos string) FindOptions {
	return FindOptions{
		GOOS:   goos,
		Getenv: func(k string) string { return f.env[k] },
		LookPath: func(name string) (string, error) {
			if p, ok := f.path[name]; ok {
				return p, nil
			}
			if strings.Contains(name, "/") && f.files[name] {
				return name, nil
			}
			return "", exec.ErrNotFound
		},
		Exists: func(p string) bool { return f.files[p] },
		RunVersion: func(_ context.Context, p string) (string, error) {
			out, ok := f.versions[p]
			if !ok {
				return "failed to open display", errors.New("exit status 1")
			}
			return out, nil
		},
	}
}

func TestFindClient(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		goos      string
		sys       fakeSystem
		flag      string
		wantKind  Kind
		wantPath  string
		wantMajor int
		wantGuess bool
		wantErr   string
	}{
		{
			name: "linux prefers xfreerdp3 over xfreerdp",
			goos: "linux",
			sys: fakeSystem{path: map[string]string{"xfreerdp": "/usr/bin/xfreerdp", "xfreerdp3": "/usr/bin/xfreerdp3"},
				versions: map[string]string{"/usr/bin/xfreerdp3": "This is FreeRDP version 3.5.1 (3.5.1)\n"}},
			wantKind: FreeRDP, wantPath: "/usr/bin/xfreerdp3", wantMajor: 3,
		},
		{
			name: "linux xfreerdp 2 from --version",
			goos: "linux",
			sys: fakeSystem{path: map[string]string{"xfreerdp": "/usr/bin/xfreerdp", "remmina": "/usr/bin/remmina"},
				versions: map[string]string{"/usr/bin/xfreerdp": "This is FreeRDP version 2.11.7 (2.11.7)\n"}},
			wantKind: FreeRDP, wantPath: "/usr/bin/xfreerdp", wantMajor: 2,
		},
		{
			name:     "linux version unknown, guessed from name",
			goos:     "linux",
			sys:      fakeSystem{path: map[string]string{"sdl-freerdp": "/usr/bin/sdl-freerdp"}},
			wantKind: FreeRDP, wantPath: "/usr/bin/sdl-freerdp", wantMajor: 3, wantGuess: true,
		},
		{
			name:     "linux wlfreerdp guessed 2",
			goos:     "linux",
			sys:      fakeSystem{path: map[string]string{"wlfreerdp": "/usr/bin/wlfreerdp", "remmina": "/usr/bin/remmina"}},
			wantKind: FreeRDP, wantPath: "/usr/bin/wlfreerdp", wantMajor: 2, wantGuess: true,
		},
		{
			name:     "linux remmina last",
			goos:     "linux",
			sys:      fakeSystem{path: map[string]string{"remmina": "/usr/bin/remmina"}},
			wantKind: Remmina, wantPath: "/usr/bin/remmina",
		},
		{
			name:    "linux nothing",
			goos:    "linux",
			sys:     fakeSystem{},
			wantErr: "apt install freerdp3-x11",
		},
		{
			name: "env overrides search",
			goos: "linux",
			sys: fakeSystem{path: map[string]string{"xfreerdp": "/usr/bin/xfreerdp", "remmina": "/usr/bin/remmina"},
				env: map[string]string{EnvClient: "remmina"}},
			wantKind: Remmina, wantPath: "/usr/bin/remmina",
		},
		{
			name: "flag overrides env",
			goos: "linux",
			sys: fakeSystem{path: map[string]string{"xfreerdp": "/usr/bin/xfreerdp", "remmina": "/usr/bin/remmina"},
				files: map[string]bool{"/opt/freerdp/bin/xfreerdp": true},
				env:   map[string]string{EnvClient: "remmina"}},
			flag:     "/opt/freerdp/bin/xfreerdp",
			wantKind: FreeRDP, wantPath: "/opt/freerdp/bin/xfreerdp", wantMajor: 2, wantGuess: true,
		},
		{
			name:    "flag names a missing program",
			goos:    "linux",
			sys:     fakeSystem{},
			flag:    "/nope/xfreerdp",
			wantErr: "--client",
		},
		{
			name:    "flag names an unknown kind",
			goos:    "linux",
			sys:     fakeSystem{path: map[string]string{"vncviewer": "/usr/bin/vncviewer"}},
			flag:    "vncviewer",
			wantErr: "cannot tell what kind",
		},
		{
			name: "macOS Windows App first",
			goos: "darwin",
			sys: fakeSystem{path: map[string]string{"open": "/usr/bin/open", "xfreerdp": "/opt/homebrew/bin/xfreerdp"},
				files: map[string]bool{"/Applications/Windows App.app": true, "/Applications/Microsoft Remote Desktop.app": true}},
			wantKind: WindowsApp, wantPath: "/usr/bin/open",
		},
		{
			name: "macOS old Microsoft Remote Desktop in ~/Applications",
			goos: "darwin",
			sys: fakeSystem{path: map[string]string{"open": "/usr/bin/open"}, env: map[string]string{"HOME": "/Users/u"},
				files: map[string]bool{"/Users/u/Applications/Microsoft Remote Desktop.app": true}},
			wantKind: WindowsApp, wantPath: "/usr/bin/open",
		},
		{
			name:     "macOS falls back to FreeRDP",
			goos:     "darwin",
			sys:      fakeSystem{path: map[string]string{"open": "/usr/bin/open", "sdl-freerdp": "/opt/homebrew/bin/sdl-freerdp"}},
			wantKind: FreeRDP, wantPath: "/opt/homebrew/bin/sdl-freerdp", wantMajor: 3, wantGuess: true,
		},
		{
			name:    "macOS nothing",
			goos:    "darwin",
			sys:     fakeSystem{path: map[string]string{"open": "/usr/bin/open"}},
			wantErr: "Mac App Store",
		},
		{
			name:     "windows mstsc on PATH",
			goos:     "windows",
			sys:      fakeSystem{path: map[string]string{"mstsc": `C:\Windows\System32\mstsc.exe`}},
			wantKind: MSTSC, wantPath: `C:\Windows\System32\mstsc.exe`,
		},
		{
			name:    "windows nothing",
			goos:    "windows",
			sys:     fakeSystem{path: map[string]string{"xfreerdp": "/x"}},
			wantErr: "mstsc.exe",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.sys.opts(tt.goos)
			opts.Path = tt.flag
			c, err := FindClient(ctx, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.wantKind || c.Path != tt.wantPath || c.Major != tt.wantMajor || c.VersionGuessed != tt.wantGuess {
				t.Fatalf("got %+v, want kind %s path %s major %d guessed %v", c, tt.wantKind, tt.wantPath, tt.wantMajor, tt.wantGuess)
			}
			if c.String() == "" {
				t.Fatal("empty String()")
			}
		})
	}
}

func TestFindClientNoneWrapsErrNoClient(t *testing.T) {
	_, err := FindClient(context.Background(), fakeSystem{}.opts("linux"))
	if !errors.Is(err, ErrNoClient) {
		t.Fatalf("err = %v, want ErrNoClient", err)
	}
}

func TestParseFreeRDPVersion(t *testing.T) {
	tests := []struct {
		in      string
		version string
		major   int
		ok      bool
	}{
		{"This is FreeRDP version 2.11.7 (2.11.7)\n", "2.11.7", 2, true},
		{"This is FreeRDP version 3.10.3 (n/a)\nBuild configuration: ...", "3.10.3", 3, true},
		{"[ERROR] noise\nThis is FreeRDP version 3.0.0-beta1 (abc)", "3.0.0-beta1", 3, true},
		{"This is FreeRDP version 2.0", "2.0", 2, true},
		{"failed to open display", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		v, major, ok := ParseFreeRDPVersion(tt.in)
		if v != tt.version || major != tt.major || ok != tt.ok {
			t.Errorf("ParseFreeRDPVersion(%q) = %q, %d, %v; want %q, %d, %v", tt.in, v, major, ok, tt.version, tt.major, tt.ok)
		}
	}
}
