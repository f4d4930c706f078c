// Package api serves the emulator's control plane over HTTP: OAuth sign-in,
// Resource Manager, Compute Engine, OS Login and IAP's IAM methods, with the
// paths, JSON shapes and errors of Google's services, so the official Go
// clients (and iapterm) talk to it as they would to Google.
package api

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"iapterm/emulator/agent"
	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
	"iapterm/policy"
)

// DefaultTransition is how long lifecycle operations (start, stop, ...)
// take when Options.Transition is zero.
const DefaultTransition = 2 * time.Second

// Options tune the control plane.
type Options struct {
	// AgentDelay is how long the guest agent takes to apply metadata and
	// OS Login changes (agent.DefaultDelay when 0; negative: at once).
	AgentDelay time.Duration
	// Transition is how long start, stop, reset, suspend and resume take
	// (DefaultTransition when 0; negative: at once).
	Transition time.Duration
	// OperationDelay is how long metadata writes stay RUNNING before their
	// operation is DONE (0: done at once).
	OperationDelay time.Duration
	// ForbidUserSSHKeys simulates an organisation policy that forbids
	// user-managed OS Login keys: importSshPublicKey answers 200 without
	// adding the key.
	ForbidUserSSHKeys bool
	// AuthorizedKeys are authorized_keys files the guest agent keeps for
	// VMs whose SSH server is an external program. Each must name an
	// existing Linux VM and a writable directory; New refuses them
	// otherwise.
	AuthorizedKeys []agent.AuthorizedKeysFile
	// Logger receives the guest agent's warnings (slog.Default when nil).
	Logger *slog.Logger
}

// API is the control plane of one emulated cloud.
type API struct {
	c    *cloud.Cloud
	opts Options

	agent *agent.Agent
	ssh   *agent.SSHServer

	ops     *operations
	serial  *serialPorts
	oslogin *osLogin
	oauth   *oauthState

	hostKeys hostKeyProber
	// transitionGate, when set by tests, ends each lifecycle transition
	// on a receive instead of after Options.Transition.
	transitionGate chan struct{}

	mu      sync.Mutex
	idKey   *rsa.PrivateKey
	ctx     context.Context
	cancel  context.CancelFunc
	pending sync.WaitGroup
}

// New builds the control plane over c: it starts the guest agent, and
// registers the built-in SSH server as the "builtin-ssh" backend of c.
func New(c *cloud.Cloud, o Options) (*API, error) {
	if o.Transition == 0 {
		o.Transition = DefaultTransition
	}
	if err := checkAuthorizedKeys(c, o.AuthorizedKeys); err != nil {
		return nil, err
	}
	a := &API{c: c, opts: o, ops: newOperations(), serial: newSerialPorts(), oslogin: newOSLogin(), oauth: newOAuthState()}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	for _, in := range c.AllInstances() {
		a.serial.seed(in)
	}
	a.agent = agent.New(agentSource{a}, agent.Options{Delay: o.AgentDelay, Now: c.Now, AuthorizedKeys: o.AuthorizedKeys, Logger: o.Logger})
	sshd, err := agent.NewSSHServer(a.agent)
	if err != nil {
		a.agent.Close()
		return nil, err
	}
	a.ssh = sshd
	c.RegisterBuiltin(world.BuiltinSSH, a.dialBuiltinSSH)
	c.OnChange(a.agent.Changed)
	return a, nil
}

// checkAuthorizedKeys refuses authorized keys files for unknown or Windows
// VMs, unusable paths, and two VMs or entries writing the same file.
func checkAuthorizedKeys(c *cloud.Cloud, files []agent.AuthorizedKeysFile) error {
	seen := map[string]string{}
	for _, f := range files {
		if err := f.Check(); err != nil {
			return fmt.Errorf("authorized keys file: %w", err)
		}
		parts := strings.Split(f.VM, "/")
		in, err := c.Instance(parts[0], parts[1], parts[2])
		if err != nil {
			return fmt.Errorf("authorized keys file %s: no such VM %s in the world (give PROJECT/ZONE/INSTANCE of a VM of the world file)", f.Path, f.VM)
		}
		if in.IsWindows() {
			return fmt.Errorf("authorized keys file %s: %s is a Windows VM, which has no authorized_keys", f.Path, f.VM)
		}
		if other, dup := seen[f.Path]; dup {
			return fmt.Errorf("authorized keys file %s is given twice (%s and %s): each file needs one writer", f.Path, other, f.VM)
		}
		seen[f.Path] = f.VM
	}
	return nil
}

