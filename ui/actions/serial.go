package actions

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

func init() {
	register(Action{
		ID:    "serial",
		Name:  "Serial port output",
		Key:   key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "serial output")),
		Group: GroupInspect,
		Order: 30,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return func() tea.Msg { return common.SerialRequestedMsg{Instance: inst, Port: 1} }
		},
	})
}
