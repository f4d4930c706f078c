package actions

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// DefaultPort is the port the default connection uses for inst.
func DefaultPort(inst projects.Instance) (port int, purpose string) {
	if inst.OS == projects.Windows {
		return 3389, "RDP"
	}
	return 22, "SSH"
}

func isLinux(inst projects.Instance) bool { return inst.OS != projects.Windows }

func init() {
	// enter: SSH for Linux, in a tab when the UI has tabs (session.go),
	// else in this terminal through `iapterm ssh` (which publishes the key
	// and checks the host key); for Windows the RDP client, started
	// detached (rdp.go); when the UI can do neither, the tunnel an RDP or
	// SSH client would use, with its address.
	register(Action{
		ID:      "connect",
		Name:    "Connect",
		Key:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "connect")),
		Group:   GroupConnect,
		Order:   10,
		Applies: running,
		Why:     notRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			if c.SSHTabs && linuxRunning(inst) {
				return requestSession(inst)
			}
			if isLinux(inst) && c.Backend.Self != nil {
				return execSelf(c, "SSH to "+inst.Name, "ssh", inst.Name, "--project", inst.Project, "--zone", inst.Zone)
			}
			if cmd, ok := launchRDP(c, inst); ok {
				return cmd
			}
			port, purpose := DefaultPort(inst)
			return OpenTunnel(c, inst, port, 0, purpose)
		},
	})
	register(Action{
		ID:      "tunnel.default",
		Name:    "Tunnel to SSH/RDP port",
		Key:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "tunnel to port 22/3389")),
		Group:   GroupConnect,
		Order:   11,
		Applies: running,
		Why:     notRunning,
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			port, purpose := DefaultPort(inst)
			return OpenTunnel(c, inst, port, 0, purpose)
		},
	})
	register(Action{
		ID:    "rdp",
		Name:  "Launch RDP client",
		Key:   key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "launch RDP client")),
		Group: GroupConnect,
		Order: 12,
		Applies: func(inst projects.Instance) bool {
			return running(inst) && inst.OS == projects.Windows
		},
		Why: func(inst projects.Instance) string {
			if inst.OS != projects.Windows {
				return inst.Name + " is not a Windows VM"
			}
			return notRunning(inst)
		},
		Run: func(c *common.Common, inst projects.Instance) tea.Cmd {
			if cmd, ok := launchRDP(c, inst); ok {
				return cmd
			}
			if c.Backend.Self == nil {
				return errCmd("RDP to "+inst.Name, errors.New("launching programs is not available in this session"), "Press c for a tunnel to port 3389 and point your RDP client at it.")
			}
			return execSelf(c, "RDP to "+inst.Name, "rdp", inst.Name, "--project", inst.Project, "--zone", inst.Zone)
		},
	})
}

// SessionEndedMsg reports that a program the UI handed the terminal to
// has exited.
type SessionEndedMsg struct{ Title string }

// execSelf hands the terminal to `iapterm ARGS...` and comes back when it
// exits; a failure is shown with the last lines it wrote to stderr, which
// the redrawn UI would otherwise hide.
func execSelf(c *common.Common, title string, args ...string) tea.Cmd {
	cmd := c.Backend.Self(args...)
	tail := &tailBuffer{max: 4096}
	return tea.Exec(&teeStderr{Cmd: cmd, tail: tail}, func(err error) tea.Msg {
		if err == nil {
			return SessionEndedMsg{Title: title}
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("iapterm %s exited with status %d", args[0], ee.ExitCode())
		}
		return common.ErrorRaisedMsg{Title: title, Err: err, Hint: tail.String()}
	})
}

// teeStderr is an exec.Cmd whose stderr also goes to a bounded buffer.
type teeStderr struct {
	*exec.Cmd
	tail *tailBuffer
}

func (t *teeStderr) SetStdin(r io.Reader) {
	if t.Stdin == nil {
		t.Stdin = r
	}
}

func (t *teeStderr) SetStdout(w io.Writer) {
	if t.Stdout == nil {
		t.Stdout = w
	}
}

func (t *teeStderr) SetStderr(w io.Writer) {
	if t.Stderr == nil {
		t.Stderr = io.MultiWriter(w, t.tail)
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, "\n")
}
