package rdpdialog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/oauth2"

	"iapterm/auth"
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
// use, nothing listening on the VM's RDP port, or no permission; a
// network or sign-in failure never sends the user to the client settings.
func TestLaunchHintFitsTheError(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tunnelErr := func(err error) error {
		return fmt.Errorf("opening the tunnel to port 3389: %w", &common.RDPTunnelError{Err: err})
	}
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		// The client program: missing, unusable, or failing to start.
		{fmt.Errorf("%w: install one", rdp.ErrNoClient), "Install an RDP client", "Tunnel User"},
		{errors.New("cannot tell what kind of RDP client x is"), "rdp.client", "Tunnel User"},
		{fmt.Errorf("starting xfreerdp: %w", errors.New("permission denied")), "rdp.client", "network"},
		// IAP's answer.
		{&tunnel.CloseError{Code: tunnel.CloseFailedToConnectToBackend}, "Remote Desktop is enabled", "Tunnel User"},
		{fmt.Errorf("probe: %w", tunnel.ErrNotAuthorized), "Tunnel User", "rdp.client"},
		{&tunnel.CloseError{Code: tunnel.CloseLookupFailed}, "refresh", "rdp.client"},
		// The network on the way to the relay.
		{&common.RDPTunnelError{Err: fmt.Errorf("connecting to the IAP relay at tunnel.example: %w", dial)}, "network", "rdp.client"},
		{tunnelErr(fmt.Errorf("connecting to the IAP relay: %w", dial)), "network", "rdp.client"},
		{&common.RDPTunnelError{Err: context.DeadlineExceeded}, "network", "rdp.client"},
		{fmt.Errorf("%w after 30s", tunnel.ErrConnectTimeout), "network", "Tunnel User"},
		// Credentials: the sign-in, not the client or the network.
		{&common.RDPTunnelError{Err: &tunnel.HandshakeError{Status: 401}}, "iapterm auth login", "rdp.client"},
		{tunnelErr(fmt.Errorf("getting an access token: %w", auth.ErrNotSignedIn)), "iapterm auth login", "rdp.client"},
		{tunnelErr(fmt.Errorf("getting an access token: %w", fmt.Errorf("token expired: %w", auth.ErrSignInExpired))), "sign-in expired", "network"},
		{&common.RDPTunnelError{Err: fmt.Errorf("getting an access token: %w", &oauth2.RetrieveError{ErrorCode: "invalid_grant"})}, "sign-in expired", "rdp.client"},
		// Any other failure to open the tunnel is still the tunnel's.
		{tunnelErr(errors.New("no credentials: the tunnel dialer has no token source")), "tunnel", "rdp.client"},
	} {
		got := launchHint(tc.err)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("launchHint(%v) = %q, want %q and not %q", tc.err, got, tc.want, tc.not)
		}
	}
}

// The RDP forms fit the screen: at 60 columns the "connect as user"
// form, and at 80 the credentials result with its clipboard note, were
// wider than the screen and lost their right border.
func TestPanelsFitTheScreen(t *testing.T) {
	fits := func(name, view string, w, h int) {
		t.Helper()
		for _, l := range strings.Split(view, "\n") {
			if n := ansi.StringWidth(l); n > w {
				t.Errorf("%s: line %d wide on a %d-column screen: %q", name, n, w, ansi.Strip(l))
			}
		}
	}
	inst := projects.Instance{Name: "win-1", Project: "acme-dev", Zone: "us-east1-b", OS: projects.Windows}
	c := &common.Common{Ctx: context.Background(), Styles: common.DefaultStyles(), Now: time.Now}
	u := NewUserPanel(c, inst)
	u.SetSize(60, 20)
	u.Init()
	fits("user form", u.View(), 60, 20)

	for _, w := range []int{60, 80} {
		p := NewCredsPanel(c, inst)
		p.SetSize(w, 24)
		p.Init()
		fits("credentials form", p.View(), w, 24)
		p.step, p.username, p.password, p.copied = StepResult, "demo", "s3cr3t-Pa55word", true
		view := p.View()
		fits("credentials result", view, w, 24)
		if !strings.Contains(ansi.Strip(view), "Password: s3cr3t-Pa55word") {
			t.Errorf("the password is not shown whole:\n%s", ansi.Strip(view))
		}
	}
}
