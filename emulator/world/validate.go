package world

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"iapterm/policy"
)

// Statuses are the instance states Compute reports.
var Statuses = []string{"PROVISIONING", "STAGING", "RUNNING", "STOPPING", "PENDING_STOP", "STOPPED", "TERMINATED", "SUSPENDING", "SUSPENDED", "REPAIRING", "DEPROVISIONING", "PENDING"}

// BuiltinSSH is the backend name of the emulator's own SSH server.
const BuiltinSSH = "builtin-ssh"

type problem struct {
	path []any
	msg  string
}

func (p problem) pathString() string {
	var b strings.Builder
	for _, e := range p.path {
		switch v := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		}
	}
	return b.String()
}

type validator struct{ probs []problem }

func (v *validator) add(path []any, format string, args ...any) {
	v.probs = append(v.probs, problem{path: append([]any(nil), path...), msg: fmt.Sprintf(format, args...)})
}

func at(base []any, more ...any) []any {
	return append(append([]any(nil), base...), more...)
}

var (
	projectIDRe   = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	nameRe        = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	zoneRe        = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	metadataKeyRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	networkPathRe = regexp.MustCompile(`^projects/[a-z]([a-z0-9-]*[a-z0-9])?/global/networks/[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// Validate checks a world that already has its defaults (as Parse leaves
// it). Parse calls it; use it after building a World in code.
func (w *World) Validate() error {
	probs := w.validate()
	if len(probs) == 0 {
		return nil
	}
	errs := make(Errors, len(probs))
	for i, p := range probs {
		errs[i] = &Error{File: "world", Path: p.pathString(), Msg: p.msg}
	}
	return errs
}

func (w *World) validate() []problem {
	v := &validator{}
	if len(w.Users) == 0 {
		v.add([]any{"users"}, "no users: add at least one, e.g. `users: [{email: demo@example.com}]` (the first is the default user)")
	}
	emails := map[string]bool{}
	tokens := map[string]bool{}
	for i, u := range w.Users {
		p := []any{"users", i}
		if !validEmail(u.Email) {
			v.add(at(p, "email"), "%q is not an email address", u.Email)
		} else if emails[strings.ToLower(u.Email)] {
			v.add(at(p, "email"), "user %s is listed twice", u.Email)
		}
		emails[strings.ToLower(u.Email)] = true
		for j, l := range u.AccessLevels {
			if !policy.ValidAccessLevel(l) {
				v.add(at(p, "accessLevels", j), "%q is not an access level name: write accessPolicies/POLICY/accessLevels/LEVEL", l)
			}
		}
		if u.Token != "" {
			if tokens[u.Token] {
				v.add(at(p, "token"), "two users share the same token")
			}
			tokens[u.Token] = true
		}
	}
	for g, members := range w.Groups {
		if !validEmail(g) {
			v.add([]any{"groups", g}, "group name %q is not an email address", g)
		}
		for _, m := range members {
			if !validEmail(m) {
				v.add([]any{"groups", g}, "member %q is not an email address", m)
			}
		}
	}
	if len(w.Projects) == 0 {
		v.add([]any{"projects"}, "no projects: add at least one")
	}
	ids := map[string]bool{}
	numbers := map[int64]string{}
	instanceIDs := map[uint64]string{}
	ips := map[string]string{} // network/ip -> instance
	for pi := range w.Projects {
		pr := &w.Projects[pi]
		p := []any{"projects", pi}
		switch {
		case !projectIDRe.MatchString(pr.ID):
			v.add(at(p, "id"), "project ID %q must be lowercase letters, digits and hyphens, start with a letter, at most 63 characters", pr.ID)
		case ids[pr.ID]:
			v.add(at(p, "id"), "project %s is listed twice", pr.ID)
		}
		ids[pr.ID] = true
		if other, dup := numbers[pr.Number]; dup {
			v.add(at(p, "number"), "project number %d is also used by %s", pr.Number, other)
		} else if pr.Number < 0 {
			v.add(at(p, "number"), "project number must be positive")
		}
		numbers[pr.Number] = pr.ID
		switch pr.State {
		case "ACTIVE", "DELETE_REQUESTED", "DELETE_IN_PROGRESS":
		default:
			v.add(at(p, "state"), "unknown state %q (ACTIVE, DELETE_REQUESTED or DELETE_IN_PROGRESS)", pr.State)
		}
		if pr.Parent != "" && !parentRe.MatchString(pr.Parent) {
			v.add(at(p, "parent"), "parent %q must be organizations/NUMBER or folders/NUMBER", pr.Parent)
		}
		v.labels(at(p, "labels"), pr.Labels)
		v.metadata(at(p, "metadata"), pr.Metadata)
		v.bindings(at(p, "iam"), pr.IAM)
		v.bindings(at(p, "iapTunnelIam"), pr.IAPTunnelIAM)
		fwNames := map[string]bool{}
		for fi := range pr.Firewalls {
			v.firewall(at(p, "firewalls", fi), &pr.Firewalls[fi], fwNames)
		}
		for zi, z := range pr.Zones {
			if !zoneRe.MatchString(z) {
				v.add(at(p, "zones", zi), "%q is not a zone name like us-central1-a", z)
			} else if contains(pr.Zones[:zi], z) {
				v.add(at(p, "zones", zi), "zone %s is listed twice", z)
			}
		}
		for zi, z := range pr.UnreachableZones {
			if !zoneRe.MatchString(z) {
				v.add(at(p, "unreachableZones", zi), "%q is not a zone name like us-central1-a", z)
			}
		}
		names := map[string]bool{}
		for ii := range pr.Instances {
			in := &pr.Instances[ii]
			ip := at(p, "instances", ii)
			if !nameRe.MatchString(in.Name) {
				v.add(at(ip, "name"), "instance name %q must be lowercase letters, digits and hyphens, start with a letter, at most 63 characters", in.Name)
			}
			if !zoneRe.MatchString(in.Zone) {
				v.add(at(ip, "zone"), "zone %q is missing or not a zone name like us-central1-a", in.Zone)
			}
			key := in.Zone + "/" + in.Name
			dupName := names[key]
			if dupName {
				v.add(at(ip, "name"), "instance %s is listed twice in zone %s", in.Name, in.Zone)
			}
			names[key] = true
			// A repeated name derives the same id: one problem, said once.
			if other, dup := instanceIDs[in.ID]; dup && !dupName {
				v.add(at(ip, "id"), "instance id %d is also used by %s", in.ID, other)
			}
			instanceIDs[in.ID] = pr.ID + "/" + key
			if !contains(Statuses, in.Status) {
				v.add(at(ip, "status"), "unknown status %q (one of %s)", in.Status, strings.Join(Statuses, ", "))
			}
			if in.OS != "linux" && in.OS != "windows" {
				v.add(at(ip, "os"), "unknown os %q (linux or windows)", in.OS)
			}
			if !nameRe.MatchString(in.MachineType) {
				v.add(at(ip, "machineType"), "machine type %q is not a name like e2-medium", in.MachineType)
			}
			if strings.HasPrefix(in.Network, "projects/") {
				if !networkPathRe.MatchString(in.Network) {
					v.add(at(ip, "network"), "network %q must be a name or projects/HOST/global/networks/NAME", in.Network)
				} else if host := strings.Split(in.Network, "/")[1]; !slices.ContainsFunc(w.Projects, func(o Project) bool { return o.ID == host }) {
					// Its firewall rules live in the host project: without
					// it, every tunnel to the VM would fail 4003 unexplained.
					v.add(at(ip, "network"), "the shared VPC host project %s is not in the world: add it, with the network's firewall rules", host)
				}
			} else if !nameRe.MatchString(in.Network) {
				v.add(at(ip, "network"), "network %q must be a name or projects/HOST/global/networks/NAME", in.Network)
			}
			if a, err := netip.ParseAddr(in.InternalIP); err != nil || !a.Is4() {
				v.add(at(ip, "internalIP"), "%q is not an IPv4 address", in.InternalIP)
			} else {
				nk := NetworkPath(pr.ID, in.Network) + " " + in.InternalIP
				if other, dup := ips[nk]; dup {
					v.add(at(ip, "internalIP"), "address %s is also used by %s on the same network", in.InternalIP, other)
				}
				ips[nk] = pr.ID + "/" + key
			}
			if in.ExternalIP != "" {
				if _, err := netip.ParseAddr(in.ExternalIP); err != nil {
					v.add(at(ip, "externalIP"), "%q is not an IP address", in.ExternalIP)
				}
			}
			for ti, tag := range in.Tags {
				if !nameRe.MatchString(tag) {
					v.add(at(ip, "tags", ti), "network tag %q must be lowercase letters, digits and hyphens, start with a letter, at most 63 characters", tag)
				}
			}
			v.labels(at(ip, "labels"), in.Labels)
			if in.ServiceAccount != "" && !validEmail(in.ServiceAccount) {
				v.add(at(ip, "serviceAccount"), "%q is not a service account email", in.ServiceAccount)
			}
			v.metadata(at(ip, "metadata"), in.Metadata)
			v.bindings(at(ip, "iapTunnelIam"), in.IAPTunnelIAM)
			for port, b := range in.Backends {
				if port < 1 || port > 65535 {
					v.add(at(ip, "backends"), "port %d is outside 1-65535", port)
				}
				if err := CheckBackend(b); err != nil {
					v.add(at(ip, "backends", strconv.Itoa(port)), "%v", err)
				}
			}
			if in.AuthorizedKeysFile != "" || in.AuthorizedKeysUser != "" {
				v.authorizedKeys(ip, in)
			}
			for port := range in.Serial {
				if port < 1 || port > 4 {
					v.add(at(ip, "serial"), "serial port %d is outside 1-4", port)
				}
			}
		}
	}
	return v.probs
}

// authorizedKeysUserRe is a login name that is safe in a file name.
var authorizedKeysUserRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

func (v *validator) authorizedKeys(ip []any, in *Instance) {
	f := in.AuthorizedKeysFile
	switch {
	case f == "":
		v.add(at(ip, "authorizedKeysUser"), "authorizedKeysUser needs authorizedKeysFile (the file the guest agent writes)")
		return
	case in.IsWindows():
		v.add(at(ip, "authorizedKeysFile"), "a Windows VM has no authorized_keys file")
	case strings.Contains(filepath.Dir(f), "%u"):
		v.add(at(ip, "authorizedKeysFile"), "%q: %%u may appear only in the file name, not in a directory", f)
	}
	if u := in.AuthorizedKeysUser; u != "" && !authorizedKeysUserRe.MatchString(u) {
		v.add(at(ip, "authorizedKeysUser"), "%q is not a login name (letters, digits, _ . -, at most 32, not starting with . or -)", u)
	}
}

// CheckBackend says what is wrong with a backend address, if anything: it
// must be "builtin-ssh" or HOST:PORT.
func CheckBackend(b string) error {
	if b == BuiltinSSH {
		return nil
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil || host == "" {
		return fmt.Errorf("backend %q must be HOST:PORT (e.g. 127.0.0.1:2222) or %s", b, BuiltinSSH)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("backend %q: port must be 1-65535", b)
	}
	return nil
}

var (
	parentRe     = regexp.MustCompile(`^(organizations|folders)/[0-9]+$`)
	labelKeyRe   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRe = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// labels checks keys and values the way Compute and Resource Manager do
// (lowercase letters, digits, _ and -; keys start with a letter).
func (v *validator) labels(p []any, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKeyRe.MatchString(k) {
			v.add(at(p, k), "label key %q must start with a lowercase letter and hold only lowercase letters, digits, _ and -, at most 63 characters", k)
		} else if !labelValueRe.MatchString(labels[k]) {
			v.add(at(p, k), "label value %q must hold only lowercase letters, digits, _ and -, at most 63 characters", labels[k])
		}
	}
}

func (v *validator) metadata(p []any, md map[string]string) {
	total := 0
	for k, val := range md {
		if !metadataKeyRe.MatchString(k) {
			v.add(p, "metadata key %q must be 1-128 letters, digits, - or _", k)
		}
		if len(val) > 256<<10 {
			v.add(at(p, k), "value is %d bytes; at most 256 KiB", len(val))
		}
		total += len(k) + len(val)
	}
	if total > 512<<10 {
		v.add(p, "metadata totals %d bytes; at most 512 KB", total)
	}
}

func (v *validator) bindings(p []any, bs []Binding) {
	for i, b := range bs {
		bp := at(p, i)
		if strings.TrimSpace(b.Role) == "" {
			v.add(at(bp, "role"), "binding has no role (e.g. roles/iap.tunnelResourceAccessor)")
		} else if !strings.HasPrefix(b.Role, "roles/") && !strings.Contains(b.Role, "/roles/") {
			v.add(at(bp, "role"), "role %q must start with roles/", b.Role)
		} else if near := nearKnownRole(b.Role); near != "" {
			v.add(at(bp, "role"), "role %q is unknown and grants nothing; did you mean %s?", b.Role, near)
		}
		if len(b.Members) == 0 {
			v.add(at(bp, "members"), "binding for %s has no members", b.Role)
		}
		for mi, m := range b.Members {
			if err := checkMember(m); err != nil {
				v.add(at(bp, "members", mi), "%v", err)
			}
		}
		if b.Condition != nil {
			if strings.TrimSpace(b.Condition.Expression) == "" {
				v.add(at(bp, "condition", "expression"), "condition has no expression")
			} else if err := policy.Compile(b.Condition.Expression); err != nil {
				// Caught here, not at the first tunnel: a condition that
				// cannot compile would deny every request without saying why.
				msg := err.Error()
				if strings.Contains(msg, "undeclared reference") {
					msg += "; the attributes are destination.port, destination.ip, request.time, request.auth.access_levels, request.host and request.path"
				}
				v.add(at(bp, "condition", "expression"), "%s", msg)
			}
		}
	}
}

// knownRoles are the predefined roles whose permissions the emulator knows.
var knownRoles = func() []string {
	var out []string
	for _, p := range []string{policy.PermTunnelAccess, policy.PermInstancesGet, policy.PermOSLogin, policy.PermOSAdminLogin,
		policy.PermActAs, policy.PermFirewallsCreate, policy.PermWebAccess, policy.PermProjectsGet,
		"resourcemanager.projects.get", "resourcemanager.projects.setIamPolicy", "compute.oslogin.updateExternalUser"} {
		for _, r := range policy.RolesGranting(p) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}()

// nearKnownRole returns the known role a predefined role name unknown to
// the emulator is probably a typo of: roles outside what the emulator
// models (roles/storage.admin) stay allowed, they just grant nothing here.
func nearKnownRole(role string) string {
	if !strings.HasPrefix(role, "roles/") || policy.KnownRole(role) {
		return ""
	}
	best, bestD := "", 4
	for _, k := range knownRoles {
		if d := distance(strings.ToLower(role), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func checkMember(m string) error {
	if m == "allUsers" || m == "allAuthenticatedUsers" {
		return nil
	}
	kind, id, ok := strings.Cut(m, ":")
	if ok {
		switch kind {
		case "user", "group", "serviceAccount":
			if validEmail(id) {
				return nil
			}
		case "domain":
			if id != "" && !strings.Contains(id, "@") {
				return nil
			}
		}
	}
	return fmt.Errorf("member %q must be user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:NAME, allUsers or allAuthenticatedUsers", m)
}

func (v *validator) firewall(p []any, f *Firewall, names map[string]bool) {
	if !nameRe.MatchString(f.Name) {
		v.add(at(p, "name"), "firewall name %q must be lowercase letters, digits and hyphens", f.Name)
	} else if names[f.Name] {
		v.add(at(p, "name"), "firewall %s is listed twice", f.Name)
	}
	names[f.Name] = true
	if !nameRe.MatchString(f.Network) {
		v.add(at(p, "network"), "network %q must be a network name of this project", f.Network)
	}
	if f.Direction != "INGRESS" && f.Direction != "EGRESS" {
		v.add(at(p, "direction"), "direction %q must be INGRESS or EGRESS", f.Direction)
	}
	if f.Priority != nil && (*f.Priority < 0 || *f.Priority > 65535) {
		v.add(at(p, "priority"), "priority %d is outside 0-65535", *f.Priority)
	}
	if (len(f.Allowed) == 0) == (len(f.Denied) == 0) {
		v.add(p, "firewall %s needs exactly one of allowed or denied", f.Name)
	}
	for i, r := range f.SourceRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			if _, err := netip.ParseAddr(r); err != nil {
				v.add(at(p, "sourceRanges", i), "%q is not a CIDR range like 35.235.240.0/20", r)
			}
		}
	}
	for _, list := range []struct {
		key string
		sas []string
	}{{"sourceServiceAccounts", f.SourceServiceAccounts}, {"targetServiceAccounts", f.TargetServiceAccounts}} {
		for i, sa := range list.sas {
			if !validEmail(sa) {
				v.add(at(p, list.key, i), "%q is not a service account email", sa)
			}
		}
	}
	for _, list := range []struct {
		key   string
		rules []Rule
	}{{"allowed", f.Allowed}, {"denied", f.Denied}} {
		for i, r := range list.rules {
			rp := at(p, list.key, i)
			if r.IPProtocol == "" {
				v.add(at(rp, "IPProtocol"), "missing IPProtocol (tcp, udp, icmp or all)")
			} else if !validProtocol(r.IPProtocol) {
				v.add(at(rp, "IPProtocol"), "IPProtocol %q must be tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number 0-255", r.IPProtocol)
			}
			for j, port := range r.Ports {
				if !validPortRange(port) {
					v.add(at(rp, "ports", j), "port %q must be N or N-M within 1-65535", port)
				}
			}
		}
	}
}

func validProtocol(s string) bool {
	switch strings.ToLower(s) {
	case "tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all":
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 255
}

func validPortRange(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return false
	}
	if !isRange {
		return true
	}
	b, err := strconv.Atoi(hi)
	return err == nil && b >= a && b <= 65535
}

func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " \t\r\n:") && !strings.Contains(domain, "@")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
