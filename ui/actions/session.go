package actions

import (
	"errors"
	"sync"

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

var enableTabs sync.Once

// EnableTabs adds the SSH tab actions (n: new SSH tab, S: full screen) and
// makes enter on a running Linux VM open a tab instead of the full-screen
// session. The UI calls it when it can open sessions itself; without it the
// registry is as before (enter hands the terminal to iapterm ssh).
func EnableTabs() { enableTabs.Do(enableTabsOnce) }

func enableTabsOnce() {
	register(Action{
		ID:      "ssh.tab",
		Name:    "SSH in a tab",
		Key:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new SSH tab")),
		Group:   GroupConnect,
		Order:   13,
		Applies: linuxRunning,
		Why:     whyNotLinuxRunning,
		Run: func(_ *common.Common, inst projects.Instance) tea.Cmd {
			return func() tea.Msg { return SessionRequestedMsg{Instance: inst} }
		},
	})
	register(Action{
		ID:      "ssh.fullscreen",
		Name:    "SSH full screen",
		Key:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "SSH full screen")),
		Group:   GroupConnect,
		Order:   14,
		Applies: linuxRunning,
		Why:     whyNotLinuxRunning,
		Run:     FullScreen,
	})
	for i, a := range registry {
		if a.ID != "connect" || a.Run == nil {
			continue
		}
		prev := a.Run
		registry[i].Run = func(c *common.Common, inst projects.Instance) tea.Cmd {
			if linuxRunning(inst) {
				return func() tea.Msg { return SessionRequestedMsg{Instance: inst} }
			}
			return prev(c, inst)
		}
	}
}

// FullScreen hands the whole terminal to `iapterm ssh` for inst and comes
// back to the UI when it ends.
func FullScreen(c *common.Common, inst projects.Instance) tea.Cmd {
	if c.Backend.Self == nil {
		return errCmd("SSH to "+inst.Name, errors.New("launching programs is not available in this session"), "Press n for an SSH tab instead.")
	}
	return execSelf(c, "SSH to "+inst.Name, "ssh", inst.Name, "--project", inst.Project, "--zone", inst.Zone)
}
