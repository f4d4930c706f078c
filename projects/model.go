// Package projects is iapterm's model of Google Cloud: projects, zones and
// instances, the API clients that fill it (google.golang.org/api, built from
// the one endpoint setting) and the on-disk inventory cache. It knows nothing
// of the UI.
package projects

import (
	"strings"
	"time"
)

// OS is an instance's guest operating system family.
type OS string

const (
	Linux   OS = "linux"
	Windows OS = "windows"
)

// Project is one Google Cloud project as the explorer shows it.
type Project struct {
	ID     string            `json:"id"`
	Number string            `json:"number,omitempty"`
	Name   string            `json:"name,omitempty"` // display name
	State  string            `json:"state,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Parent string            `json:"parent,omitempty"`
}

// Instance is a VM with the fields iapterm uses, parsed from compute.Instance.
type Instance struct {
	Project        string            `json:"project"`
	Zone           string            `json:"zone"` // short name, e.g. us-central1-a
	Name           string            `json:"name"`
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	StatusMessage  string            `json:"statusMessage,omitempty"`
	OS             OS                `json:"os"`
	MachineType    string            `json:"machineType,omitempty"` // short name
	CPUPlatform    string            `json:"cpuPlatform,omitempty"`
	Hostname       string            `json:"hostname,omitempty"`
	InternalIP     string            `json:"internalIP,omitempty"` // nic0 networkIP
	ExternalIP     string            `json:"externalIP,omitempty"` // first ONE_TO_ONE_NAT natIP
	Network        string            `json:"network,omitempty"`    // nic0 network URL
	Subnetwork     string            `json:"subnetwork,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	ServiceAccount string            `json:"serviceAccount,omitempty"`
	Scopes         []string          `json:"scopes,omitempty"`
	Licenses       []string          `json:"licenses,omitempty"`
	// Metadata holds the instance's own metadata items (not the project's).
	Metadata          map[string]string `json:"metadata,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	LastStart         string            `json:"lastStartTimestamp,omitempty"`
	ShieldedVM        map[string]bool   `json:"shieldedVM,omitempty"`
}

// Key identifies an instance uniquely.
func (i Instance) Key() string { return i.Project + "/" + i.Zone + "/" + i.Name }

// Running reports whether the instance status is RUNNING.
func (i Instance) Running() bool { return i.Status == "RUNNING" }

// InternalDNS is the zonal internal DNS name Compute gives the instance.
func (i Instance) InternalDNS() string {
	if i.Hostname != "" {
		return i.Hostname
	}
	return i.Name + "." + i.Zone + ".c." + strings.ReplaceAll(i.Project, ":", ".") + ".internal"
}

// Inventory is everything loaded for a set of projects at one moment.
type Inventory struct {
	Projects  []Project             `json:"projects"`
	Instances map[string][]Instance `json:"instances"` // by project ID, sorted by name
	// Warnings are per-project problems (unreachable zones, 403s) that did
	// not stop the rest from loading.
	Warnings map[string][]string `json:"warnings,omitempty"`
	// Failed names, sorted, the projects whose instances could not be
	// listed at all (their warnings say why).
	Failed []string  `json:"-"`
	Loaded time.Time `json:"loaded"`
}
