package actions

import (
	"errors"

	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/profileslist"
)

// OpenProfiles opens the saved profiles; inst (may be nil) is the selected
// instance, for a new profile; create opens the new-profile form at once.
func OpenProfiles(c *common.Common, inst *projects.Instance, create bool) tea.Cmd {
	if c.Backend.Config == nil {
		return errCmd("Profiles", errors.New("the settings file is not available in this session"), "Run iapterm connect NAME in a shell.")
	}
	var connect profileslist.Connector
	if c.Backend.Self != nil {
		connect = func(name string) tea.Cmd { return ConnectProfile(c, name) }
	}
	cc := *c
	m := profileslist.New(&cc, c.Backend.Config.LoadConfig, connect, inst, create)
	if port := lastTunnelPort(c, inst); port > 0 {
		m.SuggestTunnel(port)
	}
	return panel.Open(m)
}

// lastTunnelPort is the remote port of the newest tunnel open to inst, other
// than the SSH or RDP port (those have their own protocol), or 0.
func lastTunnelPort(c *common.Common, inst *projects.Instance) int {
	if inst == nil || c.Backend.Tunnels == nil {
		return 0
	}
	def, _ := DefaultPort(*inst)
	port := 0
	var newest common.TunnelInfo
	for _, t := range c.Backend.Tunnels.List() {
		tg := t.Target
		if tg.Project != inst.Project || tg.Zone != inst.Zone || tg.Instance != inst.Name || tg.Port == def {
			continue
		}
		if port == 0 || t.Opened.After(newest.Opened) {
			port, newest = tg.Port, t
		}
	}
	return port
}

// ConnectProfile hands the terminal to `iapterm connect NAME` (SSH, RDP, a
// tunnel until Ctrl-C, or a client application) and comes back when it ends.
func ConnectProfile(c *common.Common, name string) tea.Cmd {
	return execSelf(c, "Profile "+name, "connect", name)
}

func init() {
	// One menu entry: the list offers "n" to save a profile for the
	// instance (the menu must fit 24 lines).
	register(Action{
		ID:    "profiles",
		Name:  "Profiles…",
		Key:   ProfilesKey,
		Group: GroupConnect,
		Order: 25,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return OpenProfiles(c, &inst, false)
		},
	})
}
