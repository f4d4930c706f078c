package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/tunnel"
	"iapterm/ui/common"
	"iapterm/ui/sessions"
)

// SSHSessions opens the shells of the UI's SSH tabs. Each tab follows the
// ssh.* settings of its VM as they are when it opens (user, port, key
// type, key validity, publish mode, ssh-agent, timeouts, transport), as
// `iapterm ssh` does. Sessions to the same VM with the same settings share
// one SSH connection (one tunnel, one key publication); different
// settings get their own.
type SSHSessions struct {
	// Config supplies the settings file, read again for every tab so that
	// edits (settings view, editor) apply to the next tab. Nil: defaults.
	Config common.ConfigLoader
	// Keys is where keys of the types the settings ask for are loaded or
	// created. Its zero value offers only the connector's own key.
	Keys sshclient.KeyStore

	base *sshclient.Connector

	mu        sync.Mutex
	muxes     map[sshgcp.Settings]*sshMux
	listeners map[string]map[int]func(string)
	nextID    int

	keyMu sync.Mutex
	keys  map[sshclient.KeyType]*sshclient.Key
}

// sshMux shares connections made with one set of settings.
type sshMux struct {
	id int
	m  *sshclient.Manager
}

// NewSSH builds the SSH tabs' opener for Google Cloud: tunnels through d,
// keys published for email (the signed-in account) from iapterm's key
// store, host keys checked against iapterm's known_hosts, and the ssh.*
// settings of cfg (nil: defaults).
func NewSSH(c *projects.Client, d *tunnel.Dialer, email string, cfg common.ConfigLoader) (*SSHSessions, error) {
	if email == "" {
		return nil, errors.New("iapterm does not know your email (needed to publish the SSH key): sign in with `iapterm auth login`")
	}
	store, err := sshclient.DefaultKeyStore()
	if err != nil {
		return nil, err
	}
	kh, err := sshclient.DefaultKnownHostsPath()
	if err != nil {
		return nil, err
	}
	conn := sshgcp.Connector(c, d)
	conn.KnownHosts = &sshclient.KnownHosts{Path: kh}
	conn.Options.Email = email
	s := NewSSHSessions(conn)
	s.Config, s.Keys = cfg, store
	return s, nil
}

// NewSSHSessions opens tabs with conn (a Connector from sshgcp with
// KnownHosts and Options.Email set) as the base every tab's connector is
// copied from; conn.Key, when set, serves settings asking for its type.
// It takes over conn's Progress and Prompter to route them to the tab
// that is connecting.
func NewSSHSessions(conn *sshclient.Connector) *SSHSessions {
	s := &SSHSessions{base: conn, muxes: map[sshgcp.Settings]*sshMux{}, listeners: map[string]map[int]func(string){}, keys: map[sshclient.KeyType]*sshclient.Key{}}
	if conn.Key != nil {
		s.keys[conn.Key.Type] = conn.Key
	}
	conn.Progress = nil
	conn.Prompter = ctxPrompter{}
	return s
}

// Settings returns the effective ssh.* settings for inst, from the
// settings file as it is now.
func (s *SSHSessions) Settings(inst projects.Instance) (sshgcp.Settings, error) {
	cfg := profiles.Empty("")
	if s.Config != nil {
		c, err := s.Config.LoadConfig()
		switch {
		case c != nil:
			// A file that stopped parsing still gives its last good
			// version; a tab is more useful than the parse error here.
			cfg = c
		case err != nil:
			return sshgcp.Settings{}, fmt.Errorf("reading the settings file: %w", err)
		}
	}
	eff := cfg.Resolve(profiles.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Labels: inst.Labels})
	set, err := sshgcp.ReadSettings(eff)
	if err != nil {
		return set, fmt.Errorf("the SSH settings of %s: %w", inst.Name, err)
	}
	return set, nil
}

// key loads (once) iapterm's key of type t.
func (s *SSHSessions) key(t sshclient.KeyType) (*sshclient.Key, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if k := s.keys[t]; k != nil {
		return k, nil
	}
	if s.Keys.Dir == "" {
		return nil, fmt.Errorf("ssh.key_type is %s but no key store is configured for the SSH tabs", t)
	}
	k, err := s.Keys.Key(t)
	if err != nil {
		return nil, err
	}
	s.keys[t] = k
	return k, nil
}

// mux returns the connection manager for set, creating it with its own
// copy of the base connector.
func (s *SSHSessions) mux(set sshgcp.Settings) (*sshMux, error) {
	s.mu.Lock()
	x := s.muxes[set]
	s.mu.Unlock()
	if x != nil {
		return x, nil
	}
	// Outside s.mu: creating a key can take a moment, and progress
	// reports of other tabs need the lock meanwhile.
	key, err := s.key(set.KeyType)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if x := s.muxes[set]; x != nil {
		return x, nil
	}
	if s.muxes == nil {
		return nil, errors.New("the SSH sessions are closed")
	}
	conn := *s.base
	set.Configure(&conn, key)
	s.nextID++
	x = &sshMux{id: s.nextID}
	conn.Progress = func(t sshclient.Target, st sshclient.Step) { s.progress(listenKey(x.id, t), st) }
	x.m = &sshclient.Manager{Connector: &conn}
	s.muxes[set] = x
	return x, nil
}

