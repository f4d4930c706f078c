package rdp

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFreeRDPArgs(t *testing.T) {
	full := DefaultSettings()
	full.Username, full.Domain = "alice", "CORP"
	full.DesktopSize, full.Width, full.Height = DesktopClientSize, 1280, 800
	full.FullScreen = true
	full.ColorDepth = DeepColor
	full.AudioMode = DoNotPlay
	full.RedirectClipboard = false
	full.RedirectDrives, full.RedirectPrinters, full.RedirectSmartCards = true, true, true
	full.NLA = NLADisabled
	full.AdminSession = true
	full.Title = "win-1"

	tests := []struct {
		name    string
		major   int
		s       Settings
		stdin   bool
		want    []string
		wantNot []string
	}{
		{
			name: "defaults FreeRDP 2", major: 2, s: DefaultSettings(),
			want:    []string{"/v:127.0.0.1:10000", "/cert-ignore", "/dynamic-resolution", "/bpp:24", "/audio-mode:0", "/sound", "+clipboard"},
			wantNot: []string{"/cert:ignore", "/from-stdin:force", "/f", "-sec-nla", "/admin"},
		},
		{
			name: "defaults FreeRDP 3", major: 3, s: DefaultSettings(),
			want:    []string{"/v:127.0.0.1:10000", "/cert:ignore", "/dynamic-resolution", "/bpp:24"},
			wantNot: []string{"/cert-ignore"},
		},
		{
			name: "everything FreeRDP 2 with password", major: 2, s: full, stdin: true,
			want: []string{"/u:alice", "/d:CORP", "/from-stdin:force", "/size:1280x800", "/f", "/bpp:32", "/audio-mode:2",
				"-clipboard", "+home-drive", "/printer", "/smartcard", "-sec-nla", "/admin", "/t:win-1"},
			wantNot: []string{"/dynamic-resolution", "/sound", "+clipboard", "/sec:nla:off"},
		},
		{
			name: "everything FreeRDP 3", major: 3, s: full,
			want:    []string{"/t:win-1", "/cert:ignore", "/sec:nla:off"},
			wantNot: []string{"-sec-nla", "/from-stdin:force", "/cert-ignore"},
		},
		{
			name: "screen size windowed", major: 2,
			s:    func() Settings { s := DefaultSettings(); s.DesktopSize = DesktopScreenSize; return s }(),
			want: []string{"/workarea"}, wantNot: []string{"/dynamic-resolution", "/f"},
		},
		{
			name: "certificate checked", major: 3,
			s:       func() Settings { s := DefaultSettings(); s.IgnoreCertificate = false; return s }(),
			wantNot: []string{"/cert:ignore", "/cert-ignore"},
		},
		{
			name: "high colour, sound on server", major: 2,
			s: func() Settings {
				s := DefaultSettings()
				s.ColorDepth = HighColor
				s.AudioMode = PlayOnServer
				return s
			}(),
			want: []string{"/bpp:16", "/audio-mode:1"}, wantNot: []string{"/sound"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FreeRDPArgs(tt.major, "127.0.0.1:10000", tt.s, tt.stdin)
			if got[0] != "/v:127.0.0.1:10000" {
				t.Errorf("first argument %q, want the server", got[0])
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("args %q lack %q", got, w)
				}
			}
			for _, w := range tt.wantNot {
				if slices.Contains(got, w) {
					t.Errorf("args %q have %q", got, w)
				}
			}
			for _, a := range got {
				if strings.HasPrefix(a, "/p:") {
					t.Errorf("password argument %q", a)
				}
			}
		})
	}
}

func rdpFileMap(t *testing.T, data []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\r\n") {
		if l == "" {
			continue
		}
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 || (parts[1] != "s" && parts[1] != "i") {
			t.Fatalf("bad .rdp line %q", l)
		}
		if _, dup := m[parts[0]]; dup {
			t.Fatalf("duplicate key %q", parts[0])
		}
		m[parts[0]] = parts[1] + ":" + parts[2]
	}
	return m
}

