package api

import (
	"fmt"
	"strconv"
	"time"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

const computeBase = "https://www.googleapis.com/compute/v1/"

// Compute's JSON shapes. 64-bit integers are strings on the wire.

type metadataItem struct {
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

type metadataJSON struct {
	Kind        string         `json:"kind,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Items       []metadataItem `json:"items,omitempty"`
}

type accessConfig struct {
	Kind        string `json:"kind"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	NatIP       string `json:"natIP,omitempty"`
	NetworkTier string `json:"networkTier"`
}

type networkInterface struct {
	Kind          string         `json:"kind"`
	Name          string         `json:"name"`
	Network       string         `json:"network"`
	Subnetwork    string         `json:"subnetwork"`
	NetworkIP     string         `json:"networkIP"`
	StackType     string         `json:"stackType"`
	AccessConfigs []accessConfig `json:"accessConfigs,omitempty"`
	Fingerprint   string         `json:"fingerprint"`
}

type guestOSFeature struct {
	Type string `json:"type"`
}

type attachedDisk struct {
	Kind            string           `json:"kind"`
	Type            string           `json:"type"`
	Mode            string           `json:"mode"`
	Source          string           `json:"source"`
	DeviceName      string           `json:"deviceName"`
	Index           int64            `json:"index"`
	Boot            bool             `json:"boot"`
	AutoDelete      bool             `json:"autoDelete"`
	Licenses        []string         `json:"licenses,omitempty"`
	Interface       string           `json:"interface"`
	GuestOsFeatures []guestOSFeature `json:"guestOsFeatures,omitempty"`
	DiskSizeGb      string           `json:"diskSizeGb"`
	Architecture    string           `json:"architecture"`
}

type serviceAccountJSON struct {
	Email  string   `json:"email"`
	Scopes []string `json:"scopes"`
}

type tagsJSON struct {
	Items       []string `json:"items,omitempty"`
	Fingerprint string   `json:"fingerprint"`
}

type schedulingJSON struct {
	OnHostMaintenance string `json:"onHostMaintenance"`
	AutomaticRestart  bool   `json:"automaticRestart"`
	Preemptible       bool   `json:"preemptible"`
	ProvisioningModel string `json:"provisioningModel"`
}

type instanceJSON struct {
	Kind               string               `json:"kind"`
	ID                 string               `json:"id"`
	CreationTimestamp  string               `json:"creationTimestamp"`
	Name               string               `json:"name"`
	Tags               tagsJSON             `json:"tags"`
	MachineType        string               `json:"machineType"`
	Status             string               `json:"status"`
	StatusMessage      string               `json:"statusMessage,omitempty"`
	Zone               string               `json:"zone"`
	CanIPForward       bool                 `json:"canIpForward"`
	NetworkInterfaces  []networkInterface   `json:"networkInterfaces"`
	Disks              []attachedDisk       `json:"disks"`
	Metadata           metadataJSON         `json:"metadata"`
	ServiceAccounts    []serviceAccountJSON `json:"serviceAccounts,omitempty"`
	SelfLink           string               `json:"selfLink"`
	Scheduling         schedulingJSON       `json:"scheduling"`
	CPUPlatform        string               `json:"cpuPlatform,omitempty"`
	Labels             map[string]string    `json:"labels,omitempty"`
	LabelFingerprint   string               `json:"labelFingerprint"`
	StartRestricted    bool                 `json:"startRestricted"`
	DeletionProtection bool                 `json:"deletionProtection"`
	Fingerprint        string               `json:"fingerprint"`
	LastStartTimestamp string               `json:"lastStartTimestamp,omitempty"`
	Hostname           string               `json:"hostname,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(time.FixedZone("PST", -8*3600)).Format("2006-01-02T15:04:05.000-07:00")
}

func metadataWire(m cloud.Metadata) metadataJSON {
	out := metadataJSON{Kind: "compute#metadata", Fingerprint: m.Fingerprint}
	for _, it := range m.Items {
		v := it.Value
		out.Items = append(out.Items, metadataItem{Key: it.Key, Value: &v})
	}
	return out
}

func instanceURL(in cloud.Instance) string {
	return computeBase + in.ResourceName()
}

func instanceWire(in cloud.Instance) instanceJSON {
	zoneURL := computeBase + "projects/" + in.Project + "/zones/" + in.Zone
	nic := networkInterface{
		Kind: "compute#networkInterface", Name: "nic0",
		Network:    computeBase + in.Network,
		Subnetwork: computeBase + in.Subnetwork,
		NetworkIP:  in.InternalIP, StackType: "IPV4_ONLY", Fingerprint: "aGVsbG8=",
	}
	if in.ExternalIP != "" {
		nic.AccessConfigs = []accessConfig{{Kind: "compute#accessConfig", Type: "ONE_TO_ONE_NAT", Name: "External NAT", NatIP: in.ExternalIP, NetworkTier: "PREMIUM"}}
	}
	disk := attachedDisk{
		Kind: "compute#attachedDisk", Type: "PERSISTENT", Mode: "READ_WRITE",
		Source:     zoneURL + "/disks/" + in.Name,
		DeviceName: in.Name, Boot: true, AutoDelete: true, Interface: "SCSI",
		DiskSizeGb: "10", Architecture: "X86_64",
		GuestOsFeatures: []guestOSFeature{{Type: "VIRTIO_SCSI_MULTIQUEUE"}, {Type: "UEFI_COMPATIBLE"}},
		Licenses:        []string{computeBase + "projects/debian-cloud/global/licenses/debian-12-bookworm"},
	}
	if in.IsWindows() {
		disk.DiskSizeGb = "50"
		disk.GuestOsFeatures = append(disk.GuestOsFeatures, guestOSFeature{Type: "WINDOWS"})
		disk.Licenses = []string{computeBase + "projects/windows-cloud/global/licenses/windows-server-2022-dc"}
	}
	out := instanceJSON{
		Kind: "compute#instance", ID: strconv.FormatUint(in.ID, 10), CreationTimestamp: stamp(in.Created),
		Name: in.Name, Tags: tagsJSON{Items: in.Tags, Fingerprint: "42WmSpB8rSM="},
		MachineType: zoneURL + "/machineTypes/" + in.MachineType, Status: in.Status, Zone: zoneURL,
		NetworkInterfaces: []networkInterface{nic}, Disks: []attachedDisk{disk},
		Metadata: metadataWire(in.Metadata), SelfLink: instanceURL(in),
		Scheduling: schedulingJSON{OnHostMaintenance: "MIGRATE", AutomaticRestart: true, ProvisioningModel: "STANDARD"},
		Labels:     in.Labels, LabelFingerprint: "42WmSpB8rSM=", Fingerprint: "x1NR3bMqJ2U=",
		LastStartTimestamp: stamp(in.LastStart),
	}
	if in.Status == "RUNNING" {
		out.CPUPlatform = "Intel Broadwell"
	}
	if in.ServiceAccount != "" {
		out.ServiceAccounts = []serviceAccountJSON{{Email: in.ServiceAccount, Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}}
	}
	return out
}

type firewallRuleJSON struct {
	IPProtocol string   `json:"IPProtocol"`
	Ports      []string `json:"ports,omitempty"`
}

type firewallJSON struct {
	Kind                  string             `json:"kind"`
	ID                    string             `json:"id"`
	CreationTimestamp     string             `json:"creationTimestamp"`
	Name                  string             `json:"name"`
	Description           string             `json:"description,omitempty"`
	Network               string             `json:"network"`
	Priority              int                `json:"priority"`
	Direction             string             `json:"direction"`
	SourceRanges          []string           `json:"sourceRanges,omitempty"`
	SourceTags            []string           `json:"sourceTags,omitempty"`
	SourceServiceAccounts []string           `json:"sourceServiceAccounts,omitempty"`
	TargetTags            []string           `json:"targetTags,omitempty"`
	TargetServiceAccounts []string           `json:"targetServiceAccounts,omitempty"`
	Allowed               []firewallRuleJSON `json:"allowed,omitempty"`
	Denied                []firewallRuleJSON `json:"denied,omitempty"`
	Disabled              bool               `json:"disabled"`
	SelfLink              string             `json:"selfLink"`
}

func rulesWire(rs []world.Rule) []firewallRuleJSON {
	var out []firewallRuleJSON
	for _, r := range rs {
		out = append(out, firewallRuleJSON{IPProtocol: r.IPProtocol, Ports: r.Ports})
	}
	return out
}

func firewallWire(projectID string, f world.Firewall) firewallJSON {
	prio := 1000
	if f.Priority != nil {
		prio = *f.Priority
	}
	dir := f.Direction
	if dir == "" {
		dir = "INGRESS"
	}
	return firewallJSON{
		Kind: "compute#firewall", ID: fmt.Sprint(hashID(projectID, f.Name)), CreationTimestamp: "2024-01-01T00:00:00.000-08:00",
		Name: f.Name, Network: computeBase + world.NetworkPath(projectID, f.Network), Priority: prio, Direction: dir,
		SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts, TargetTags: f.TargetTags,
		TargetServiceAccounts: f.TargetServiceAccounts, Allowed: rulesWire(f.Allowed), Denied: rulesWire(f.Denied),
		Disabled: f.Disabled, SelfLink: computeBase + "projects/" + projectID + "/global/firewalls/" + f.Name,
	}
}

// hashID derives a stable numeric ID from names.
func hashID(parts ...string) uint64 {
	var h uint64 = 14695981039346656037
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= 1099511628211
		}
		h ^= '/'
		h *= 1099511628211
	}
	return h >> 1
}
