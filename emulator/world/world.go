// Package world is the emulator's description of a Google Cloud: the file
// format (YAML or JSON) that tests and the demo load, and its validation.
// Live, mutable state built from it belongs to the emulator's other packages.
package world

// World is the whole emulated cloud as written in a world file.
type World struct {
	// Users can sign in; the first is the emulator's default user, whose
	// access token `iapterm emulator` prints.
	Users []User `json:"users" yaml:"users"`
	// Groups maps a group email to its member emails, for IAM bindings on
	// "group:" members.
	Groups   map[string][]string `json:"groups,omitempty" yaml:"groups,omitempty"`
	Projects []Project           `json:"projects" yaml:"projects"`
}

// User is a Google account of the emulated cloud.
type User struct {
	Email string `json:"email" yaml:"email"`
	Name  string `json:"name,omitempty" yaml:"name,omitempty"`
	// Token, when set, is a fixed access token for this user that never
	// expires (for tests and scripts). Otherwise tokens come from OAuth.
	Token string `json:"token,omitempty" yaml:"token,omitempty"`
	// TwoFactor makes OS Login 2-step verification ask this user for a code.
	TwoFactorCode string `json:"twoFactorCode,omitempty" yaml:"twoFactorCode,omitempty"`
	// PosixUsername overrides the OS Login username derived from the email.
	PosixUsername string `json:"posixUsername,omitempty" yaml:"posixUsername,omitempty"`
	// AccessLevels are the Access Context Manager levels this user's device
	// satisfies (accessPolicies/N/accessLevels/NAME): the relay gives them
	// to IAM conditions as request.auth.access_levels.
	AccessLevels []string `json:"accessLevels,omitempty" yaml:"accessLevels,omitempty"`
}

// Project is one Google Cloud project.
type Project struct {
	ID     string            `json:"id" yaml:"id"`
	Number int64             `json:"number,omitempty" yaml:"number,omitempty"` // derived when 0
	Name   string            `json:"name,omitempty" yaml:"name,omitempty"`     // display name; ID when empty
	State  string            `json:"state,omitempty" yaml:"state,omitempty"`   // ACTIVE when empty
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Parent string            `json:"parent,omitempty" yaml:"parent,omitempty"` // e.g. organizations/123
	// Metadata is the project's commonInstanceMetadata.
	Metadata map[string]string `json:"metadata,omitempty" yaml:"metadata,omitempty"`
	// IAM is the Resource Manager policy of the project.
	IAM []Binding `json:"iam,omitempty" yaml:"iam,omitempty"`
	// IAPTunnelIAM is the policy on projects/P/iap_tunnel (inherited by
	// zones and instances).
	IAPTunnelIAM []Binding  `json:"iapTunnelIam,omitempty" yaml:"iapTunnelIam,omitempty"`
	Firewalls    []Firewall `json:"firewalls,omitempty" yaml:"firewalls,omitempty"`
	Instances    []Instance `json:"instances,omitempty" yaml:"instances,omitempty"`
	// Zones lists zones that exist without instances (they show the
	// NO_RESULTS_ON_PAGE warning in aggregated lists).
	Zones []string `json:"zones,omitempty" yaml:"zones,omitempty"`
	// UnreachableZones are reported in aggregated lists' "unreachables".
	UnreachableZones []string `json:"unreachableZones,omitempty" yaml:"unreachableZones,omitempty"`
}

// Binding grants a role to members, optionally under a CEL condition.
type Binding struct {
	Role      string     `json:"role" yaml:"role"`
	Members   []string   `json:"members" yaml:"members"` // user:EMAIL, group:EMAIL, allUsers, ...
	Condition *Condition `json:"condition,omitempty" yaml:"condition,omitempty"`
}

