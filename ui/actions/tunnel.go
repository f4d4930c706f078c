package actions

import (
	"errors"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
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
			return common.ErrorRaisedMsg{Title: title, Err: err, Hint: tunnelHint(remote)}
		}
		return common.TunnelOpenedMsg{Info: info, Purpose: purpose}
	}
}

func tunnelHint(port int) string {
	return fmt.Sprintf("Check that you have the IAP-secured Tunnel User role on the instance and that a firewall rule allows TCP %d from 35.235.240.0/20.", port)
}