func listenKey(mux int, t sshclient.Target) string { return strconv.Itoa(mux) + " " + t.Key() }

func (s *SSHSessions) progress(key string, st sshclient.Step) {
	s.mu.Lock()
	var fs []func(string)
	for _, f := range s.listeners[key] {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, f := range fs {
		f(string(st))
	}
}

func (s *SSHSessions) listen(key string, f func(string)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := s.nextID
	if s.listeners[key] == nil {
		s.listeners[key] = map[int]func(string){}
	}
	s.listeners[key][id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners[key], id)
		if len(s.listeners[key]) == 0 {
			delete(s.listeners, key)
		}
	}
}

// Open implements sessions.Opener: a login shell with an xterm-256color
// terminal of cols x rows, connected with inst's current ssh.* settings.
// Duplicating a tab and reconnecting call it again, so they follow the
// settings as they are then.
func (s *SSHSessions) Open(ctx context.Context, inst projects.Instance, cols, rows int, h sessions.Hooks) (sessions.Conn, error) {
	if inst.OS == projects.Windows {
		return nil, errors.New(inst.Name + " is a Windows VM: use RDP (v) instead of SSH")
	}
	set, err := s.Settings(inst)
	if err != nil {
		return nil, err
	}
	x, err := s.mux(set)
	if err != nil {
		return nil, err
	}
	target := set.Target(&inst)
	if h.Progress != nil {
		defer s.listen(listenKey(x.id, target), h.Progress)()
	}
	if h.Prompt != nil {
		ctx = context.WithValue(ctx, promptKey{}, h.Prompt)
	}
	sess, err := x.m.Session(ctx, target)
	if err != nil {
		return nil, err
	}
	if err := sess.RequestPTY("xterm-256color", cols, rows); err != nil {
		sess.Close()
		return nil, err
	}
	// Merge stdout and stderr into one stream, as a terminal shows them.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	for _, r := range []io.Reader{sess.Stdout, sess.Stderr} {
		go func() {
			defer wg.Done()
			_, _ = io.Copy(pw, r)
		}()
	}
	go func() {
		wg.Wait()
		pw.Close()
	}()
	if err := sess.Shell(); err != nil {
		sess.Close()
		pr.Close()
		return nil, err
	}
	return &sshConn{sess: sess, out: pr}, nil
}

// IsOpen reports whether an SSH connection to inst is open or opening
// (for markers), whatever settings it was made with: a tab opened before
// the settings changed is still connected.
func (s *SSHSessions) IsOpen(inst projects.Instance) bool {
	t := sshgcp.Target(&inst, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.muxes {
		if x.m.Open(t) {
			return true
		}
	}
	return false
}

// Close closes every SSH connection; no tab opens afterwards.
func (s *SSHSessions) Close() error {
	s.mu.Lock()
	muxes := s.muxes
	s.muxes = nil
	s.mu.Unlock()
	for _, x := range muxes {
		x.m.Close()
	}
	return nil
}

type sshConn struct {
	sess *sshclient.Session
	out  *io.PipeReader
	once sync.Once
}

func (c *sshConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *sshConn) Write(p []byte) (int, error) { return c.sess.Stdin.Write(p) }
func (c *sshConn) Resize(cols, rows int) error { return c.sess.WindowChange(cols, rows) }
func (c *sshConn) Wait() (int, error)          { return c.sess.Wait() }

func (c *sshConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.sess.Close()
		c.out.Close()
	})
	return err
}

type promptKey struct{}

// ctxPrompter asks through the hook the connecting tab put in the context.
type ctxPrompter struct{}

func (ctxPrompter) KeyboardInteractive(ctx context.Context, user, instruction string, questions []string, echo []bool) ([]string, error) {
	f, ok := ctx.Value(promptKey{}).(func(context.Context, sessions.Prompt) ([]string, error))
	if !ok {
		return nil, errors.New("the VM asks for an answer (verification code or password) but there is nobody to ask")
	}
	return f(ctx, sessions.Prompt{User: user, Instruction: instruction, Questions: questions, Echo: echo})
}

func (p ctxPrompter) Password(ctx context.Context, user string) (string, error) {
	a, err := p.KeyboardInteractive(ctx, user, "", []string{user + "'s password: "}, []bool{false})
	if err != nil {
		return "", err
	}
	if len(a) != 1 {
		return "", errors.New("no password given")
	}
	return a[0], nil
}
