package projects

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/iap/v1"
	"google.golang.org/api/oslogin/v1"
)

// LoginProfile is a user's OS Login profile.
type LoginProfile struct {
	Name          string                  `json:"name,omitempty"`
	PosixAccounts []PosixAccount          `json:"posixAccounts,omitempty"`
	SSHKeys       map[string]SSHPublicKey `json:"sshPublicKeys,omitempty"` // by fingerprint
}

// PosixAccount is one POSIX identity of an OS Login profile.
type PosixAccount struct {
	Primary       bool   `json:"primary,omitempty"`
	Username      string `json:"username"`
	UID           int64  `json:"uid,omitempty"`
	GID           int64  `json:"gid,omitempty"`
	HomeDirectory string `json:"homeDirectory,omitempty"`
	Shell         string `json:"shell,omitempty"`
	OSType        string `json:"operatingSystemType,omitempty"`
}

// SSHPublicKey is a key registered in OS Login.
type SSHPublicKey struct {
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"`
	Expires     time.Time `json:"expires,omitzero"` // zero: never
}

// Username returns the primary LINUX POSIX username ("" when none yet).
func (p *LoginProfile) Username() string {
	for _, a := range p.PosixAccounts {
		if a.Primary && (a.OSType == "" || a.OSType == "LINUX") {
			return a.Username
		}
	}
	for _, a := range p.PosixAccounts {
		if a.OSType == "" || a.OSType == "LINUX" {
			return a.Username
		}
	}
	return ""
}

// HasKey reports whether the profile holds the public key (an
// authorized_keys line; the comment is ignored).
func (p *LoginProfile) HasKey(key string) bool {
	want := keyBody(key)
	for _, k := range p.SSHKeys {
		if keyBody(k.Key) == want {
			return true
		}
	}
	return false
}

func keyBody(k string) string {
	f := strings.Fields(k)
	if len(f) < 2 {
		return strings.TrimSpace(k)
	}
	return f[0] + " " + f[1]
}

func profileFrom(lp *oslogin.LoginProfile) *LoginProfile {
	p := &LoginProfile{SSHKeys: map[string]SSHPublicKey{}}
	if lp == nil {
		return p
	}
	p.Name = lp.Name
	for _, a := range lp.PosixAccounts {
		if a == nil {
			continue
		}
		p.PosixAccounts = append(p.PosixAccounts, PosixAccount{
			Primary: a.Primary, Username: a.Username, UID: a.Uid, GID: a.Gid,
			HomeDirectory: a.HomeDirectory, Shell: a.Shell, OSType: a.OperatingSystemType,
		})
	}
	for fp, k := range lp.SshPublicKeys {
		sk := SSHPublicKey{Key: k.Key, Fingerprint: k.Fingerprint}
		if sk.Fingerprint == "" {
			sk.Fingerprint = fp
		}
		if k.ExpirationTimeUsec > 0 {
			sk.Expires = time.UnixMicro(k.ExpirationTimeUsec).UTC()
		}
		p.SSHKeys[fp] = sk
	}
	return p
}

// LoginProfile returns the user's OS Login profile as seen from project. A
// user without a profile yet gets an empty one.
func (c *Client) LoginProfile(ctx context.Context, email, project string) (*LoginProfile, error) {
	call := c.oslogin.Users.GetLoginProfile("users/" + email).Context(ctx)
	if project != "" {
		call = call.ProjectId(project)
	}
	lp, err := call.Do()
	if err != nil {
		err = op{what: "the OS Login profile of " + email, perm: "compute.instances.osLogin", role: "roles/compute.osLogin"}.translate(err)
		if errors.Is(err, ErrNotFound) {
			return profileFrom(nil), nil
		}
		return nil, err
	}
	return profileFrom(lp), nil
}

// ImportSSHPublicKey registers an authorized_keys line with OS Login,
// expiring at expiry (zero: never). When the organisation forbids
// user-managed keys the API answers 200 without the key; that is reported
// as permission denied.
func (c *Client) ImportSSHPublicKey(ctx context.Context, email, project, key string, expiry time.Time) (*LoginProfile, error) {
	o := op{what: "OS Login of " + email, perm: "compute.instances.osLogin", role: "roles/compute.osLogin"}
	sk := &oslogin.SshPublicKey{Key: strings.TrimSpace(key)}
	if !expiry.IsZero() {
		sk.ExpirationTimeUsec = expiry.UnixMicro()
	}
	call := c.oslogin.Users.ImportSshPublicKey("users/"+email, sk).Context(ctx)
	if project != "" {
		call = call.ProjectId(project)
	}
	resp, err := call.Do()
	if err != nil {
		return nil, o.translate(err)
	}
	p := profileFrom(resp.LoginProfile)
	if !p.HasKey(key) {
		return nil, &Error{Code: 403, Reason: "keyNotImported", msg: fmt.Sprintf("OS Login did not keep the SSH key for %s: your organisation may forbid user-managed OS Login keys (%s)", email, strings.TrimSpace(resp.Details))}
	}
	return p, nil
}

