// Package sshgcp connects sshclient to Google Cloud: adapters from the
// projects API client and the tunnel dialer to sshclient's interfaces, so
// the CLI and the TUI build a Connector the same way.
package sshgcp

import (
	"context"
	"net"
	"strings"
	"time"

	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/tunnel"
)

// Cloud adapts a projects.Client to sshclient.MetadataService,
// OSLoginService, ProjectPermissionTester and HostKeySource.
type Cloud struct{ C *projects.Client }

// ProjectMetadata returns the project's common instance metadata.
func (c Cloud) ProjectMetadata(ctx context.Context, project string) (map[string]string, error) {
	return c.C.ProjectMetadata(ctx, project)
}

// UpdateProjectMetadata edits project metadata (read-modify-write).
func (c Cloud) UpdateProjectMetadata(ctx context.Context, project string, update func(map[string]string) (bool, error)) error {
	return c.C.UpdateProjectMetadata(ctx, project, update)
}

// UpdateInstanceMetadata edits instance metadata (read-modify-write).
func (c Cloud) UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(map[string]string) (bool, error)) error {
	return c.C.UpdateInstanceMetadata(ctx, project, zone, name, update)
}

// TestProjectPermissions returns the permissions held on the project.
func (c Cloud) TestProjectPermissions(ctx context.Context, project string, perms []string) ([]string, error) {
	return c.C.TestProjectPermissions(ctx, project, perms)
}

// ImportSSHPublicKey imports a key into the user's OS Login profile.
func (c Cloud) ImportSSHPublicKey(ctx context.Context, email, project, key string, expiry time.Time) (sshclient.LoginProfile, error) {
	p, err := c.C.ImportSSHPublicKey(ctx, email, project, key, expiry)
	if err != nil {
		return sshclient.LoginProfile{}, err
	}
	return LoginProfile(p), nil
}

// LoginProfile converts an OS Login profile.
func LoginProfile(p *projects.LoginProfile) sshclient.LoginProfile {
	var lp sshclient.LoginProfile
	if p == nil {
		return lp
	}
	for _, a := range p.PosixAccounts {
		lp.PosixAccounts = append(lp.PosixAccounts, sshclient.PosixAccount{Primary: a.Primary, Username: a.Username, OperatingSystemType: a.OSType})
	}
	for _, k := range p.SSHKeys {
		lp.SSHPublicKeys = append(lp.SSHPublicKeys, k.Key)
	}
	return lp
}

// GuestHostKeys turns the guest attributes under hostkeys/ (key type ->
// key, with or without the type in the value) into authorized_keys lines.
func (c Cloud) GuestHostKeys(ctx context.Context, project, zone, name string) ([]string, error) {
	m, err := c.C.GuestHostKeys(ctx, project, zone, name)
	if err != nil {
		return nil, err
	}
	return HostKeyLines(m), nil
}

// HostKeyLines converts guest attribute host keys to authorized_keys lines.
func HostKeyLines(m map[string]string) []string {
	var lines []string
	for typ, v := range m {
		v = strings.TrimSpace(v)
		if strings.Contains(v, " ") {
			lines = append(lines, v)
		} else if v != "" {
			lines = append(lines, typ+" "+v)
		}
	}
	return lines
}

// Publisher publishes keys through c (OS Login or metadata).
func Publisher(c *projects.Client) *sshclient.Publisher {
	cl := Cloud{c}
	return &sshclient.Publisher{Metadata: cl, OSLogin: cl, Permissions: cl}
}

// Dialer opens SSH connections as IAP tunnels to the target's SSH port.
func Dialer(d *tunnel.Dialer) sshclient.Dialer {
	return sshclient.DialerFunc(func(ctx context.Context, t sshclient.Target) (net.Conn, error) {
		return d.Dial(ctx, tunnel.Target{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.SSHPort()})
	})
}

// Target is the sshclient target for an instance (port 0 means 22).
func Target(inst *projects.Instance, port int) sshclient.Target {
	return sshclient.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, ID: inst.ID, Metadata: inst.Metadata, Port: port, InternalIP: inst.InternalIP}
}

// Connector is a Connector with everything Google Cloud provides filled
// in: tunnel, publishing, guest-attribute host keys. The caller sets Key,
// KnownHosts, Options.Email (and Prompter, Progress, User as needed).
func Connector(c *projects.Client, d *tunnel.Dialer) *sshclient.Connector {
	return &sshclient.Connector{
		Dialer:    Dialer(d),
		Publisher: Publisher(c),
		HostKeys:  Cloud{c},
	}
}
