package actions

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// DefaultPort is the port the default connection uses for inst.
func DefaultPort(inst projects.Instance) (port int, purpose string) {
	if inst.OS == projects.Windows {
		return 3389, "RDP"
	}
	return 22, "SSH"
}

func init() {
	// Until the SSH and RDP clients are wired, connecting opens the tunnel
	// the client would use and shows its address.
	register(Action{
		ID:      "connect",
		Name:    "Connect (tunnel to SSH/RDP)",
		Key:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect")),
		Group:   GroupConnect,
		Order:   10,
		Applies: running,
		Why:     notRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			port, purpose := DefaultPort(inst)
			return OpenTunnel(c, inst, port, 0, purpose)
		},
	})
}
