package sshclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
)

// Target is the VM to connect to.
type Target struct {
	Project  string
	Zone     string
	Instance string // name
	// ID is the numeric instance ID; host keys are remembered by it because
	// names and IPs are reused but IDs are not.
	ID string
	// Metadata holds the instance's own metadata items (not the project's).
	Metadata map[string]string
	Port     int // 22 when 0
	// InternalIP is the VM's address inside its network, for connections
	// that bypass IAP (VPN, Interconnect); "" when unknown.
	InternalIP string
}

// Key identifies the VM for connection reuse.
func (t Target) Key() string { return t.Project + "/" + t.Zone + "/" + t.Instance }

// SSHPort is Port, or 22 when unset.
func (t Target) SSHPort() int {
	if t.Port == 0 {
		return 22
	}
	return t.Port
}

// MetadataService reads and writes Compute metadata with read-modify-write
// (fingerprints, retried on 412) done by the implementation.
type MetadataService interface {
	ProjectMetadata(ctx context.Context, project string) (map[string]string, error)
	UpdateProjectMetadata(ctx context.Context, project string, update func(items map[string]string) (changed bool, err error)) error
	UpdateInstanceMetadata(ctx context.Context, project, zone, name string, update func(items map[string]string) (changed bool, err error)) error
}

// OSLoginService imports a public key into the user's OS Login profile.
type OSLoginService interface {
	ImportSSHPublicKey(ctx context.Context, email, project, authorizedKey string, expiry time.Time) (LoginProfile, error)
}

// ProjectPermissionTester returns the subset of permissions the caller holds
// on a project (Resource Manager testIamPermissions).
type ProjectPermissionTester interface {
	TestProjectPermissions(ctx context.Context, project string, permissions []string) ([]string, error)
}

// LoginProfile is the part of an OS Login profile publishing needs.
type LoginProfile struct {
	PosixAccounts []PosixAccount
	// SSHPublicKeys are the profile's keys in authorized_keys form.
	SSHPublicKeys []string
}

// PosixAccount is one POSIX account of an OS Login profile.
type PosixAccount struct {
	Primary             bool
	Username            string
	OperatingSystemType string // LINUX or WINDOWS
}

// GuestSettings are the metadata switches the guest agent obeys.
type GuestSettings struct {
	OSLogin          bool
	OSLogin2FA       bool
	OSLoginSK        bool
	BlockProjectKeys bool
	// LegacySSHKeys: the instance has the old "sshKeys" key, which makes
	// the agent ignore project keys.
	LegacySSHKeys bool
}

// ReadGuestSettings evaluates instance and project metadata: an instance
// value overrides the project's, even when false; values parse like
// strconv.ParseBool and an unparseable value counts as unset.
func ReadGuestSettings(instance, project map[string]string) GuestSettings {
	flag := func(key string) bool {
		for _, m := range []map[string]string{instance, project} {
			if v, ok := m[key]; ok {
				if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
					return b
				}
			}
		}
		return false
	}
	_, legacy := instance["sshKeys"]
	return GuestSettings{
		OSLogin:    flag("enable-oslogin"),
		OSLogin2FA: flag("enable-oslogin-2fa"),
		OSLoginSK:  flag("enable-oslogin-sk"),
		// The agent reads it from the instance only; IAP Desktop also
		// honours a project-wide value, and so do we: writing to the
		// instance works in both cases.
		BlockProjectKeys: flag("block-project-ssh-keys"),
		LegacySSHKeys:    legacy,
	}
}

// Method says where a key was published.
type Method string

const (
	MethodOSLogin          Method = "oslogin"
	MethodProjectMetadata  Method = "project-metadata"
	MethodInstanceMetadata Method = "instance-metadata"
)

// Publication is the outcome of Publish.
type Publication struct {
	Method   Method
	Username string
	Expiry   time.Time
	// Changed is true when something was written (the guest agent may
	// need a moment to pick it up).
	Changed   bool
	TwoFactor bool // OS Login 2-step verification is on
}

