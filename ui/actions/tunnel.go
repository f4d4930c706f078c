package actions

import (
	"context"
	"errors"
	"fmt"
	"net"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/auth"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

func init() {
	register(Action{
		ID:      "tunnel.port",
		Name:    "Tunnel to port…",
		Key:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "tunnel to port…")),
		Group:   GroupConnect,
		Order:   20,
		Applies: running,
		Why:     notRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return func() tea.Msg { return common.PortDialogRequestedMsg{Instance: inst} }
		},
	})
}

// OpenTunnel returns a command that opens (or reuses) a pooled tunnel to
// inst:remote on localPort (0: any) and reports it with TunnelOpenedMsg.
func OpenTunnel(c *common.Common, inst projects.Instance, remote, localPort int, purpose string) tea.Cmd {
	pool := c.Backend.Tunnels
	title := fmt.Sprintf("Opening a tunnel to %s port %d", inst.Name, remote)
	if pool == nil {
		return errCmd(title, errors.New("tunnels are not available in this session"), "")
	}
	ctx := c.Ctx
	return func() tea.Msg {
		info, err := pool.Open(ctx, common.TunnelTarget{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Port: remote}, localPort)
		if err != nil {
			return common.ErrorRaisedMsg{Title: title, Err: err, Hint: tunnelHint(remote, err)}
		}
		return common.TunnelOpenedMsg{Info: info, Purpose: purpose}
	}
}

// tunnelHint says what to do about a tunnel that did not open, by what
// failed: the local port, the sign-in, IAP's answer or the network.
func tunnelHint(port int, err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, tunnel.ErrPortNotAvailable):
		return "Another program uses that local port: choose another one, or leave the local port empty for any free port."
	case errors.Is(err, auth.ErrNotSignedIn):
		return "Sign in with `iapterm auth login` (or set IAPTERM_ACCESS_TOKEN), then try again."
	case errors.Is(err, auth.ErrSignInExpired), errors.Is(err, tunnel.ErrTokenRejected):
		return "Your sign-in expired or was rejected: run `iapterm auth login` (or supply a fresh IAPTERM_ACCESS_TOKEN), then try again."
	case errors.Is(err, tunnel.ErrBackendUnreachable):
		return fmt.Sprintf("IAP let you in but nothing answered on port %d of the VM: check that a program listens on it and that a firewall rule allows TCP %d from 35.235.240.0/20; press d to diagnose.", port, port)
	case errors.Is(err, tunnel.ErrNotAuthorized):
		return "Ask for the IAP-secured Tunnel User role on the instance (or its project), or for a condition on it that allows this port; press d to diagnose."
	case errors.Is(err, tunnel.ErrInstanceNotFound):
		return "IAP does not know this VM: it may have been deleted or recreated; press r to refresh the list."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, tunnel.ErrConnectTimeout), errors.As(err, &netErr):
		return "The relay could not be reached: check the network and any proxy in HTTPS_PROXY, then try again; press d to diagnose."
	}
	return fmt.Sprintf("Check that you have the IAP-secured Tunnel User role on the instance and that a firewall rule allows TCP %d from 35.235.240.0/20.", port)
}
