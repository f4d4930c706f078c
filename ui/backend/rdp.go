package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/rdp"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

// RDP launches the user's RDP client from the UI, detached: each client
// gets a pooled tunnel that is released when the client exits. Close stops
// the clients still running when the UI ends, since their tunnels close
// with it.
type RDP struct {
	// Cloud updates metadata and reads the serial port for credentials.
	Cloud *projects.Client
	Pool  *tunnel.Pool
	// Prober tests the path before the client starts, so a missing role
	// or firewall rule shows up with its fix (nil: no test).
	Prober interface {
		Probe(ctx context.Context, t tunnel.Target) error
	}
	// Email is the signed-in account, for the suggested username and
	// the windows-keys entry.
	Email string
	// Config reads the rdp.* settings (nil: defaults).
	Config common.ConfigLoader
	// Find locates the client (nil: rdp.FindClient).
	Find func(ctx context.Context, opts rdp.FindOptions) (rdp.Client, error)
	// Timeout bounds the guest agent's answer (0: rdp's default);
	// PollInterval is how often its serial port is read (0: rdp's default).
	Timeout, PollInterval time.Duration
	// LogDir receives the clients' output ("" : rdp's default, the user
	// cache directory).
	LogDir string

	once     sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	sessions map[*rdp.Session]struct{}
}

var _ common.RDPLauncher = (*RDP)(nil)

func (b *RDP) init() {
	b.once.Do(func() {
		b.ctx, b.cancel = context.WithCancel(context.Background())
		b.sessions = map[*rdp.Session]struct{}{}
	})
}

// settings resolves the rdp.* settings for inst and the client path.
func (b *RDP) settings(inst projects.Instance) (rdp.Settings, string, error) {
	s := rdp.DefaultSettings()
	if b.Config == nil {
		return s, "", nil
	}
	cfg, err := b.Config.LoadConfig()
	if cfg == nil {
		if err != nil {
			return s, "", fmt.Errorf("reading the settings file: %w", err)
		}
		return s, "", nil
	}
	eff := cfg.Resolve(profiles.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Labels: inst.Labels})
	if err := s.ApplyConfig(eff); err != nil {
		return s, "", err
	}
	return s, eff.String("rdp.client"), nil
}

// DefaultUser implements common.RDPLauncher.
func (b *RDP) DefaultUser(inst projects.Instance) (string, string) {
	s, _, _ := b.settings(inst)
	if s.Username == "" {
		s.Username = rdp.SuggestUsername(b.Email)
	}
	return s.Username, s.Domain
}

// Launch implements common.RDPLauncher.
func (b *RDP) Launch(ctx context.Context, inst projects.Instance, req common.RDPRequest) (common.RDPSession, error) {
	b.init()
	if b.Pool == nil {
		return common.RDPSession{}, errors.New("tunnels are not available in this session")
	}
	s, clientPath, err := b.settings(inst)
	if err != nil {
		return common.RDPSession{}, err
	}
	if req.Username != "" {
		s.Username = req.Username
	}
	if req.Domain != "" {
		s.Domain = req.Domain
	}
	s.Title = inst.Name
	if err := s.Validate(); err != nil {
		return common.RDPSession{}, err
	}
	find := b.Find
	if find == nil {
		find = rdp.FindClient
	}
	client, err := find(ctx, rdp.FindOptions{Path: clientPath})
	if err != nil {
		return common.RDPSession{}, err
	}
	password := req.Password
	if password == "" && s.Username != "" {
		if pw, found, err := rdp.LoadPassword(inst.Project, inst.Zone, inst.Name, s.Username); err != nil {
			slog.Info("rdp: no password from the keyring", "err", err)
		} else if found {
			password = pw
		}
	}
	var note string
	switch {
	case !client.PasswordOnStdin():
		password = "" // the user types it in the client
		note = "type the password in the client"
	case password == "" && s.Username == "":
		note = "no user set: the server's logon screen asks (V connects as a user)"
	case password == "":
		note = "no password saved for " + s.Username + ": if the logon fails, press w for new credentials"
	}
	target := tunnel.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Port: s.Port}
	if b.Prober != nil {
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		err := b.Prober.Probe(pctx, target)
		cancel()
		if err != nil {
			return common.RDPSession{}, &common.RDPTunnelError{Err: err}
		}
	}
	// The session outlives the key press: it ends with the client, with
	// ctx (the UI's), or with Close.
	sctx, cancel := context.WithCancel(b.ctx)
	stop := context.AfterFunc(ctx, cancel)
	sess, err := rdp.Launch(sctx, rdp.LaunchOptions{
		Client:   client,
		Settings: s,
		Password: password,
		Forward:  tunnelErrors(rdp.PoolForwarder(b.Pool, target, 0)),
		Name:     inst.Name,
		LogDir:   b.LogDir,
		Logger:   slog.Default(),
	})
	if err != nil {
		stop()
		cancel()
		return common.RDPSession{}, err
	}
	b.mu.Lock()
	b.sessions[sess] = struct{}{}
	b.mu.Unlock()
	var waitErr error
	done := make(chan struct{})
	go func() {
		err := sess.Wait()
		<-sess.Done()
		waitErr = err
		stop()
		cancel()
		b.mu.Lock()
		delete(b.sessions, sess)
		b.mu.Unlock()
		close(done)
	}()
	return common.RDPSession{
		Client:  client.String(),
		Addr:    sess.Addr,
		PID:     sess.PID,
		LogPath: sess.LogPath,
		Note:    note,
		Done:    done,
		Err: func() error {
			<-done
			return waitErr
		},
	}, nil
}