// Condition is an IAM condition.
type Condition struct {
	Title       string `json:"title,omitempty" yaml:"title,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Expression  string `json:"expression" yaml:"expression"`
}

// Firewall is a VPC firewall rule, with Compute's field names.
type Firewall struct {
	Name                  string   `json:"name" yaml:"name"`
	Network               string   `json:"network,omitempty" yaml:"network,omitempty"`     // network name; "default" when empty
	Direction             string   `json:"direction,omitempty" yaml:"direction,omitempty"` // INGRESS when empty
	Priority              *int     `json:"priority,omitempty" yaml:"priority,omitempty"`   // 1000 when nil
	Disabled              bool     `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	SourceRanges          []string `json:"sourceRanges,omitempty" yaml:"sourceRanges,omitempty"`
	SourceTags            []string `json:"sourceTags,omitempty" yaml:"sourceTags,omitempty"`
	SourceServiceAccounts []string `json:"sourceServiceAccounts,omitempty" yaml:"sourceServiceAccounts,omitempty"`
	TargetTags            []string `json:"targetTags,omitempty" yaml:"targetTags,omitempty"`
	TargetServiceAccounts []string `json:"targetServiceAccounts,omitempty" yaml:"targetServiceAccounts,omitempty"`
	Allowed               []Rule   `json:"allowed,omitempty" yaml:"allowed,omitempty"`
	Denied                []Rule   `json:"denied,omitempty" yaml:"denied,omitempty"`
}

// Rule is one protocol and its ports ("22", "8000-8100"); no ports means all.
type Rule struct {
	IPProtocol string   `json:"IPProtocol" yaml:"IPProtocol"`
	Ports      []string `json:"ports,omitempty" yaml:"ports,omitempty"`
}

// Instance is one VM.
type Instance struct {
	Name        string `json:"name" yaml:"name"`
	Zone        string `json:"zone" yaml:"zone"`
	ID          uint64 `json:"id,omitempty" yaml:"id,omitempty"`                   // derived when 0
	Status      string `json:"status,omitempty" yaml:"status,omitempty"`           // RUNNING when empty
	OS          string `json:"os,omitempty" yaml:"os,omitempty"`                   // linux (default) or windows
	MachineType string `json:"machineType,omitempty" yaml:"machineType,omitempty"` // e2-medium when empty
	// Network is a network name in this project ("default" when empty), or
	// "projects/HOST/global/networks/NAME" for a shared VPC.
	Network        string            `json:"network,omitempty" yaml:"network,omitempty"`
	Subnetwork     string            `json:"subnetwork,omitempty" yaml:"subnetwork,omitempty"`
	InternalIP     string            `json:"internalIP,omitempty" yaml:"internalIP,omitempty"` // derived when empty
	ExternalIP     string            `json:"externalIP,omitempty" yaml:"externalIP,omitempty"`
	Labels         map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Tags           []string          `json:"tags,omitempty" yaml:"tags,omitempty"`
	ServiceAccount string            `json:"serviceAccount,omitempty" yaml:"serviceAccount,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty" yaml:"metadata,omitempty"`
	// IAPTunnelIAM is the policy on projects/P/iap_tunnel/zones/Z/instances/I.
	IAPTunnelIAM []Binding `json:"iapTunnelIam,omitempty" yaml:"iapTunnelIam,omitempty"`
	// Backends maps a VM port to the local address that stands behind it
	// ("127.0.0.1:2222"), or to "builtin-ssh" for the emulator's own SSH
	// server with a real shell. --backend flags add to this.
	Backends map[int]string `json:"backends,omitempty" yaml:"backends,omitempty"`
	// AuthorizedKeysFile, for a VM whose SSH port is an external sshd,
	// is the authorized_keys file the simulated guest agent keeps up to
	// date with the keys it applied (metadata, or OS Login when on). "%u"
	// in the file name makes one file per login name, as in sshd's
	// AuthorizedKeysFile. A relative path is relative to the world file.
	AuthorizedKeysFile string `json:"authorizedKeysFile,omitempty" yaml:"authorizedKeysFile,omitempty"`
	// AuthorizedKeysUser limits the file to one login name's keys (every
	// user's when empty).
	AuthorizedKeysUser string `json:"authorizedKeysUser,omitempty" yaml:"authorizedKeysUser,omitempty"`
	// Serial holds initial serial port output per port (1..4).
	Serial map[int]string `json:"serial,omitempty" yaml:"serial,omitempty"`
}
