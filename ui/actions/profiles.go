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
	return panel.Open(profileslist.New(&cc, c.Backend.Config.LoadConfig, connect, inst, create))
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
