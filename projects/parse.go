package projects

import (
	"strconv"
	"strings"

	"google.golang.org/api/compute/v1"
)

// ParseInstance converts a Compute instance into iapterm's model.
func ParseInstance(project string, ci *compute.Instance) Instance {
	in := Instance{
		Project:           project,
		Zone:              ShortName(ci.Zone),
		Name:              ci.Name,
		Status:            ci.Status,
		StatusMessage:     ci.StatusMessage,
		OS:                DetectOS(ci.Disks),
		MachineType:       ShortName(ci.MachineType),
		CPUPlatform:       ci.CpuPlatform,
		Hostname:          ci.Hostname,
		Labels:            ci.Labels,
		CreationTimestamp: ci.CreationTimestamp,
		LastStart:         ci.LastStartTimestamp,
	}
	if ci.Id != 0 {
		in.ID = strconv.FormatUint(ci.Id, 10)
	}
	if nic := primaryNIC(ci.NetworkInterfaces); nic != nil {
		in.InternalIP = nic.NetworkIP
		in.Network = nic.Network
		in.Subnetwork = nic.Subnetwork
	}
	in.ExternalIP = externalIP(ci.NetworkInterfaces)
	if ci.Tags != nil && len(ci.Tags.Items) > 0 {
		in.Tags = append([]string(nil), ci.Tags.Items...)
	}
	if len(ci.ServiceAccounts) > 0 && ci.ServiceAccounts[0] != nil {
		in.ServiceAccount = ci.ServiceAccounts[0].Email
		in.Scopes = append([]string(nil), ci.ServiceAccounts[0].Scopes...)
	}
	for _, d := range ci.Disks {
		if d != nil {
			in.Licenses = append(in.Licenses, d.Licenses...)
		}
	}
	if ci.Metadata != nil && len(ci.Metadata.Items) > 0 {
		in.Metadata = metadataMap(ci.Metadata.Items)
	}
	if s := ci.ShieldedInstanceConfig; s != nil {
		in.ShieldedVM = map[string]bool{
			"secureBoot":          s.EnableSecureBoot,
			"vTPM":                s.EnableVtpm,
			"integrityMonitoring": s.EnableIntegrityMonitoring,
		}
	}
	return in
}

// ShortName is the last path segment of a Compute URL ("zones/us-a" or a
// full self-link); a bare name is returned unchanged.
func ShortName(link string) string {
	if i := strings.LastIndexByte(link, '/'); i >= 0 {
		return link[i+1:]
	}
	return link
}

// DetectOS reports Windows when any disk has the WINDOWS guest OS feature or
// a license from the windows-cloud project (bring-your-own-license images
// included); everything else is Linux.
func DetectOS(disks []*compute.AttachedDisk) OS {
	for _, d := range disks {
		if d == nil {
			continue
		}
		for _, f := range d.GuestOsFeatures {
			if f != nil && strings.EqualFold(f.Type, "WINDOWS") {
				return Windows
			}
		}
		for _, l := range d.Licenses {
			if isWindowsLicense(l) {
				return Windows
			}
		}
	}
	return Linux
}

func isWindowsLicense(link string) bool {
	// .../projects/windows-cloud/global/licenses/windows-server-2022-dc
	i := strings.Index(link, "projects/windows-cloud/")
	return i == 0 || (i > 0 && link[i-1] == '/')
}

func primaryNIC(nics []*compute.NetworkInterface) *compute.NetworkInterface {
	for _, n := range nics {
		if n != nil && n.Name == "nic0" {
			return n
		}
	}
	for _, n := range nics {
		if n != nil {
			return n
		}
	}
	return nil
}

func externalIP(nics []*compute.NetworkInterface) string {
	for _, n := range nics {
		if n == nil {
			continue
		}
		for _, ac := range n.AccessConfigs {
			if ac != nil && ac.Type == "ONE_TO_ONE_NAT" && ac.NatIP != "" {
				return ac.NatIP
			}
		}
	}
	return ""
}

func metadataMap(items []*compute.MetadataItems) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		if it == nil {
			continue
		}
		v := ""
		if it.Value != nil {
			v = *it.Value
		}
		m[it.Key] = v
	}
	return m
}
