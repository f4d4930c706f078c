package actions

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// SessionRequestedMsg asks the root to open an SSH tab to Instance.
type SessionRequestedMsg struct{ Instance projects.Instance }

func linuxRunning(inst projects.Instance) bool { return running(inst) && isLinux(inst) }

func whyNotLinuxRunning(inst projects.Instance) string {
	if !isLinux(inst) {
		return inst.Name + " is a Windows VM: press v for RDP"
	}
	return notRunning(inst)
}

// tabsAvailable: the SSH tab actions exist only in a UI that opens tabs.
func tabsAvailable(c *common.Common) bool { return c.SSHTabs }

func init() {
	// n opens a tab, S hands the terminal to iapterm ssh; enter on a running
	// Linux VM opens a tab too when tabs are available (ssh.go).
	register(Action{
		ID:        "ssh.tab",
		Name:      "SSH in a tab",
		Key:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new SSH tab")),
		Group:     GroupConnect,
		Order:     13,
		Available: tabsAvailable,
		Applies:   linuxRunning,
		Why:       whyNotLinuxRunning,
		Run: func(_ *common.Common, inst projects.Instance) tea.Cmd {
			return requestSession(inst)
		},
	})
	register(Action{
		ID:        "ssh.fullscreen",
		Name:      "SSH full screen",
		Key:       key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "SSH full screen")),
		Group:     GroupConnect,
		Order:     14,
		Available: tabsAvailable,
		Applies:   linuxRunning,
		Why:       whyNotLinuxRunning,
		Run:       FullScreen,
	})
}

func requestSession(inst projects.Instance) tea.Cmd {
	return func() tea.Msg { return SessionRequestedMsg{Instance: inst} }
}

// FullScreen hands the whole terminal to `iapterm ssh` for inst and comes
// back to the UI when it ends.
func FullScreen(c *common.Common, inst projects.Instance) tea.Cmd {
	if c.Backend.Self == nil {
		return errCmd("SSH to "+inst.Name, errors.New("launching programs is not available in this session"), "Press n for an SSH tab instead.")
	}
	return execSelf(c, "SSH to "+inst.Name, "ssh", inst.Name, "--project", inst.Project, "--zone", inst.Zone)
}