// Publisher makes a public key acceptable to a VM.
type Publisher struct {
	Metadata    MetadataService
	OSLogin     OSLoginService
	Permissions ProjectPermissionTester // optional
	Now         func() time.Time        // time.Now when nil
}

// PublishOptions are the user's choices.
type PublishOptions struct {
	Email string
	// Username for metadata keys; derived from Email when empty. OS Login
	// always uses the profile's POSIX username.
	Username string
	Validity time.Duration // 30 days when 0
	// Mode forces "oslogin" or "metadata"; "" or "auto" follows the VM's
	// enable-oslogin.
	Mode string
}

// DefaultValidity is how long a published key stays valid.
const DefaultValidity = 30 * 24 * time.Hour

// minRemaining: a key valid for less than this is published again.
const minRemaining = time.Hour

// ErrSecurityKeysUnsupported is returned for VMs that require OS Login
// security keys.
var ErrSecurityKeysUnsupported = errors.New("this VM requires OS Login with security keys (enable-oslogin-sk), which iapterm does not support: connect with `gcloud compute ssh` and a security key, or ask for enable-oslogin-sk to be turned off")

// ErrOSLoginKeyRejected means importSshPublicKey succeeded but the key is
// not in the profile: an organisation policy forbids user-managed keys.
var ErrOSLoginKeyRejected = errors.New("access denied: OS Login did not keep the SSH key, so an organization policy forbids user-managed OS Login keys (for example one that requires security keys); ask your administrator")

const permSetCommonMetadata = "compute.projects.setCommonInstanceMetadata"

// Publish publishes authorizedKey for t as OS Login or metadata decides.
func (p *Publisher) Publish(ctx context.Context, t Target, authorizedKey string, opts PublishOptions) (Publication, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	validity := opts.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	expiry := now.Add(validity).UTC().Truncate(time.Second)
	if opts.Email == "" {
		return Publication{}, errors.New("publishing an SSH key needs the signed-in user's email")
	}
	if p.Metadata == nil {
		return Publication{}, errors.New("publishing an SSH key needs a metadata client")
	}
	projectMeta, err := p.Metadata.ProjectMetadata(ctx, t.Project)
	if err != nil {
		return Publication{}, explainAPIError(fmt.Errorf("reading metadata of project %s: %w", t.Project, err), "compute.projects.get (roles/compute.viewer)")
	}
	gs := ReadGuestSettings(t.Metadata, projectMeta)
	switch opts.Mode {
	case "", "auto":
	case "oslogin":
		gs.OSLogin = true
	case "metadata":
		gs.OSLogin = false
	default:
		return Publication{}, fmt.Errorf("unknown publish mode %q: use auto, oslogin or metadata", opts.Mode)
	}
	if gs.OSLogin {
		if gs.OSLoginSK {
			return Publication{}, ErrSecurityKeysUnsupported
		}
		return p.publishOSLogin(ctx, t, authorizedKey, opts.Email, expiry, gs)
	}
	user := opts.Username
	if user == "" {
		user = UsernameFromEmail(opts.Email)
	}
	if !ValidUsername(user) {
		return Publication{}, fmt.Errorf("%q is not a valid Linux username: use letters, digits, '_', '.' and '-' (at most 32)", user)
	}
	pub := Publication{Method: MethodProjectMetadata, Username: user, Expiry: expiry}
	update := func(items map[string]string) (bool, error) {
		v, changed := AddMetadataKey(items["ssh-keys"], user, authorizedKey, opts.Email, expiry, now, minRemaining)
		if changed {
			items["ssh-keys"] = v
			pub.Changed = true
		}
		return changed, nil
	}
	useProject := !gs.BlockProjectKeys && !gs.LegacySSHKeys
	if useProject && p.Permissions != nil {
		held, err := p.Permissions.TestProjectPermissions(ctx, t.Project, []string{permSetCommonMetadata})
		if err == nil && !contains(held, permSetCommonMetadata) {
			useProject = false
		}
	}
	if useProject {
		err := p.Metadata.UpdateProjectMetadata(ctx, t.Project, update)
		if err == nil {
			return pub, nil
		}
		if !isPermissionDenied(err) {
			return Publication{}, explainAPIError(fmt.Errorf("adding the SSH key to project metadata: %w", err), permSetCommonMetadata)
		}
		// No right to write project metadata: the instance will do.
	}
	pub = Publication{Method: MethodInstanceMetadata, Username: user, Expiry: expiry}
	if err := p.Metadata.UpdateInstanceMetadata(ctx, t.Project, t.Zone, t.Instance, update); err != nil {
		return Publication{}, explainAPIError(fmt.Errorf("adding the SSH key to the metadata of %s: %w", t.Instance, err), "compute.instances.setMetadata (roles/compute.instanceAdmin.v1)")
	}
	return pub, nil
}

