package rdpdialog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

func TestValidateDomain(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"CORP", true}, {"corp.example.com", true},
		{"CORP\\x", false}, {"a b", false}, {"a/b", false}, {"a:b", false}, {"a|b", false},
	} {
		if err := ValidateDomain(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateDomain(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestUserPanelShowsPlaceholdersAndLongValues(t *testing.T) {
	c := &common.Common{Ctx: context.Background(), Styles: common.DefaultStyles(), Now: time.Now}
	p := NewUserPanel(c, projects.Instance{Name: "win-1", Project: "p", Zone: "z"})
	p.SetSize(100, 30)
	p.Init()
	view := ansi.Strip(p.View())
	if !strings.Contains(view, "none (local account)") {
		t.Errorf("the empty domain field does not show its whole placeholder:\n%s", view)
	}
	p.user.SetValue("administrator-longer")
	p.domain.SetValue("corp.subsidiary.example.com")
	view = ansi.Strip(p.View())
	for _, want := range []string{"administrator-longer", "corp.subsidiary.example.com"} {
		if !strings.Contains(view, want) {
			t.Errorf("the form does not show %q whole:\n%s", want, view)
		}
	}
}

// The hint under a failed launch fits the failure: a client iapterm cannot
// use, nothing listening on the VM's RDP port, or no permission.
func TestLaunchHintFitsTheError(t *testing.T) {
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		{fmt.Errorf("%w: install one", rdp.ErrNoClient), "Install an RDP client", "Tunnel User"},
		{errors.New("cannot tell what kind of RDP client x is"), "rdp.client", "Tunnel User"},
		{&tunnel.CloseError{Code: tunnel.CloseFailedToConnectToBackend}, "Remote Desktop is enabled", "Tunnel User"},
		{fmt.Errorf("probe: %w", tunnel.ErrNotAuthorized), "Tunnel User", "rdp.client"},
	} {
		got := launchHint(tc.err)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("launchHint(%v) = %q, want %q and not %q", tc.err, got, tc.want, tc.not)
		}
	}
}