// Register mounts every route on mux. The relay's /v4/ routes are not
// among them.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("/compute/v1/", a.authed(a.compute))
	mux.Handle("/v1/", a.authed(a.v1))
	mux.Handle("/v3/", a.authed(a.v3))
	mux.HandleFunc("/o/oauth2/v2/auth", a.authorize)
	mux.HandleFunc("/o/oauth2/auth", a.authorize)
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("POST /revoke", a.revoke)
	mux.HandleFunc("/oauth2/v2/userinfo", a.userinfo)
	mux.HandleFunc("/oauth2/v3/userinfo", a.userinfo)
	mux.HandleFunc("/tokeninfo", a.tokeninfo)
	mux.HandleFunc("/oauth2/v3/tokeninfo", a.tokeninfo)
}

// Agent is the simulated guest agent of every VM.
func (a *API) Agent() *agent.Agent { return a.agent }

// SSHServer is the built-in SSH server of "builtin-ssh" backends.
func (a *API) SSHServer() *agent.SSHServer { return a.ssh }

// Close stops the agent, pending lifecycle transitions and the SSH server.
func (a *API) Close() error {
	a.cancel()
	a.pending.Wait()
	a.agent.Close()
	return a.ssh.Close()
}

func (a *API) dialBuiltinSSH(ctx context.Context, inst cloud.Instance, port int) (net.Conn, error) {
	if inst.IsWindows() {
		return nil, fmt.Errorf("%s is a Windows VM: %s serves Linux VMs only", inst.Key(), world.BuiltinSSH)
	}
	addr, err := a.ssh.Addr(inst.Key())
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// allowed checks an IAM permission of the caller on a resource.
func (a *API) allowed(email, resource, permission string) bool {
	d, err := a.c.Allowed("user:"+email, resource, permission, policy.Request{Time: a.c.Now()})
	return err == nil && d.Allowed
}

// agentSource shows the cloud to the guest agent.
type agentSource struct{ a *API }

func (s agentSource) VMs() []agent.VM {
	var out []agent.VM
	projMeta := map[string]map[string]string{}
	for _, in := range s.a.c.AllInstances() {
		pm, ok := projMeta[in.Project]
		if !ok {
			if p, err := s.a.c.Project(in.Project); err == nil {
				pm = p.Metadata.Map()
			}
			projMeta[in.Project] = pm
		}
		out = append(out, agent.VM{
			Key: in.Key(), Windows: in.IsWindows(), Running: in.Status == "RUNNING",
			Instance: in.Metadata.Map(), Project: pm,
		})
	}
	return out
}

func (s agentSource) OSLoginKeys(vmKey string) []agent.Key {
	parts := strings.SplitN(vmKey, "/", 3)
	if len(parts) != 3 {
		return nil
	}
	in, err := s.a.c.Instance(parts[0], parts[1], parts[2])
	if err != nil {
		return nil
	}
	var out []agent.Key
	for _, u := range s.a.c.Users() {
		if !s.a.allowed(u.Email, in.ResourceName(), policy.PermOSLogin) && !s.a.allowed(u.Email, in.ResourceName(), policy.PermOSAdminLogin) {
			continue
		}
		if in.ServiceAccount != "" && !s.a.allowed(u.Email, in.ResourceName(), policy.PermActAs) {
			continue
		}
		name := posixUsername(u)
		for _, k := range s.a.oslogin.keys(u.Email, s.a.c.Now()) {
			out = append(out, agent.Key{User: name, PublicKey: k.pub, Expires: k.expires, SecondFactor: u.TwoFactorCode})
		}
	}
	return out
}

func (s agentSource) AppendSerial(vmKey string, port int, data string) {
	s.a.serial.append(vmKey, port, data)
}
