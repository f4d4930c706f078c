package backend

import (
	"context"
	"errors"
	"net"
	"testing"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

type staticConfig struct{ c *profiles.Config }

func (s staticConfig) LoadConfig() (*profiles.Config, error) { return s.c, nil }

func TestRDPSettingsFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		want       func(*rdp.Settings)
		wantUser   string
	}{
		{name: "defaults", toml: "", want: func(s *rdp.Settings) {}, wantUser: "demo.user"},
		{name: "global", toml: "[settings.rdp]\nuser = \"alice\"\ndomain = \"CORP\"\nport = 3390\ncolor_depth = \"deep\"\naudio = \"off\"\nclipboard = false\nfullscreen = true\n",
			want: func(s *rdp.Settings) {
				s.Username, s.Domain, s.Port, s.ColorDepth, s.AudioMode, s.RedirectClipboard, s.FullScreen = "alice", "CORP", 3390, rdp.DeepColor, rdp.DoNotPlay, false, true
			}, wantUser: "alice"},
		{name: "instance wins", toml: "[settings.rdp]\nuser = \"alice\"\n[instance.\"p/z/win-1\".rdp]\nuser = \"bob\"\ndesktop_size = \"1280x800\"\n",
			want: func(s *rdp.Settings) {
				s.Username, s.DesktopSize, s.Width, s.Height = "bob", rdp.DesktopClientSize, 1280, 800
			}, wantUser: "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := profiles.Parse([]byte(tc.toml), "config.toml")
			if err != nil {
				t.Fatal(err)
			}
			b := &RDP{Config: staticConfig{cfg}, Email: "demo.user@example.com"}
			inst := projects.Instance{Project: "p", Zone: "z", Name: "win-1", OS: projects.Windows}
			got, _, err := b.settings(inst)
			if err != nil {
				t.Fatal(err)
			}
			want := rdp.DefaultSettings()
			tc.want(&want)
			if got != want {
				t.Fatalf("settings\n got %+v\nwant %+v", got, want)
			}
			if u, _ := b.DefaultUser(inst); u != tc.wantUser {
				t.Fatalf("default user %q, want %q", u, tc.wantUser)
			}
		})
	}
}

type failingProber struct{ err error }

func (p failingProber) Probe(context.Context, tunnel.Target) error { return p.err }

// Failures to open the tunnel (the probe, or the pool's listener) are
// marked as the tunnel's, so the UI does not blame the RDP client for
// them; the client's own failures are not marked.
func TestRDPLaunchMarksTunnelErrors(t *testing.T) {
	t.Setenv("DISPLAY", ":0")
	closed := tunnel.NewPool(&tunnel.Dialer{})
	closed.Close()
	inst := projects.Instance{Project: "p", Zone: "z", Name: "win-1", OS: projects.Windows}
	client := func(context.Context, rdp.FindOptions) (rdp.Client, error) {
		return rdp.Client{Kind: rdp.FreeRDP, Path: "/bin/true"}, nil
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name   string
		b      *RDP
		tunnel bool
	}{
		{"probe", &RDP{Pool: closed, Find: client, Prober: failingProber{dial}, LogDir: t.TempDir()}, true},
		{"forward", &RDP{Pool: closed, Find: client, LogDir: t.TempDir()}, true},
		{"client", &RDP{Pool: closed, Find: func(context.Context, rdp.FindOptions) (rdp.Client, error) {
			return rdp.Client{}, rdp.ErrNoClient
		}, LogDir: t.TempDir()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Launch(context.Background(), inst, common.RDPRequest{})
			if err == nil {
				t.Fatal("no error")
			}
			var te *common.RDPTunnelError
			if got := errors.As(err, &te); got != tc.tunnel {
				t.Errorf("%v: marked as the tunnel's: %v, want %v", err, got, tc.tunnel)
			}
		})
	}
}
