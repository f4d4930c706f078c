package actions

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"iapterm/auth"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

var (
	linuxVM   = projects.Instance{Name: "web-1", Project: "p", Zone: "z", Status: "RUNNING", OS: projects.Linux}
	windowsVM = projects.Instance{Name: "win-1", Project: "p", Zone: "z", Status: "RUNNING", OS: projects.Windows}
	stoppedVM = projects.Instance{Name: "old", Project: "p", Zone: "z", Status: "TERMINATED", OS: projects.Linux}
)

func selfTrue(args ...string) *exec.Cmd { return exec.Command("true") }

func ids(as []Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// The same registry serves a UI with tabs and one without, in either order
// and any number of times: availability is read from the Common.
func TestTabsArePerCommon(t *testing.T) {
	withTabs := &common.Common{SSHTabs: true, Backend: common.Backend{Self: selfTrue}}
	without := &common.Common{Backend: common.Backend{Self: selfTrue}}
	nKey := tea.KeyPressMsg{Code: 'n', Text: "n"}
	sKey := tea.KeyPressMsg{Code: 's', Text: "S", Mod: tea.ModShift}
	for round := 0; round < 2; round++ {
		for _, tc := range []struct {
			name string
			c    *common.Common
			tabs bool
		}{
			{"with tabs", withTabs, true},
			{"without tabs", without, false},
			{"with tabs again", withTabs, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := tc.c
				for _, id := range []string{"ssh.tab", "ssh.fullscreen"} {
					if got := slices.Contains(ids(All(c)), id); got != tc.tabs {
						t.Errorf("All has %s: %v, want %v", id, got, tc.tabs)
					}
					if got := slices.Contains(ids(For(c, linuxVM)), id); got != tc.tabs {
						t.Errorf("For(linux) has %s: %v, want %v", id, got, tc.tabs)
					}
					if _, got := ByID(c, id); got != tc.tabs {
						t.Errorf("ByID(%s) found %v, want %v", id, got, tc.tabs)
					}
				}
				nb := 0
				for _, b := range Bindings(c) {
					if slices.Contains(b.Keys(), "n") || slices.Contains(b.Keys(), "S") {
						nb++
					}
				}
				if want := map[bool]int{true: 2, false: 0}[tc.tabs]; nb != want {
					t.Errorf("help lists %d of n/S, want %d", nb, want)
				}
				a, ok := Match(c, nKey)
				if ok != tc.tabs || (ok && a.ID != "ssh.tab") {
					t.Errorf("key n matches %q (%v)", a.ID, ok)
				}
				a, ok = Match(c, sKey)
				if ok != tc.tabs || (ok && a.ID != "ssh.fullscreen") {
					t.Errorf("key S matches %q (%v)", a.ID, ok)
				}

				connect, ok := ByID(c, "connect")
				if !ok {
					t.Fatal("no connect action")
				}
				_, isTab := connect.Run(c, linuxVM)().(SessionRequestedMsg)
				if isTab != tc.tabs {
					t.Errorf("enter on Linux opened a tab: %v, want %v", isTab, tc.tabs)
				}
				if _, isTab := connect.Run(c, windowsVM)().(SessionRequestedMsg); isTab {
					t.Error("enter on Windows opened an SSH tab")
				}
			})
		}
	}
}

func TestTabActions(t *testing.T) {
	c := &common.Common{SSHTabs: true, Backend: common.Backend{Self: selfTrue}}
	tab, ok := ByID(c, "ssh.tab")
	if !ok {
		t.Fatal("no ssh.tab")
	}
	if !tab.Applies(linuxVM) || tab.Applies(windowsVM) || tab.Applies(stoppedVM) {
		t.Error("ssh.tab should apply to running Linux VMs only")
	}
	if got := tab.Why(windowsVM); got == "" {
		t.Error("no reason for Windows")
	}
	if got := tab.Why(stoppedVM); got == "" {
		t.Error("no reason for a stopped VM")
	}
	if msg, ok := tab.Run(c, linuxVM)().(SessionRequestedMsg); !ok || msg.Instance.Name != "web-1" {
		t.Errorf("n gave %#v", msg)
	}
	if FullScreen(&common.Common{}, linuxVM) == nil {
		t.Error("full screen without Self gave no error command")
	}
	if _, ok := FullScreen(&common.Common{}, linuxVM)().(common.ErrorRaisedMsg); !ok {
		t.Error("full screen without Self did not raise an error")
	}
}

// A connection to a VM that is not running says which key gets it
// running: start for a stopped VM, resume for a suspended one.
func TestNotRunningNamesTheKey(t *testing.T) {
	for _, tc := range []struct{ status, want string }{
		{"TERMINATED", "start it first (U)"},
		{"STOPPED", "start it first (U)"},
		{"SUSPENDED", "resume it first (E)"},
		{"STAGING", "wait until it is RUNNING"},
	} {
		inst := stoppedVM
		inst.Status = tc.status
		if got := notRunning(inst); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.status, got, tc.want)
		}
	}
}

// The hint under a tunnel that did not open fits what failed; only an
// error of unknown kind gets the general role-and-firewall advice.
func TestTunnelHintFitsTheError(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		{&tunnel.PortNotAvailableError{Port: 5432, Err: errors.New("address in use")}, "local port", "Tunnel User"},
		{&tunnel.CloseError{Code: tunnel.CloseFailedToConnectToBackend}, "nothing answered on port 5432", "Tunnel User"},
		{&tunnel.CloseError{Code: tunnel.CloseNotAuthorized}, "Tunnel User", "firewall"},
		{&tunnel.HandshakeError{Status: 401}, "iapterm auth login", "Tunnel User"},
		{fmt.Errorf("getting an access token: %w", auth.ErrNotSignedIn), "iapterm auth login", "Tunnel User"},
		{fmt.Errorf("connecting to the IAP relay: %w", dial), "network", "Tunnel User"},
		{&tunnel.CloseError{Code: tunnel.CloseLookupFailed}, "refresh", "Tunnel User"},
		{errors.New("something else"), "Tunnel User", "network"},
	} {
		got := tunnelHint(5432, tc.err)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("tunnelHint(%v) = %q, want %q and not %q", tc.err, got, tc.want, tc.not)
		}
	}
}
