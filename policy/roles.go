package policy

import (
	"slices"
	"strings"
)

// Permissions the client and the doctor care about.
const (
	PermTunnelAccess       = "iap.tunnelInstances.accessViaIAP"
	PermTunnelDestGroup    = "iap.tunnelDestGroups.accessViaIAP"
	PermInstancesGet       = "compute.instances.get"
	PermInstancesList      = "compute.instances.list"
	PermSetMetadata        = "compute.instances.setMetadata"
	PermOSLogin            = "compute.instances.osLogin"
	PermOSAdminLogin       = "compute.instances.osAdminLogin"
	PermSerialPortOutput   = "compute.instances.getSerialPortOutput"
	PermProjectsGet        = "compute.projects.get"
	PermSetCommonMetadata  = "compute.projects.setCommonInstanceMetadata"
	PermGlobalOperationGet = "compute.globalOperations.get"
	PermZoneOperationGet   = "compute.zoneOperations.get"
	PermFirewallsList      = "compute.firewalls.list"
	PermFirewallsCreate    = "compute.firewalls.create"
	PermActAs              = "iam.serviceAccounts.actAs"
	PermWebAccess          = "iap.webServiceVersions.accessViaIAP"
)

// Role names of the predefined roles known here.
const (
	RoleOwner                = "roles/owner"
	RoleEditor               = "roles/editor"
	RoleViewer               = "roles/viewer"
	RoleTunnelResourceAccess = "roles/iap.tunnelResourceAccessor"
	RoleOSLogin              = "roles/compute.osLogin"
	RoleOSAdminLogin         = "roles/compute.osAdminLogin"
	RoleServiceAccountUser   = "roles/iam.serviceAccountUser"
	RoleHTTPSResourceAccess  = "roles/iap.httpsResourceAccessor"
)

// The permission sets below hold what each predefined role grants among
// the permissions iapterm uses (Compute, IAP, IAM, Resource Manager); they
// are not the roles' complete lists.
var (
	computeRead = []string{
		"compute.instances.get", "compute.instances.list", "compute.instances.getEffectiveFirewalls",
		"compute.instances.getGuestAttributes", "compute.instances.getShieldedInstanceIdentity",
		"compute.projects.get", "compute.zones.get", "compute.zones.list", "compute.regions.get", "compute.regions.list",
		"compute.globalOperations.get", "compute.globalOperations.list",
		"compute.zoneOperations.get", "compute.zoneOperations.list",
		"compute.firewalls.get", "compute.firewalls.list",
		"compute.networks.get", "compute.networks.list", "compute.subnetworks.get", "compute.subnetworks.list",
		"compute.machineTypes.get", "compute.machineTypes.list", "compute.disks.get", "compute.disks.list",
	}
	instanceWrite = []string{
		"compute.instances.setMetadata", "compute.instances.setLabels", "compute.instances.setTags",
		"compute.instances.start", "compute.instances.stop", "compute.instances.reset",
		"compute.instances.suspend", "compute.instances.resume",
		"compute.instances.getSerialPortOutput", "compute.instances.osLogin", "compute.instances.osAdminLogin",
		"compute.instances.create", "compute.instances.delete", "compute.instances.update",
		"compute.instances.setServiceAccount", "compute.instances.setMachineType",
		"compute.projects.setCommonInstanceMetadata",
	}
	firewallWrite = []string{
		"compute.firewalls.create", "compute.firewalls.update", "compute.firewalls.delete",
		"compute.networks.updatePolicy",
	}
	projectRead = []string{"resourcemanager.projects.get", "resourcemanager.projects.list"}
	iamRead     = []string{"resourcemanager.projects.getIamPolicy"}
	iapPolicy   = []string{
		"iap.tunnel.getIamPolicy", "iap.tunnel.setIamPolicy",
		"iap.tunnelZones.getIamPolicy", "iap.tunnelZones.setIamPolicy",
		"iap.tunnelInstances.getIamPolicy", "iap.tunnelInstances.setIamPolicy",
		"iap.tunnelDestGroups.getIamPolicy", "iap.tunnelDestGroups.setIamPolicy",
		"iap.web.getIamPolicy", "iap.web.setIamPolicy",
		"iap.webServices.getIamPolicy", "iap.webServices.setIamPolicy",
	}
	serviceAccountUse = []string{"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"}
	tunnelAccess      = []string{PermTunnelAccess, PermTunnelDestGroup}
	loginRead         = []string{"compute.instances.get", "compute.instances.list", "compute.projects.get",
		"resourcemanager.projects.get", "compute.oslogin.updateExternalUser"}
)

