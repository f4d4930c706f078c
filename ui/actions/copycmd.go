package actions

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// CommandLines are the shell commands that reach inst from outside iapterm.
type CommandLines struct {
	GcloudTunnel, GcloudSSH, IaptermTunnel, IaptermSSH string
}

// Commands returns the command lines for inst; localPort 0 lets the tool
// choose.
func Commands(inst projects.Instance, localPort int) CommandLines {
	port, _ := DefaultPort(inst)
	where := fmt.Sprintf("--project=%s --zone=%s", quote(inst.Project), quote(inst.Zone))
	local := "localhost:0"
	if localPort > 0 {
		local = fmt.Sprintf("localhost:%d", localPort)
	}
	return CommandLines{
		GcloudTunnel:  fmt.Sprintf("gcloud compute start-iap-tunnel %s %d --local-host-port=%s %s", quote(inst.Name), port, local, where),
		GcloudSSH:     fmt.Sprintf("gcloud compute ssh %s --tunnel-through-iap %s", quote(inst.Name), where),
		IaptermTunnel: fmt.Sprintf("iapterm tunnel %s %d %s", quote(inst.Name), port, where),
		IaptermSSH:    fmt.Sprintf("iapterm ssh %s %s", quote(inst.Name), where),
	}
}

// quote makes s safe for a POSIX shell when it needs it.
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func copyCmd(label, text string) tea.Cmd {
	return func() tea.Msg { return common.ClipboardCopiedMsg{Label: label, Text: text} }
}

func init() {
	register(Action{
		ID:    "copy.iapterm",
		Name:  "Copy iapterm command",
		Key:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy iapterm command")),
		Group: GroupCopy,
		Order: 50,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			cl := Commands(inst, 0)
			if inst.OS == projects.Windows {
				return copyCmd("iapterm tunnel command", cl.IaptermTunnel)
			}
			return copyCmd("iapterm ssh command", cl.IaptermSSH)
		},
	})
	register(Action{
		ID:    "copy.gcloud",
		Name:  "Copy gcloud command",
		Key:   key.NewBinding(key.WithKeys("Y"), key.WithHelp("Y", "copy gcloud command")),
		Group: GroupCopy,
		Order: 51,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			cl := Commands(inst, 0)
			if inst.OS == projects.Windows {
				return copyCmd("gcloud start-iap-tunnel command", cl.GcloudTunnel)
			}
			return copyCmd("gcloud ssh command", cl.GcloudSSH)
		},
	})
	register(Action{
		ID:    "copy.gcloud-tunnel",
		Name:  "Copy gcloud start-iap-tunnel",
		Group: GroupCopy,
		Order: 52,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return copyCmd("gcloud start-iap-tunnel command", Commands(inst, 0).GcloudTunnel)
		},
	})
	register(Action{
		ID:    "copy.iapterm-tunnel",
		Name:  "Copy iapterm tunnel",
		Group: GroupCopy,
		Order: 53,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			return copyCmd("iapterm tunnel command", Commands(inst, 0).IaptermTunnel)
		},
	})
}
