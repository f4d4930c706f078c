package actions

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
	"iapterm/ui/diagnose"
	"iapterm/ui/panel"
)

func init() {
	// Diagnose applies to stopped VMs too: the doctor says so and offers
	// to start them.
	register(Action{
		ID:    "diagnose",
		Name:  "Diagnose connection…",
		Key:   key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "diagnose (doctor)")),
		Group: GroupInspect,
		Order: 31,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			if c.Backend.Doctor == nil {
				return errCmd("Diagnose "+inst.Name, errors.New("the doctor is not available in this session"),
					"Run iapterm doctor "+inst.Name+" --project "+inst.Project+" --zone "+inst.Zone+" in a shell.")
			}
			cc := *c
			return panel.Open(diagnose.New(&cc, c.Backend.Doctor, inst))
		},
	})
}
