package sshclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// Dialer opens a byte stream to a VM's SSH port, normally an IAP tunnel.
type Dialer interface {
	DialSSH(ctx context.Context, t Target) (net.Conn, error)
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, t Target) (net.Conn, error)

// DialSSH calls f.
func (f DialerFunc) DialSSH(ctx context.Context, t Target) (net.Conn, error) { return f(ctx, t) }

// HostKeySource returns the host keys a VM's guest agent published (guest
// attributes under hostkeys/), in authorized_keys form ("TYPE BASE64"). No
// keys and a nil error means none were published.
type HostKeySource interface {
	GuestHostKeys(ctx context.Context, project, zone, name string) ([]string, error)
}

// Prompter asks the user for answers during authentication. The CLI asks
// on the terminal; the TUI shows a dialog.
type Prompter interface {
	// KeyboardInteractive answers the server's questions (OS Login 2-step
	// verification, PAM); echo[i] false means the answer is secret.
	KeyboardInteractive(ctx context.Context, user, instruction string, questions []string, echo []bool) ([]string, error)
	// Password asks for user's password.
	Password(ctx context.Context, user string) (string, error)
}

// Step is a stage of Connect, reported to Progress.
type Step string

const (
	StepPublishing   Step = "publishing key"
	StepWaitingAgent Step = "waiting for the guest agent"
	StepTunnel       Step = "opening tunnel"
	StepAuth         Step = "authenticating"
	StepConnected    Step = "connected"
)

