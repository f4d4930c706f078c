package actions

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/panel"
	"iapterm/ui/settings"
)

// Node is the explorer's selection when it may be something other than an
// instance: a project (Zone empty), a zone, an instance, or nothing (all
// empty: global settings).
type Node struct {
	Project, Zone string
	Instance      *projects.Instance
}

// Keys that work on any node, not only on instances; the root offers them
// to MatchNode before the instance actions.
var (
	SettingsKey = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "settings (any node)"))
	ProfilesKey = key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "profiles"))
)

// MatchNode runs the node-wide action whose key is msg.
func MatchNode(c *common.Common, msg tea.KeyPressMsg, n Node) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, SettingsKey):
		return OpenSettings(c, n), true
	case key.Matches(msg, ProfilesKey):
		return OpenProfiles(c, n.Instance, false), true
	}
	return nil, false
}

// OpenSettings opens the settings view of n.
func OpenSettings(c *common.Common, n Node) tea.Cmd {
	if c.Backend.Config == nil {
		return errCmd("Settings", errors.New("the settings file is not available in this session"), "Use iapterm config show/set in a shell.")
	}
	node := profiles.Node{Project: n.Project, Zone: n.Zone}
	var labels map[string]string
	if n.Instance != nil {
		node = profiles.Node{Project: n.Instance.Project, Zone: n.Instance.Zone, Instance: n.Instance.Name}
		labels = n.Instance.Labels
	}
	cc := *c
	return panel.Open(settings.New(&cc, c.Backend.Config.LoadConfig, node, labels))
}

func init() {
	register(Action{
		ID:    "settings",
		Name:  "Settings…",
		Key:   SettingsKey,
		Group: GroupInspect,
		Order: 32,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return OpenSettings(c, Node{Project: inst.Project, Zone: inst.Zone, Instance: &inst})
		},
	})
}
