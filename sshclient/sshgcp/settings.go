package sshgcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/tunnel"
)

// Values reads resolved settings by key ("ssh.user", ...). The settings
// file's resolution for one instance (profiles.Effective) implements it.
type Values interface {
	String(key string) string
	Int(key string) int
	Bool(key string) bool
	Duration(key string) time.Duration
}

// Transports of the ssh.transport setting.
const (
	TransportIAP    = "iap"    // through an IAP TCP forwarding tunnel
	TransportDirect = "direct" // to the internal IP (VPN, Interconnect)
)

// Settings are the ssh.* settings for one VM: everything that decides how
// iapterm connects to it. The CLI and the TUI's SSH tabs both read them
// with ReadSettings and apply them with Configure, so a VM is reached the
// same way from either. Settings is comparable: connections made with
// equal Settings are interchangeable and may be shared.
type Settings struct {
	// User is the login name for metadata keys ("" derives it from the
	// email; OS Login decides its own).
	User string
	// Port is the SSH port on the VM (22 when 0).
	Port int
	// KeyType picks iapterm's key from the key store.
	KeyType sshclient.KeyType
	// Validity is how long a published key stays valid (0: 30 days).
	Validity time.Duration
	// Publish is auto, oslogin or metadata.
	Publish string
	// Agent also offers the keys of the ssh-agent at SSH_AUTH_SOCK.
	Agent bool
	// ConnectTimeout bounds opening the tunnel and, separately, the SSH
	// handshake (0: their defaults).
	ConnectTimeout time.Duration
	// Transport is TransportIAP or TransportDirect ("" is IAP).
	Transport string
}

// ReadSettings reads the ssh.* settings from v and checks them.
func ReadSettings(v Values) (Settings, error) {
	s := Settings{
		User:           v.String("ssh.user"),
		Port:           v.Int("ssh.port"),
		Validity:       v.Duration("ssh.key_validity"),
		Publish:        v.String("ssh.publish"),
		Agent:          v.Bool("ssh.agent"),
		ConnectTimeout: v.Duration("ssh.connect_timeout"),
		Transport:      v.String("ssh.transport"),
	}
	kt, err := sshclient.ParseKeyType(v.String("ssh.key_type"))
	if err != nil {
		return s, fmt.Errorf("ssh.key_type: %w", err)
	}
	s.KeyType = kt
	return s, s.Check()
}

// Check fills in defaults (port 22, Ed25519, auto, IAP) and rejects values
// no connection can use; call it after changing fields (command-line
// flags over the settings file).
func (s *Settings) Check() error {
	if s.Port == 0 {
		s.Port = 22
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("SSH port %d is not a TCP port: set ssh.port (or --port) to 1-65535", s.Port)
	}
	if s.KeyType == "" {
		s.KeyType = sshclient.DefaultKeyType
	}
	if _, err := sshclient.ParseKeyType(string(s.KeyType)); err != nil {
		return err
	}
	switch s.Publish {
	case "":
		s.Publish = "auto"
	case "auto", "oslogin", "metadata":
	default:
		return fmt.Errorf("unknown publish mode %q: use auto, oslogin or metadata", s.Publish)
	}
	switch s.Transport {
	case "":
		s.Transport = TransportIAP
	case TransportIAP, TransportDirect:
	default:
		return fmt.Errorf("unknown ssh.transport %q: use iap or direct", s.Transport)
	}
	if s.Validity < 0 || s.ConnectTimeout < 0 {
		return errors.New("ssh.key_validity and ssh.connect_timeout cannot be negative")
	}
	return nil
}

// Target is the sshclient target for inst on the configured port.
func (s Settings) Target(inst *projects.Instance) sshclient.Target { return Target(inst, s.Port) }

// Configure sets on c (a Connector from this package, with Dialer set)
// what s decides: the key (of s.KeyType, which the caller loaded), login
// name, publication mode and validity, ssh-agent, timeouts and transport.
// Email, KnownHosts, Prompter and Progress stay the caller's.
func (s Settings) Configure(c *sshclient.Connector, key *sshclient.Key) {
	c.Key = key
	c.User = s.User
	c.Options.Validity = s.Validity
	c.Options.Mode = s.Publish
	c.HandshakeTimeout = s.ConnectTimeout
	c.AgentSigners = nil
	if s.Agent {
		c.AgentSigners = sshclient.AgentSigners
	}
	if s.Transport == TransportDirect {
		c.Dialer = DirectDialer(s.ConnectTimeout)
	} else if s.ConnectTimeout > 0 {
		c.Dialer = timeoutDialer(c.Dialer, s.ConnectTimeout)
	}
}

// DirectDialer dials the VM's internal IP on its SSH port, without IAP
// (timeout 0: the system's).
func DirectDialer(timeout time.Duration) sshclient.Dialer {
	return sshclient.DialerFunc(func(ctx context.Context, t sshclient.Target) (net.Conn, error) {
		if t.InternalIP == "" {
			return nil, fmt.Errorf("ssh.transport is direct but %s has no internal IP: set ssh.transport = \"iap\"", t.Instance)
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.InternalIP, strconv.Itoa(t.SSHPort())))
		if err != nil {
			return nil, fmt.Errorf("ssh.transport is direct: %w (is the VPN or Interconnect up?)", err)
		}
		return conn, nil
	})
}

// timeoutDialer bounds opening the tunnel. The relay session does not
// depend on the dial context once open, so cancelling it afterwards is
// harmless.
func timeoutDialer(d sshclient.Dialer, timeout time.Duration) sshclient.Dialer {
	return sshclient.DialerFunc(func(ctx context.Context, t sshclient.Target) (net.Conn, error) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		conn, err := d.DialSSH(cctx, t)
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: no tunnel to %s within %v (ssh.connect_timeout)", tunnel.ErrConnectTimeout, t.Instance, timeout)
		}
		return conn, err
	})
}