// tunnelErrors marks the errors of f as the tunnel's, so the UI's hint
// does not send the user to the RDP client's settings for them.
func tunnelErrors(f rdp.Forwarder) rdp.Forwarder {
	return func(ctx context.Context, remotePort int) (string, func(), error) {
		addr, release, err := f(ctx, remotePort)
		if err != nil {
			err = &common.RDPTunnelError{Err: err}
		}
		return addr, release, err
	}
}

// Running is the number of clients still running.
func (b *RDP) Running() int {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// Close stops every client still running and waits (at most a few
// seconds) for them to exit; it returns how many were stopped.
func (b *RDP) Close() int {
	b.init()
	b.mu.Lock()
	list := make([]*rdp.Session, 0, len(b.sessions))
	for s := range b.sessions {
		list = append(list, s)
	}
	b.mu.Unlock()
	b.cancel()
	deadline := time.After(5 * time.Second)
	for _, s := range list {
		select {
		case <-s.Done():
		case <-deadline:
			return len(list)
		}
	}
	return len(list)
}

// GenerateCredentials implements common.RDPLauncher.
func (b *RDP) GenerateCredentials(ctx context.Context, inst projects.Instance, user string, admin bool, progress func(string)) (string, error) {
	if b.Cloud == nil {
		return "", errors.New("the Compute API is not available in this session")
	}
	if err := rdp.ValidateUsername(user); err != nil {
		return "", err
	}
	creds, err := rdp.GenerateCredentials(ctx, metadataAPI{b.Cloud}, rdp.CredentialRequest{
		Project:      inst.Project,
		Zone:         inst.Zone,
		Instance:     inst.Name,
		Username:     user,
		Email:        b.Email,
		Admin:        admin,
		Timeout:      b.Timeout,
		PollInterval: b.PollInterval,
		Progress:     progress,
	})
	if err != nil {
		return "", err
	}
	return creds.Password, nil
}

// SavePassword implements common.RDPLauncher.
func (b *RDP) SavePassword(inst projects.Instance, user, password string) error {
	return rdp.SavePassword(inst.Project, inst.Zone, inst.Name, user, password)
}

// metadataAPI adapts projects.Client to rdp.MetadataAPI (its update
// callback has a named type).
type metadataAPI struct{ c *projects.Client }

func (m metadataAPI) UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(map[string]string) (bool, error)) error {
	return m.c.UpdateInstanceMetadata(ctx, project, zone, name, update)
}

func (m metadataAPI) SerialPort(ctx context.Context, project, zone, name string, port int, start int64) (string, int64, error) {
	return m.c.SerialPort(ctx, project, zone, name, port, start)
}