// Connector connects to VMs: it publishes the key, opens the tunnel,
// verifies the host key and authenticates, retrying while the guest agent
// catches up with a newly published key.
type Connector struct {
	Dialer    Dialer
	Key       *Key
	Publisher *Publisher    // nil: the key is not published (static keys)
	HostKeys  HostKeySource // optional: guest attributes
	// KnownHosts records host keys by instance ID (trust on first use when
	// the guest agent published none). Required.
	KnownHosts *KnownHosts
	// AgentSigners, when set, adds the keys of an ssh-agent to public key
	// authentication (after Key).
	AgentSigners func() ([]ssh.Signer, error)
	Prompter     Prompter // nil: keyboard-interactive and password are not offered
	Progress     func(t Target, s Step)
	Options      PublishOptions
	// User overrides the login name for metadata keys (OS Login decides
	// its own) and is the name used when nothing is published.
	User string
	// AgentWait is how long to keep retrying authentication after a key
	// was published (90 s when 0).
	AgentWait time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests (5 s
	// when 0; negative disables); the connection is closed after
	// KeepAliveMax (3 when 0) unanswered ones in a row.
	KeepAlive    time.Duration
	KeepAliveMax int
	// HandshakeTimeout bounds one SSH handshake (30 s when 0).
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

// Client is an authenticated SSH connection to a VM.
type Client struct {
	Target      Target
	User        string
	Publication Publication
	ssh         *ssh.Client
	closeOnce   sync.Once
	done        chan struct{}
	err         error
}

// SSH exposes the underlying x/crypto client (port forwarding, custom
// channels).
func (c *Client) SSH() *ssh.Client { return c.ssh }

// Close closes the connection and the tunnel under it.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.ssh.Close() })
	return err
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, after Done is closed.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// errKeyNotYetAccepted aborts an attempt whose public key was refused while
// the guest agent may still be catching up.
var errKeyNotYetAccepted = errors.New("public key not accepted yet")

// AuthError is returned when the VM refused to let the user in.
type AuthError struct {
	Target      Target
	User        string
	Publication Publication
	Err         error
}

func (e *AuthError) Error() string {
	var hint string
	switch e.Publication.Method {
	case MethodOSLogin:
		hint = "The VM uses OS Login: you need roles/compute.osLogin (or roles/compute.osAdminLogin for sudo) on the project or VM, and roles/iam.serviceAccountUser if the VM runs as a service account."
	case MethodProjectMetadata, MethodInstanceMetadata:
		hint = fmt.Sprintf("The key was published in %s for user %s; the VM's guest agent did not accept it in time. Check that the guest agent runs on the VM and that OS Login is not enforced by an organization policy (constraints/compute.requireOsLogin).", strings.ReplaceAll(string(e.Publication.Method), "-", " "), e.User)
	default:
		hint = "Check the username and the key or password."
	}
	return fmt.Sprintf("%s refused SSH authentication as %s: %v\n%s", e.Target.Instance, e.User, e.Err, hint)
}

func (e *AuthError) Unwrap() error { return e.Err }

func (c *Connector) progress(t Target, s Step) {
	if c.Progress != nil {
		c.Progress(t, s)
	}
}

func (c *Connector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Connect publishes the key when a Publisher is set, then connects and
// authenticates, retrying with backoff while a new key propagates.
func (c *Connector) Connect(ctx context.Context, t Target) (*Client, error) {
	if c.Dialer == nil || c.KnownHosts == nil {
		return nil, errors.New("sshclient: Connector needs a Dialer and KnownHosts")
	}
	user := c.User
	var pub Publication
	if c.Publisher != nil && c.Key != nil {
		c.progress(t, StepPublishing)
		opts := c.Options
		if c.User != "" {
			opts.Username = c.User
		}
		var err error
		pub, err = c.Publisher.Publish(ctx, t, c.Key.AuthorizedKey(), opts)
		if err != nil {
			return nil, err
		}
		user = pub.Username
	}
	if user == "" {
		return nil, errors.New("no username: set one or sign in so iapterm can derive it")
	}
	hostKeyCheck, algos, err := c.hostKeyCallback(ctx, t)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.KeyWait())
	retrying := pub.Changed
	backoff := 500 * time.Millisecond
	// An unreachable ssh-agent is reported once, not on every retry.
	var agentWarning sync.Once
	warnAgent := func(err error) {
		agentWarning.Do(func() { c.logger().Warn("ssh-agent keys unavailable", "err", err) })
	}
	for attempt := 1; ; attempt++ {
		final := !retrying || time.Now().After(deadline)
		client, err := c.attempt(ctx, t, user, hostKeyCheck, algos, final, warnAgent)
		if err == nil {
			cl := &Client{Target: t, User: user, Publication: pub, ssh: client, done: make(chan struct{})}
			go func() {
				cl.err = client.Wait()
				close(cl.done)
			}()
			c.startKeepAlive(cl)
			c.progress(t, StepConnected)
			return cl, nil
		}
		if !errors.Is(err, errKeyNotYetAccepted) || final {
			if errors.Is(err, errKeyNotYetAccepted) || isAuthFailure(err) {
				return nil, &AuthError{Target: t, User: user, Publication: pub, Err: err}
			}
			return nil, err
		}
		c.logger().Debug("ssh key not accepted yet", "instance", t.Key(), "attempt", attempt)
		c.progress(t, StepWaitingAgent)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// KeyWait is how long Connect keeps retrying while a newly published key
// is not accepted yet: AgentWait, or 90 s.
func (c *Connector) KeyWait() time.Duration {
	if c.AgentWait > 0 {
		return c.AgentWait
	}
	return 90 * time.Second
}

func isAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

func (c *Connector) attempt(ctx context.Context, t Target, user string, hostKeyCheck ssh.HostKeyCallback, algos []string, final bool, warnAgent func(error)) (*ssh.Client, error) {
	c.progress(t, StepTunnel)
	conn, err := c.Dialer.DialSSH(ctx, t)
	if err != nil {
		return nil, err
	}
	c.progress(t, StepAuth)
	timeout := c.HandshakeTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              c.authMethods(ctx, user, warnAgent),
		HostKeyCallback:   hostKeyCheck,
		HostKeyAlgorithms: algos,
		Timeout:           timeout,
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			// While a fresh key propagates, a refused public key means
			// "try again shortly", not "ask for a password".
			if !final && contains(ac.TriedMethods, "publickey") && !contains(ac.PartialSuccessMethods, "publickey") {
				return nil, errKeyNotYetAccepted
			}
			return nil, nil
		},
	}
	// The handshake has no context: closing the conn unblocks it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	timer := time.AfterFunc(timeout, func() { conn.Close() })
	addr := net.JoinHostPort(t.Instance, strconv.Itoa(t.SSHPort()))
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	timer.Stop()
	if !stop() {
		if sc != nil {
			sc.Close()
		}
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		if len(algos) > 0 && strings.Contains(err.Error(), "no common algorithm for host key") {
			return nil, fmt.Errorf("%s offers none of the host key types recorded for it (%s) in %s: if its guest OS was reinstalled, delete the %s lines there: %w",
				t.Instance, strings.Join(algos, ", "), c.KnownHosts.Path, HostKeyAlias(t), err)
		}
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

func (c *Connector) authMethods(ctx context.Context, user string, warnAgent func(error)) []ssh.AuthMethod {
	var methods []ssh.AuthMethod
	methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		var signers []ssh.Signer
		if c.Key != nil {
			signers = append(signers, c.Key.Signer)
		}
		if c.AgentSigners != nil {
			if more, err := c.AgentSigners(); err == nil {
				signers = append(signers, more...)
			} else {
				warnAgent(err)
			}
		}
		return signers, nil
	}))
	if c.Prompter != nil {
		// Three tries, like OpenSSH and IAP Desktop.
		methods = append(methods, ssh.RetryableAuthMethod(ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			if len(questions) == 0 {
				return nil, nil // informational round
			}
			if name != "" && instruction == "" {
				instruction = name
			}
			// The texts come from the VM and are shown on the user's
			// terminal: no control sequences.
			instruction = printable(instruction, true)
			qs := make([]string, len(questions))
			for i, q := range questions {
				qs[i] = printable(q, false)
			}
			return c.Prompter.KeyboardInteractive(ctx, user, instruction, qs, echos)
		}), 3))
		methods = append(methods, ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
			return c.Prompter.Password(ctx, user)
		}), 3))
	}
	return methods
}

