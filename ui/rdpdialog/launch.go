// Package rdpdialog is the TUI side of RDP: launching the user's RDP client
// detached from the UI (the explorer stays usable while it runs), the
// "Connect as user..." form and the "Generate Windows credentials..." flow.
// The dialogs are panels (ui/panel), so the root shows them without
// knowing them; the root only handles StartedMsg and EndedMsg.
package rdpdialog

import (
	"context"
	"errors"
	"fmt"
	"net"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/oauth2"

	"iapterm/auth"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

// StartedMsg reports a client started on its tunnel. The root refreshes
// the tunnel markers and runs Wait, which reports the exit.
type StartedMsg struct {
	Instance projects.Instance
	Session  common.RDPSession
}

// Text is the status line for the start.
func (m StartedMsg) Text() string {
	text := fmt.Sprintf("RDP to %s: %s started on %s (pid %d); the tunnel stays open until it exits", m.Instance.Name, m.Session.Client, m.Session.Addr, m.Session.PID)
	if m.Session.Note != "" {
		text += "; " + m.Session.Note
	}
	return text
}

// Wait returns the command that reports the client's exit with EndedMsg.
func (m StartedMsg) Wait() tea.Cmd {
	s, inst := m.Session, m.Instance
	return func() tea.Msg {
		<-s.Done
		var err error
		if s.Err != nil {
			err = s.Err()
		}
		return EndedMsg{Instance: inst, Client: s.Client, Err: err}
	}
}

// EndedMsg reports that a client exited and its tunnel was released.
type EndedMsg struct {
	Instance projects.Instance
	Client   string
	Err      error
}

// Text is the status line for the exit.
func (m EndedMsg) Text() string {
	if m.Err != nil {
		return fmt.Sprintf("RDP to %s ended: %v", m.Instance.Name, m.Err)
	}
	return fmt.Sprintf("RDP to %s ended: the client exited and the tunnel was released", m.Instance.Name)
}

// Launch returns the command that starts the RDP client for inst without
// blocking the UI: the session lives on the UI's context (c.Ctx), not on
// the key press.
func Launch(c *common.Common, inst projects.Instance, req common.RDPRequest) tea.Cmd {
	title := "RDP to " + inst.Name
	b := c.Backend.RDP
	if b == nil {
		return raise(title, errors.New("launching an RDP client is not available in this session"), "Press c for a tunnel to port 3389 and point your RDP client at it.")
	}
	ctx := c.Ctx
	return func() tea.Msg {
		sess, err := b.Launch(ctx, inst, req)
		if err != nil {
			return common.ErrorRaisedMsg{Title: title, Err: err, Hint: launchHint(err)}
		}
		return StartedMsg{Instance: inst, Session: sess}
	}
}

// launchHint says what to do about a failed launch, by where it failed:
// the RDP client program, the sign-in (credentials), IAP's answer, or the
// way to the relay (network). Only errors known to be the client's or
// the settings' send the user to the rdp.* settings.
func launchHint(err error) string {
	var (
		closeErr *tunnel.CloseError
		retrieve *oauth2.RetrieveError
		netErr   net.Error
		tunErr   *common.RDPTunnelError
	)
	switch {
	case errors.Is(err, rdp.ErrNoClient):
		return "Install an RDP client (the message says which for this system), set rdp.client in the settings (s), or set " + rdp.EnvClient + "."
	case errors.Is(err, auth.ErrNotSignedIn):
		return "Sign in with `iapterm auth login` (or set IAPTERM_ACCESS_TOKEN), then connect again."
	case errors.Is(err, auth.ErrSignInExpired), errors.Is(err, tunnel.ErrTokenRejected), errors.As(err, &retrieve):
		return "Your sign-in expired or was rejected: run `iapterm auth login` (or supply a fresh IAPTERM_ACCESS_TOKEN), then connect again. The RDP client was not started."
	case errors.Is(err, tunnel.ErrBackendUnreachable):
		return "IAP let you in but found nothing answering on the VM's RDP port: wait for Windows to finish booting, check that Remote Desktop is enabled on the VM, and that a firewall rule allows the port from 35.235.240.0/20; press d to diagnose."
	case errors.Is(err, tunnel.ErrNotAuthorized):
		return "Ask for the IAP-secured Tunnel User role on the instance (or its project); press d to diagnose."
	case errors.Is(err, tunnel.ErrInstanceNotFound):
		return "IAP does not know this VM: it may have been deleted or recreated; press r to refresh the list."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, tunnel.ErrConnectTimeout), errors.Is(err, tunnel.ErrSessionLost),
		errors.Is(err, tunnel.ErrProtocol), errors.As(err, &closeErr), errors.As(err, &netErr):
		return "The tunnel to the VM could not be opened (the RDP client was not at fault): check the network and any proxy in HTTPS_PROXY, then try again; press d to diagnose."
	case errors.As(err, &tunErr):
		return "Opening the tunnel to the VM's RDP port failed (the RDP client was not started); press d to diagnose."
	}
	// Not the tunnel: the client or the settings.
	return "Check the rdp.* settings (s) and the client named by rdp.client or " + rdp.EnvClient + " (its name must contain freerdp, remmina or mstsc)."
}

func raise(title string, err error, hint string) tea.Cmd {
	return func() tea.Msg { return common.ErrorRaisedMsg{Title: title, Err: err, Hint: hint} }
}