// Policy is an IAM policy.
type Policy struct {
	Version  int64     `json:"version,omitempty"`
	Etag     string    `json:"etag,omitempty"`
	Bindings []Binding `json:"bindings,omitempty"`
}

// Binding grants a role to members, optionally under a CEL condition.
type Binding struct {
	Role      string     `json:"role"`
	Members   []string   `json:"members"`
	Condition *Condition `json:"condition,omitempty"`
}

// Condition is an IAM condition.
type Condition struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression"`
}

// IAPTunnelResource names the IAP tunnel resource of a project, zone or
// instance (zone and instance may be empty).
func IAPTunnelResource(project, zone, instance string) string {
	r := "projects/" + project + "/iap_tunnel"
	if zone != "" {
		r += "/zones/" + zone
		if instance != "" {
			r += "/instances/" + instance
		}
	}
	return r
}

// TestIAPTunnelPermissions returns the subset of perms (e.g.
// "iap.tunnelInstances.accessViaIAP") the caller holds on the IAP tunnel
// resource of the instance (or zone, or project when those are empty).
// Conditions that depend on the request (port, time) may not be evaluated.
func (c *Client) TestIAPTunnelPermissions(ctx context.Context, project, zone, instance string, perms []string) ([]string, error) {
	res := IAPTunnelResource(project, zone, instance)
	resp, err := c.iap.V1.TestIamPermissions(res, &iap.TestIamPermissionsRequest{Permissions: perms}).Context(ctx).Do()
	if err != nil {
		return nil, op{what: res}.translate(err)
	}
	return resp.Permissions, nil
}

// IAPTunnelPolicy returns the IAM policy on the IAP tunnel resource. Reading
// it needs iap.tunnelInstances.getIamPolicy, which ordinary users often lack.
func (c *Client) IAPTunnelPolicy(ctx context.Context, project, zone, instance string) (*Policy, error) {
	res := IAPTunnelResource(project, zone, instance)
	p, err := c.iap.V1.GetIamPolicy(res, &iap.GetIamPolicyRequest{Options: &iap.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
	if err != nil {
		return nil, op{what: res, perm: "iap.tunnelInstances.getIamPolicy", role: "roles/iap.admin"}.translate(err)
	}
	return newPolicy(p.Version, p.Etag, p.Bindings, func(b *iap.Binding) Binding {
		nb := Binding{Role: b.Role, Members: b.Members}
		if c := b.Condition; c != nil {
			nb.Condition = &Condition{Title: c.Title, Description: c.Description, Expression: c.Expression}
		}
		return nb
	}), nil
}

// ProjectPolicy returns the project's Resource Manager IAM policy.
func (c *Client) ProjectPolicy(ctx context.Context, project string) (*Policy, error) {
	p, err := c.crm.Projects.GetIamPolicy(project, &cloudresourcemanager.GetIamPolicyRequest{Options: &cloudresourcemanager.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
	if err != nil {
		return nil, projectOp(project, "resourcemanager.projects.getIamPolicy", "roles/iam.securityReviewer").translate(err)
	}
	return newPolicy(p.Version, p.Etag, p.Bindings, func(b *cloudresourcemanager.Binding) Binding {
		nb := Binding{Role: b.Role, Members: b.Members}
		if c := b.Condition; c != nil {
			nb.Condition = &Condition{Title: c.Title, Description: c.Description, Expression: c.Expression}
		}
		return nb
	}), nil
}

// newPolicy converts an IAM policy of either API (IAP or Resource
// Manager: their binding types differ only in package), skipping nil
// bindings.
func newPolicy[B any](version int64, etag string, bindings []*B, convert func(*B) Binding) *Policy {
	out := &Policy{Version: version, Etag: etag}
	for _, b := range bindings {
		if b != nil {
			out.Bindings = append(out.Bindings, convert(b))
		}
	}
	return out
}

// TestProjectPermissions returns the subset of perms the caller holds on
// the project.
func (c *Client) TestProjectPermissions(ctx context.Context, project string, perms []string) ([]string, error) {
	resp, err := c.crm.Projects.TestIamPermissions(project, &cloudresourcemanager.TestIamPermissionsRequest{Permissions: perms}).Context(ctx).Do()
	if err != nil {
		return nil, projectOp(project, "", "").translate(err)
	}
	return resp.Permissions, nil
}