// printable drops control characters (escape sequences start with one,
// and \r would overwrite the line) from text a server sent, keeping tabs
// and, when lines is set, line breaks.
func printable(s string, lines bool) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || (lines && r == '\n') || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// hostKeyCallback prefers the keys the guest agent published, recording
// them for OpenSSH too; without them it trusts on first use.
func (c *Connector) hostKeyCallback(ctx context.Context, t Target) (ssh.HostKeyCallback, []string, error) {
	alias := HostKeyAlias(t)
	var published []ssh.PublicKey
	if c.HostKeys != nil {
		lines, err := c.HostKeys.GuestHostKeys(ctx, t.Project, t.Zone, t.Instance)
		if err != nil {
			c.logger().Debug("no guest attribute host keys", "instance", t.Key(), "err", err)
		}
		published = ParseHostKeys(lines)
	}
	if len(published) > 0 {
		if err := c.KnownHosts.Replace(alias, published); err != nil {
			c.logger().Warn("recording published host keys", "err", err)
		}
		cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if containsKey(published, key) {
				return c.KnownHosts.CheckRevoked(t.Instance, alias, key)
			}
			var fps []string
			for _, k := range published {
				fps = append(fps, ssh.FingerprintSHA256(k))
			}
			return &HostKeyChangedError{Instance: t.Instance, Alias: alias, Known: fps, Offered: ssh.FingerprintSHA256(key), Source: "guest attributes"}
		}
		return cb, hostKeyAlgorithms(published), nil
	}
	known, err := c.KnownHosts.Lookup(alias)
	if err != nil {
		return nil, nil, err
	}
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		return c.KnownHosts.Check(t.Instance, alias, key)
	}
	return cb, hostKeyAlgorithms(known), nil
}

// ParseHostKeys parses host keys in "TYPE BASE64 [COMMENT]" form, skipping
// anything else.
func ParseHostKeys(lines []string) []ssh.PublicKey {
	var keys []ssh.PublicKey
	for _, l := range lines {
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l)); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// hostKeyAlgorithms makes the server present a key type we know, so a
// known key is compared instead of a new type being trusted. Nil lets the
// library choose.
func hostKeyAlgorithms(keys []ssh.PublicKey) []string {
	var algos []string
	for _, k := range keys {
		switch k.Type() {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, k.Type())
		}
	}
	return algos
}

func (c *Connector) startKeepAlive(cl *Client) {
	interval := c.KeepAlive
	if interval < 0 {
		return
	}
	if interval == 0 {
		interval = 5 * time.Second
	}
	maxMiss := c.KeepAliveMax
	if maxMiss <= 0 {
		maxMiss = 3
	}
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		misses := 0
		for {
			select {
			case <-cl.done:
				return
			case <-tick.C:
			}
			reply := make(chan error, 1)
			go func() {
				_, _, err := cl.ssh.SendRequest("keepalive@openssh.com", true, nil)
				reply <- err
			}()
			select {
			case <-cl.done:
				return
			case err := <-reply:
				if err != nil {
					misses = maxMiss // the connection is gone
				} else {
					misses = 0
				}
			case <-time.After(interval):
				misses++
			}
			if misses >= maxMiss {
				c.logger().Warn("ssh keepalive unanswered, closing", "instance", cl.Target.Key())
				cl.Close()
				return
			}
		}
	}()
}
