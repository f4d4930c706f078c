package backend

import (
	"context"
	"errors"
	"io"
	"sync"

	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/sshclient/sshgcp"
	"iapterm/tunnel"
	"iapterm/ui/sessions"
)

// SSHSessions opens the shells of the UI's SSH tabs. Sessions to the same
// VM share one SSH connection (one tunnel, one key publication) through
// the connection manager.
type SSHSessions struct {
	Manager *sshclient.Manager

	mu        sync.Mutex
	listeners map[string]map[int]func(string)
	nextID    int
}

// NewSSHConnector builds the Connector the UI uses: Google Cloud's tunnel,
// publishing and host keys, iapterm's default key and known_hosts. email
// is the signed-in account (needed to publish the key).
func NewSSHConnector(c *projects.Client, d *tunnel.Dialer, email string) (*sshclient.Connector, error) {
	if email == "" {
		return nil, errors.New("iapterm does not know your email (needed to publish the SSH key): sign in with `iapterm auth login`")
	}
	store, err := sshclient.DefaultKeyStore()
	if err != nil {
		return nil, err
	}
	key, err := store.Key(sshclient.DefaultKeyType)
	if err != nil {
		return nil, err
	}
	kh, err := sshclient.DefaultKnownHostsPath()
	if err != nil {
		return nil, err
	}
	conn := sshgcp.Connector(c, d)
	conn.Key = key
	conn.KnownHosts = &sshclient.KnownHosts{Path: kh}
	conn.Options.Email = email
	return conn, nil
}

// NewSSHSessions wraps conn; it takes over conn's Progress and Prompter to
// route them to the tab that is connecting.
func NewSSHSessions(conn *sshclient.Connector) *SSHSessions {
	s := &SSHSessions{Manager: &sshclient.Manager{Connector: conn}, listeners: map[string]map[int]func(string){}}
	conn.Progress = s.progress
	conn.Prompter = ctxPrompter{}
	return s
}

func (s *SSHSessions) progress(t sshclient.Target, st sshclient.Step) {
	s.mu.Lock()
	var fs []func(string)
	for _, f := range s.listeners[t.Key()] {
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
// terminal of cols x rows.
func (s *SSHSessions) Open(ctx context.Context, inst projects.Instance, cols, rows int, h sessions.Hooks) (sessions.Conn, error) {
	if inst.OS == projects.Windows {
		return nil, errors.New(inst.Name + " is a Windows VM: use RDP (v) instead of SSH")
	}
	target := sshgcp.Target(&inst, 22)
	if h.Progress != nil {
		defer s.listen(target.Key(), h.Progress)()
	}
	if h.Prompt != nil {
		ctx = context.WithValue(ctx, promptKey{}, h.Prompt)
	}
	sess, err := s.Manager.Session(ctx, target)
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

// Open reports whether an SSH connection to inst is open (for markers).
func (s *SSHSessions) IsOpen(inst projects.Instance) bool {
	return s.Manager.Open(sshgcp.Target(&inst, 22))
}

// Close closes every SSH connection.
func (s *SSHSessions) Close() error { return s.Manager.Close() }

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
