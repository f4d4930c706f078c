package actions

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

type lifecycleSpec struct {
	op      common.Lifecycle
	name    string
	verb    string // -ing form for messages
	keys    string
	order   int
	applies []string // the statuses it applies to
	warn    string
}

func statusIn(list ...string) []string { return list }

func appliesTo(list []string) func(projects.Instance) bool {
	return func(inst projects.Instance) bool {
		for _, s := range list {
			if inst.Status == s {
				return true
			}
		}
		return false
	}
}

func init() {
	for _, s := range []lifecycleSpec{
		{common.OpStart, "Start", "Starting", "U", 40, statusIn("TERMINATED", "STOPPED"), ""},
		{common.OpStop, "Stop", "Stopping", "D", 41, statusIn("RUNNING", "SUSPENDED"), "Open sessions and tunnels to it will drop."},
		{common.OpReset, "Reset", "Resetting", "B", 42, statusIn("RUNNING"), "This is a hard reset: unsaved data in memory is lost."},
		{common.OpSuspend, "Suspend", "Suspending", "Z", 43, statusIn("RUNNING"), "Open sessions and tunnels to it will drop."},
		{common.OpResume, "Resume", "Resuming", "E", 44, statusIn("SUSPENDED"), ""},
	} {
		s := s
		register(Action{
			ID:      "power." + string(s.op),
			Name:    s.name,
			Key:     key.NewBinding(key.WithKeys(s.keys), key.WithHelp(s.keys, lower(s.name))),
			Group:   GroupPower,
			Order:   s.order,
			Applies: appliesTo(s.applies),
			Why: func(inst projects.Instance) string {
				return fmt.Sprintf("Cannot %s %s: it is %s (%s applies to %s instances)", lower(s.name), inst.Name, inst.Status, lower(s.name), strings.Join(s.applies, " or "))
			},
			Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
				prompt := fmt.Sprintf("%s %s in %s (%s)?", s.name, inst.Name, inst.Project, inst.Zone)
				if s.warn != "" {
					prompt += "\n" + s.warn
				}
				do := lifecycleCmd(c, inst, s)
				started := func() tea.Msg {
					return common.InfoShownMsg{Text: fmt.Sprintf("%s %s…", s.verb, inst.Name)}
				}
				return func() tea.Msg {
					return common.ConfirmRequestedMsg{
						Title:  s.name + " instance",
						Prompt: prompt,
						Yes:    s.name,
						// Say at once that it started: the operation
						// returns only when Compute has finished it.
						Cmd: func() common.Msg { return tea.BatchMsg{started, do} },
					}
				}
			},
		})
	}
}

func lifecycleCmd(c *common.Common, inst projects.Instance, s lifecycleSpec) tea.Cmd {
	title := fmt.Sprintf("%s %s", s.verb, inst.Name)
	if c.Backend.Actions == nil {
		return errCmd(title, errors.New("instance operations are not available in this session"), "")
	}
	actions, ctx := c.Backend.Actions, c.Ctx
	return func() tea.Msg {
		if err := actions.Lifecycle(ctx, inst, s.op); err != nil {
			return common.ErrorRaisedMsg{Title: title, Err: err,
				Hint: "You need the Compute Instance Admin role (compute.instances." + string(s.op) + ") on the project."}
		}
		return common.LifecycleDoneMsg{Instance: inst, Op: s.op}
	}
}

func lower(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}