func (p *Publisher) publishOSLogin(ctx context.Context, t Target, authorizedKey, email string, expiry time.Time, gs GuestSettings) (Publication, error) {
	if p.OSLogin == nil {
		return Publication{}, errors.New("this VM uses OS Login but no OS Login client is configured")
	}
	prof, err := p.OSLogin.ImportSSHPublicKey(ctx, email, t.Project, authorizedKey, expiry)
	if err != nil {
		return Publication{}, explainAPIError(fmt.Errorf("importing the SSH key into the OS Login profile of %s: %w", email, err), "OS Login (roles/compute.osLogin on the project)")
	}
	if !profileHasKey(prof, authorizedKey) {
		return Publication{}, ErrOSLoginKeyRejected
	}
	var user string
	for _, a := range prof.PosixAccounts {
		if a.Primary && (a.OperatingSystemType == "" || strings.EqualFold(a.OperatingSystemType, "LINUX")) {
			user = a.Username
			break
		}
	}
	if user == "" {
		return Publication{}, fmt.Errorf("the OS Login profile of %s has no primary Linux account: log in once with `gcloud compute ssh` or ask an administrator to check OS Login for your account", email)
	}
	return Publication{Method: MethodOSLogin, Username: user, Expiry: expiry, Changed: true, TwoFactor: gs.OSLogin2FA}, nil
}

func profileHasKey(prof LoginProfile, authorizedKey string) bool {
	want := strings.Fields(authorizedKey)
	if len(want) < 2 {
		return false
	}
	for _, k := range prof.SSHPublicKeys {
		f := strings.Fields(k)
		if len(f) >= 2 && f[0] == want[0] && f[1] == want[1] {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isPermissionDenied reports a 403 from a Google API.
func isPermissionDenied(err error) bool {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code == http.StatusForbidden
	}
	var sc interface{ HTTPStatus() int }
	if errors.As(err, &sc) {
		return sc.HTTPStatus() == http.StatusForbidden
	}
	return false
}

// explainAPIError adds what to do to a permission or service-account error.
func explainAPIError(err error, needs string) error {
	if strings.Contains(err.Error(), "roles/") {
		return err // already says which role
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusBadRequest {
		for _, e := range ge.Errors {
			if e.Message == "SERVICE_ACCOUNT_ACCESS_DENIED" {
				return fmt.Errorf("%w\nThe VM runs as a service account: you need roles/iam.serviceAccountUser on it to change its metadata", err)
			}
		}
		if strings.Contains(ge.Message, "SERVICE_ACCOUNT_ACCESS_DENIED") {
			return fmt.Errorf("%w\nThe VM runs as a service account: you need roles/iam.serviceAccountUser on it to change its metadata", err)
		}
	}
	if isPermissionDenied(err) {
		return fmt.Errorf("%w\nYou need %s", err, needs)
	}
	return err
}
