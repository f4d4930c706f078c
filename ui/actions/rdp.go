package actions

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/rdpdialog"
)

func windowsRunning(inst projects.Instance) bool {
	return running(inst) && inst.OS == projects.Windows
}

func whyNotWindowsRunning(inst projects.Instance) string {
	if inst.OS != projects.Windows {
		return inst.Name + " is not a Windows VM"
	}
	return notRunning(inst)
}

// launchRDP starts the RDP client for inst detached from the UI when the
// backend can; ok is false when it cannot (the caller falls back).
func launchRDP(c *common.Common, inst projects.Instance) (tea.Cmd, bool) {
	if c.Backend.RDP == nil || !windowsRunning(inst) {
		return nil, false
	}
	return rdpdialog.Launch(c, inst, common.RDPRequest{}), true
}

func init() {
	register(Action{
		ID:      "rdp.user",
		Name:    "Connect as user…",
		Key:     key.NewBinding(key.WithKeys("V"), key.WithHelp("V", "RDP as user…")),
		Group:   GroupConnect,
		Order:   15,
		Applies: windowsRunning,
		Why:     whyNotWindowsRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			if c.Backend.RDP == nil {
				return errCmd("RDP to "+inst.Name, errNoRDP, "Press c for a tunnel to port 3389 and point your RDP client at it.")
			}
			return panel.Open(rdpdialog.NewUserPanel(c, inst))
		},
	})
	register(Action{
		ID:      "rdp.credentials",
		Name:    "Generate Windows credentials…",
		Key:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "Windows credentials…")),
		Group:   GroupConnect,
		Order:   16,
		Applies: windowsRunning,
		Why:     whyNotWindowsRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			if c.Backend.RDP == nil {
				return errCmd("Windows credentials for "+inst.Name, errNoRDP, "Run iapterm windows-credentials "+inst.Name+" --project "+inst.Project+" --zone "+inst.Zone+" --user USER in a shell.")
			}
			return panel.Open(rdpdialog.NewCredsPanel(c, inst))
		},
	})
}

var errNoRDP = errors.New("RDP is not available in this session")
