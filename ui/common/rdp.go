package common

import (
	"context"

	"iapterm/projects"
)

// RDPRequest is one launch of the user's RDP client.
type RDPRequest struct {
	// Username and Domain override the rdp.user and rdp.domain settings
	// ("" keeps them).
	Username, Domain string
	// Password is handed to the client when it can take one safely
	// (FreeRDP, on stdin); "" uses the one saved in the OS keyring, if any.
	Password string
}

// RDPSession is a launched client; the tunnel it uses stays open until
// the client exits.
type RDPSession struct {
	Client string // e.g. "xfreerdp 2.11.7 (FreeRDP 2)"
	Addr   string // the local tunnel address the client was given
	PID    int
	// LogPath holds the client's output.
	LogPath string
	// Note is what the user should know about the logon (no password
	// given, or the client asks for it), "" when nothing.
	Note string
	// Done is closed when the client has exited and its tunnel is released.
	Done <-chan struct{}
	// Err is the exit error, valid once Done is closed (nil on a normal
	// exit or disconnect).
	Err func() error
}

// RDPLauncher starts the user's RDP client on a tunnel, detached from the
// UI, and generates Windows credentials through the guest agent.
type RDPLauncher interface {
	// Launch opens (or shares) the tunnel to the VM's RDP port and starts
	// the client; it returns once the client runs. Cancelling ctx stops
	// the client, so it must live as long as the session may.
	Launch(ctx context.Context, inst projects.Instance, req RDPRequest) (RDPSession, error)
	// DefaultUser is the username and domain to offer for inst: the
	// rdp.user/rdp.domain settings, else one derived from the account.
	DefaultUser(inst projects.Instance) (user, domain string)
	// GenerateCredentials creates the Windows account or resets its
	// password; progress receives short step descriptions.
	GenerateCredentials(ctx context.Context, inst projects.Instance, user string, admin bool, progress func(string)) (password string, err error)
	// SavePassword stores the password in the OS keyring.
	SavePassword(inst projects.Instance, user, password string) error
}

// RDPTunnelError marks an RDP launch error that came from opening the
// tunnel (the sign-in, the network, IAP) rather than from the client
// program or the rdp.* settings. Its message is the wrapped error's.
type RDPTunnelError struct{ Err error }

func (e *RDPTunnelError) Error() string { return e.Err.Error() }
func (e *RDPTunnelError) Unwrap() error { return e.Err }
