package common

import (
	"iapterm/projects"
)

// Messages are named noun+verb; the root routes them to their owner.

// ErrorRaisedMsg shows an error in the dismissible error panel.
type ErrorRaisedMsg struct {
	Title string // what was being done, e.g. "Starting web-1"
	Err   error
	Hint  string // what the user can do next, when known
}

// InfoShownMsg puts a short message in the status bar.
type InfoShownMsg struct{ Text string }

// ConfirmRequestedMsg asks the user before running Cmd.
type ConfirmRequestedMsg struct {
	Title  string
	Prompt string
	Yes    string // label of the confirming button, e.g. "Stop"
	Cmd    func() Msg
}

// Msg mirrors tea.Msg without importing it here.
type Msg = any

// PortDialogRequestedMsg opens the "tunnel to port" dialog for Instance.
type PortDialogRequestedMsg struct{ Instance projects.Instance }

// SerialRequestedMsg opens the serial port viewer.
type SerialRequestedMsg struct {
	Instance projects.Instance
	Port     int
}

// ClipboardCopiedMsg asks the root to put Text on the clipboard (OSC 52) and
// show it, since not every terminal honours OSC 52.
type ClipboardCopiedMsg struct {
	Label string
	Text  string
}

// TunnelOpenedMsg reports a tunnel ready for use.
type TunnelOpenedMsg struct {
	Info    TunnelInfo
	Purpose string // "SSH", "RDP" or ""
}

// LifecycleDoneMsg reports a start/stop/... request.
type LifecycleDoneMsg struct {
	Instance projects.Instance
	Op       Lifecycle
}

// RefreshRequestedMsg asks for a reload of some projects (nil: all).
type RefreshRequestedMsg struct{ Projects []string }