func TestRDPFile(t *testing.T) {
	def := rdpFileMap(t, RDPFile("127.0.0.1:10001", DefaultSettings()))
	want := map[string]string{
		"full address": "s:127.0.0.1:10001", "screen mode id": "i:1", "dynamic resolution": "i:1",
		"session bpp": "i:24", "audiomode": "i:0", "redirectclipboard": "i:1", "redirectprinters": "i:0",
		"redirectsmartcards": "i:0", "drivestoredirect": "s:", "enablecredsspsupport": "i:1",
		"administrative session": "i:0", "authentication level": "i:0", "prompt for credentials": "i:0",
	}
	for k, v := range want {
		if def[k] != v {
			t.Errorf("default %q = %q, want %q", k, def[k], v)
		}
	}
	if _, ok := def["username"]; ok {
		t.Error("username written without one")
	}

	s := DefaultSettings()
	s.Username, s.Domain = "bob", "CORP"
	s.DesktopSize, s.Width, s.Height = DesktopClientSize, 1920, 1080
	s.FullScreen, s.ColorDepth, s.AudioMode = true, HighColor, DoNotPlay
	s.RedirectClipboard, s.RedirectDrives, s.RedirectPrinters, s.RedirectSmartCards = false, true, true, true
	s.NLA, s.AdminSession, s.IgnoreCertificate = NLADisabled, true, false
	got := rdpFileMap(t, RDPFile("127.0.0.1:10001", s))
	want = map[string]string{
		"username": "s:bob", "domain": "s:CORP", "screen mode id": "i:2", "dynamic resolution": "i:0",
		"desktopwidth": "i:1920", "desktopheight": "i:1080", "session bpp": "i:16", "audiomode": "i:2",
		"redirectclipboard": "i:0", "redirectprinters": "i:1", "redirectsmartcards": "i:1", "drivestoredirect": "s:*",
		"enablecredsspsupport": "i:0", "administrative session": "i:1", "authentication level": "i:2",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.Contains(strings.ToLower(k), "password") {
			t.Errorf("a password key %q in a .rdp file", k)
		}
	}
}

func TestRemminaFile(t *testing.T) {
	s := DefaultSettings()
	s.Username, s.Domain, s.Title = "bob", "CORP", "win\n1"
	s.AudioMode = PlayOnServer
	s.RedirectClipboard = false
	s.NLA = NLADisabled
	s.AdminSession = true
	data := string(RemminaFile("127.0.0.1:10002", s))
	if !strings.HasPrefix(data, "[remmina]\n") {
		t.Fatalf("no [remmina] group: %q", data)
	}
	for _, w := range []string{"protocol=RDP\n", "server=127.0.0.1:10002\n", "username=bob\n", "domain=CORP\n",
		"colordepth=24\n", "resolution_mode=2\n", "scale=2\n", "sound=remote\n", "disableclipboard=1\n",
		"security=tls\n", "console=1\n", "cert_ignore=1\n", "name=win 1\n", "viewmode=1\n"} {
		if !strings.Contains(data, w) {
			t.Errorf("remmina file lacks %q:\n%s", w, data)
		}
	}
	if strings.Contains(data, "password") {
		t.Error("remmina file has a password key")
	}
	if strings.Contains(data, "sharefolder") {
		t.Errorf("drives not shared, but:\n%s", data)
	}
	s = DefaultSettings()
	s.DesktopSize, s.Width, s.Height, s.FullScreen = DesktopClientSize, 800, 600, true
	// Remmina shares only an absolute folder: "~" would share nothing.
	home := filepath.Join(t.TempDir(), `a\b`)
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	s.RedirectDrives = true
	data = string(RemminaFile("127.0.0.1:10002", s))
	if want := "sharefolder=" + strings.ReplaceAll(home, `\`, `\\`) + "\n"; !strings.Contains(data, want) {
		t.Errorf("remmina file lacks %q:\n%s", want, data)
	}
	for _, w := range []string{"resolution_mode=0\n", "resolution_width=800\n", "resolution_height=600\n", "viewmode=4\n", "sound=local\n", "disableclipboard=0\n"} {
		if !strings.Contains(data, w) {
			t.Errorf("remmina file lacks %q:\n%s", w, data)
		}
	}
}