func union(sets ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, s := range sets {
		for _, p := range s {
			m[p] = true
		}
	}
	return m
}

var roles = func() map[string]map[string]bool {
	viewer := union(computeRead, projectRead, iamRead, []string{"iam.serviceAccounts.get", "iam.serviceAccounts.list"})
	editor := union(computeRead, projectRead, iamRead, instanceWrite, firewallWrite, serviceAccountUse)
	owner := union(computeRead, projectRead, iamRead, instanceWrite, firewallWrite, serviceAccountUse,
		tunnelAccess, iapPolicy, []string{PermWebAccess}, []string{"resourcemanager.projects.setIamPolicy"})
	return map[string]map[string]bool{
		RoleOwner:                owner,
		RoleEditor:               editor,
		RoleViewer:               viewer,
		RoleTunnelResourceAccess: union(tunnelAccess),
		RoleHTTPSResourceAccess:  union([]string{PermWebAccess}),
		RoleOSLogin:              union(loginRead, []string{PermOSLogin}),
		RoleOSAdminLogin:         union(loginRead, []string{PermOSLogin, PermOSAdminLogin}),
		"roles/compute.instanceAdmin.v1": union(computeRead, instanceWrite,
			[]string{"resourcemanager.projects.get"}),
		"roles/compute.instanceAdmin": union(computeRead, instanceWrite),
		"roles/compute.admin": union(computeRead, instanceWrite, firewallWrite,
			[]string{"resourcemanager.projects.get", "resourcemanager.projects.list"}),
		"roles/compute.viewer":                  union(computeRead, []string{"resourcemanager.projects.get", "resourcemanager.projects.list"}),
		"roles/compute.securityAdmin":           union([]string{"compute.firewalls.get", "compute.firewalls.list", "compute.networks.get", "compute.networks.list", "compute.projects.get", "compute.globalOperations.get", "compute.zoneOperations.get", "resourcemanager.projects.get", "resourcemanager.projects.list"}, firewallWrite),
		"roles/compute.networkAdmin":            union([]string{"compute.firewalls.get", "compute.firewalls.list", "compute.networks.get", "compute.networks.list", "compute.subnetworks.get", "compute.subnetworks.list", "compute.instances.get", "compute.instances.list", "compute.projects.get", "compute.globalOperations.get", "compute.zoneOperations.get", "resourcemanager.projects.get", "resourcemanager.projects.list"}),
		RoleServiceAccountUser:                  union(serviceAccountUse, projectRead),
		"roles/resourcemanager.projectIamAdmin": union([]string{"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"}),
		"roles/iap.admin":                       union(iapPolicy, projectRead),
		"roles/iap.settingsAdmin":               union(projectRead),
		"roles/browser":                         union(projectRead, iamRead, []string{"resourcemanager.folders.get", "resourcemanager.folders.list"}),
		"roles/oslogin.externalUser":            union([]string{"compute.oslogin.updateExternalUser"}),
	}
}()

// RoleIncludes reports whether the predefined role grants permission.
// Unknown roles (custom roles, roles outside Compute, IAP, IAM and Resource
// Manager) grant nothing here: check KnownRole to tell the two apart.
func RoleIncludes(role, permission string) bool {
	return roles[role][permission]
}

// KnownRole reports whether RoleIncludes knows role's permissions.
func KnownRole(role string) bool {
	_, ok := roles[role]
	return ok
}

// RolesGranting lists the known roles that include permission, most
// specific (fewest permissions) first, for "grant one of these" advice.
func RolesGranting(permission string) []string {
	var out []string
	for r, perms := range roles {
		if perms[permission] {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := len(roles[a]) - len(roles[b]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// RolePermissions returns the permissions known for role, sorted.
func RolePermissions(role string) []string {
	var out []string
	for p := range roles[role] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
