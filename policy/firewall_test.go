package policy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestEvaluateIngress(t *testing.T) {
	const net = "projects/p/global/networks/default"
	iap := netip.MustParseAddr("35.235.240.1")
	allowIAP := func(name string, prio int, ports ...string) FirewallRule {
		return FirewallRule{Name: name, Network: "default", Priority: prio, SourceRanges: []string{IAPSourceRange},
			Allowed: []PortRule{{Protocol: "tcp", Ports: ports}}}
	}
	target := FirewallTarget{Network: net, Tags: []string{"web"}, ServiceAccount: "vm@p.iam.gserviceaccount.com"}
	tests := []struct {
		name     string
		rules    []FirewallRule
		target   FirewallTarget
		port     int
		source   netip.Addr
		want     bool
		wantRule string
	}{
		{"no rules: implied deny", nil, target, 22, iap, false, ""},
		{"allow 22", []FirewallRule{allowIAP("allow-iap", 1000, "22")}, target, 22, iap, true, "allow-iap"},
		{"wrong port", []FirewallRule{allowIAP("allow-iap", 1000, "3389")}, target, 22, iap, false, ""},
		{"port range", []FirewallRule{allowIAP("r", 1000, "8000-8100")}, target, 8080, iap, true, "r"},
		{"all ports", []FirewallRule{allowIAP("r", 1000)}, target, 5432, iap, true, "r"},
		{"protocol all", []FirewallRule{{Name: "all", Network: net, Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, Allowed: []PortRule{{Protocol: "all"}}}}, target, 22, iap, true, "all"},
		{"protocol number 6", []FirewallRule{{Name: "six", Network: net, Priority: 1000, SourceRanges: []string{IAPSourceRange}, Allowed: []PortRule{{Protocol: "6", Ports: []string{"22"}}}}}, target, 22, iap, true, "six"},
		{"udp only", []FirewallRule{{Name: "udp", Network: net, Priority: 1000, SourceRanges: []string{IAPSourceRange}, Allowed: []PortRule{{Protocol: "udp"}}}}, target, 22, iap, false, ""},
		{"source not IAP", []FirewallRule{{Name: "corp", Network: net, Priority: 1000, SourceRanges: []string{"203.0.113.0/24"}, Allowed: []PortRule{{Protocol: "tcp"}}}}, target, 22, iap, false, ""},
		{"source tags never match IAP", []FirewallRule{{Name: "tags", Network: net, Priority: 1000, SourceTags: []string{"bastion"}, Allowed: []PortRule{{Protocol: "tcp"}}}}, target, 22, iap, false, ""},
		{"disabled", []FirewallRule{func() FirewallRule { r := allowIAP("off", 1000, "22"); r.Disabled = true; return r }()}, target, 22, iap, false, ""},
		{"egress ignored", []FirewallRule{func() FirewallRule { r := allowIAP("out", 1000, "22"); r.Direction = "EGRESS"; return r }()}, target, 22, iap, false, ""},
		{"other network", []FirewallRule{func() FirewallRule { r := allowIAP("other", 1000, "22"); r.Network = "prod"; return r }()}, target, 22, iap, false, ""},
		{"network as URL", []FirewallRule{func() FirewallRule {
			r := allowIAP("url", 1000, "22")
			r.Network = "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"
			return r
		}()}, target, 22, iap, true, "url"},
		{"target tag matches", []FirewallRule{func() FirewallRule { r := allowIAP("tag", 1000, "22"); r.TargetTags = []string{"db", "web"}; return r }()}, target, 22, iap, true, "tag"},
		{"target tag misses", []FirewallRule{func() FirewallRule { r := allowIAP("tag", 1000, "22"); r.TargetTags = []string{"db"}; return r }()}, target, 22, iap, false, ""},
		{"target service account", []FirewallRule{func() FirewallRule {
			r := allowIAP("sa", 1000, "22")
			r.TargetServiceAccounts = []string{"VM@p.iam.gserviceaccount.com"}
			return r
		}()}, target, 22, iap, true, "sa"},
		{"deny at higher priority", []FirewallRule{allowIAP("allow", 1000, "22"),
			{Name: "deny", Network: net, Priority: 900, SourceRanges: []string{"0.0.0.0/0"}, Denied: []PortRule{{Protocol: "tcp", Ports: []string{"22"}}}}}, target, 22, iap, false, "deny"},
		{"allow at higher priority than deny", []FirewallRule{allowIAP("allow", 100, "22"),
			{Name: "deny", Network: net, Priority: 900, SourceRanges: []string{"0.0.0.0/0"}, Denied: []PortRule{{Protocol: "all"}}}}, target, 22, iap, true, "allow"},
		{"deny beats allow at equal priority", []FirewallRule{allowIAP("allow", 1000, "22"),
			{Name: "deny", Network: net, Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, Denied: []PortRule{{Protocol: "tcp"}}}}, target, 22, iap, false, "deny"},
		{"deny on other port irrelevant", []FirewallRule{allowIAP("allow", 1000, "22"),
			{Name: "deny", Network: net, Priority: 10, SourceRanges: []string{"0.0.0.0/0"}, Denied: []PortRule{{Protocol: "tcp", Ports: []string{"3389"}}}}}, target, 22, iap, true, "allow"},
		{"no source means anywhere", []FirewallRule{{Name: "any", Network: net, Priority: 1000, Allowed: []PortRule{{Protocol: "tcp", Ports: []string{"22"}}}}}, target, 22, iap, true, "any"},
		{"ipv6 range", []FirewallRule{{Name: "v6", Network: net, Priority: 1000, SourceRanges: []string{IAPSourceRangeV6}, Allowed: []PortRule{{Protocol: "tcp"}}}}, target, 22, netip.MustParseAddr("2600:2d00:1:7::5"), true, "v6"},
		{"shared vpc host network", []FirewallRule{{Name: "host", Network: "https://www.googleapis.com/compute/v1/projects/host/global/networks/shared", Priority: 1000, SourceRanges: []string{IAPSourceRange}, Allowed: []PortRule{{Protocol: "tcp"}}}},
			FirewallTarget{Network: "projects/host/global/networks/shared"}, 22, iap, true, "host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := EvaluateIngress(tt.rules, tt.target, "tcp", tt.port, tt.source)
			if v.Allowed != tt.want {
				t.Fatalf("Allowed = %v, want %v (%s)", v.Allowed, tt.want, v.Reason)
			}
			got := ""
			if v.Rule != nil {
				got = v.Rule.Name
			}
			if got != tt.wantRule {
				t.Fatalf("Rule = %q, want %q (%s)", got, tt.wantRule, v.Reason)
			}
			if v.Reason == "" {
				t.Fatal("no reason")
			}
			if v.Rule == nil && !strings.Contains(v.Reason, "implied deny") {
				t.Errorf("reason %q does not name the implied deny", v.Reason)
			}
		})
	}
}

func TestNetworkKey(t *testing.T) {
	tests := []struct{ in, def, want string }{
		{"default", "p", "projects/p/global/networks/default"},
		{"global/networks/vpc", "p", "projects/p/global/networks/vpc"},
		{"projects/host/global/networks/shared", "p", "projects/host/global/networks/shared"},
		{"https://www.googleapis.com/compute/v1/projects/host/global/networks/shared", "p", "projects/host/global/networks/shared"},
		{"https://compute.googleapis.com/compute/v1/projects/h/global/networks/n/", "", "projects/h/global/networks/n"},
		{"http://127.0.0.1:8080/compute/v1/projects/h/global/networks/n", "", "projects/h/global/networks/n"},
		{"", "p", ""},
	}
	for _, tt := range tests {
		if got := NetworkKey(tt.in, tt.def); got != tt.want {
			t.Errorf("NetworkKey(%q, %q) = %q, want %q", tt.in, tt.def, got, tt.want)
		}
	}
	if got := NetworkProject("https://www.googleapis.com/compute/v1/projects/host/global/networks/shared", "svc"); got != "host" {
		t.Errorf("NetworkProject = %q", got)
	}
	if got := NetworkName("projects/host/global/networks/shared"); got != "shared" {
		t.Errorf("NetworkName = %q", got)
	}
}

func TestPortsContain(t *testing.T) {
	tests := []struct {
		ports []string
		port  int
		want  bool
	}{
		{[]string{"22"}, 22, true},
		{[]string{"22"}, 23, false},
		{[]string{"8000-8100"}, 8000, true},
		{[]string{"8000-8100"}, 8100, true},
		{[]string{"8000-8100"}, 8101, false},
		{[]string{"x", "3389"}, 3389, true},
		{[]string{"1-x"}, 1, false},
	}
	for _, tt := range tests {
		if got := PortsContain(tt.ports, tt.port); got != tt.want {
			t.Errorf("PortsContain(%v, %d) = %v", tt.ports, tt.port, got)
		}
	}
}

func TestRoleIncludes(t *testing.T) {
	tests := []struct {
		role, perm string
		want       bool
	}{
		{RoleTunnelResourceAccess, PermTunnelAccess, true},
		{RoleOwner, PermTunnelAccess, true},
		{RoleEditor, PermTunnelAccess, false},
		{RoleViewer, PermTunnelAccess, false},
		{RoleViewer, PermInstancesGet, true},
		{RoleViewer, PermSetMetadata, false},
		{RoleEditor, PermSetMetadata, true},
		{RoleEditor, PermActAs, true},
		{RoleOSLogin, PermOSLogin, true},
		{RoleOSLogin, PermOSAdminLogin, false},
		{RoleOSAdminLogin, PermOSAdminLogin, true},
		{"roles/compute.instanceAdmin.v1", "compute.instances.start", true},
		{"roles/compute.instanceAdmin.v1", PermActAs, false},
		{"roles/compute.admin", PermFirewallsCreate, true},
		{"roles/compute.viewer", PermFirewallsList, true},
		{"roles/compute.viewer", PermFirewallsCreate, false},
		{"roles/compute.securityAdmin", PermFirewallsCreate, true},
		{RoleServiceAccountUser, PermActAs, true},
		{"roles/resourcemanager.projectIamAdmin", "resourcemanager.projects.getIamPolicy", true},
		{"roles/iap.admin", "iap.tunnelInstances.getIamPolicy", true},
		{"roles/iap.admin", PermTunnelAccess, false},
		{"roles/browser", "resourcemanager.projects.list", true},
		{"projects/p/roles/custom", PermTunnelAccess, false},
	}
	for _, tt := range tests {
		if got := RoleIncludes(tt.role, tt.perm); got != tt.want {
			t.Errorf("RoleIncludes(%q, %q) = %v, want %v", tt.role, tt.perm, got, tt.want)
		}
	}
	if KnownRole("projects/p/roles/custom") || !KnownRole(RoleOwner) {
		t.Error("KnownRole wrong")
	}
	if got := RolesGranting(PermTunnelAccess); len(got) == 0 || got[0] != RoleTunnelResourceAccess {
		t.Errorf("RolesGranting(tunnel) = %v", got)
	}
}

func TestEvaluateIngressFromIAP(t *testing.T) {
	const net = "projects/p/global/networks/default"
	target := FirewallTarget{Network: net}
	allow := func(name string, prio int, ranges ...string) FirewallRule {
		return FirewallRule{Name: name, Network: "default", Priority: prio, SourceRanges: ranges,
			Allowed: []PortRule{{Protocol: "tcp", Ports: []string{"22"}}}}
	}
	deny := func(name string, prio int, ranges ...string) FirewallRule {
		return FirewallRule{Name: name, Network: "default", Priority: prio, SourceRanges: ranges,
			Denied: []PortRule{{Protocol: "tcp"}}}
	}
	tests := []struct {
		name     string
		rules    []FirewallRule
		want     bool
		wantRule string
		reason   []string
	}{
		{"whole range", []FirewallRule{allow("iap", 1000, IAPSourceRange)}, true, "iap", []string{"from 35.235.240.0/20"}},
		{"wider range", []FirewallRule{allow("wide", 1000, "35.0.0.0/8")}, true, "wide", nil},
		{"no source means anywhere", []FirewallRule{{Name: "any", Network: "default", Priority: 1000, Allowed: []PortRule{{Protocol: "tcp"}}}}, true, "any", nil},
		{"two halves", []FirewallRule{allow("a", 1000, "35.235.240.0/21"), allow("b", 1000, "35.235.248.0/21")}, true, "", nil},
		{"nothing", nil, false, "", []string{"implied deny"}},
		{"part of the range", []FirewallRule{allow("narrow", 1000, "35.235.240.0/24")}, false, "",
			[]string{"only part of 35.235.240.0/20", "allowed 35.235.240.0-35.235.240.255 (rule \"narrow\")", "blocked 35.235.241.0-35.235.255.255 (implied deny)"}},
		{"one address", []FirewallRule{allow("one", 1000, "35.235.240.1")}, false, "",
			[]string{"allowed 35.235.240.1-35.235.240.1", "blocked 35.235.240.0-35.235.240.0 (implied deny), 35.235.240.2-35.235.255.255 (implied deny)"}},
		{"a deny carves a hole", []FirewallRule{allow("iap", 1000, IAPSourceRange), deny("hole", 900, "35.235.250.0/23")}, false, "hole",
			[]string{"blocked 35.235.250.0-35.235.251.255 (rule \"hole\")", "allowed 35.235.240.0-35.235.249.255 (rule \"iap\"), 35.235.252.0-35.235.255.255 (rule \"iap\")"}},
		{"a lower-priority deny changes nothing", []FirewallRule{allow("iap", 900, IAPSourceRange), deny("late", 1000, "35.235.250.0/23")}, true, "iap", nil},
		{"deny everywhere", []FirewallRule{allow("part", 1000, "35.235.240.0/24"), deny("all", 100, "0.0.0.0/0")}, false, "all", []string{"denies tcp:22 from 35.235.240.0/20"}},
		{"denied in part, no rule for the rest", []FirewallRule{deny("d", 1000, "35.235.240.0/24")}, false, "d",
			[]string{"no part of 35.235.240.0/20", "35.235.240.0-35.235.240.255 (rule \"d\"), 35.235.241.0-35.235.255.255 (implied deny)"}},
		// The rule reported is the one a new allow rule must precede: a DENY
		// over the implied deny, the lowest priority number among DENYs,
		// wherever their pieces fall in the range.
		{"a deny after a piece the implied deny blocks", []FirewallRule{allow("half", 1000, "35.235.240.0/21"), deny("hole", 900, "35.235.250.0/24")}, false, "hole",
			[]string{"blocked 35.235.248.0-35.235.249.255 (implied deny), 35.235.250.0-35.235.250.255 (rule \"hole\")"}},
		{"the earliest deny wins over the first one", []FirewallRule{allow("iap", 1000, IAPSourceRange), deny("d900", 900, "35.235.241.0/24"), deny("d800", 800, "35.235.250.0/24")}, false, "d800", nil},
		{"no part, a deny in the middle", []FirewallRule{deny("mid", 700, "35.235.250.0/24")}, false, "mid", []string{"no part of 35.235.240.0/20"}},
		{"ipv6 and junk ranges are ignored", []FirewallRule{allow("v6", 1000, IAPSourceRangeV6, "nowhere")}, false, "", []string{"implied deny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := EvaluateIngressFromIAP(tt.rules, target, "tcp", 22)
			if v.Allowed != tt.want {
				t.Fatalf("Allowed = %v, want %v (%s)", v.Allowed, tt.want, v.Reason)
			}
			if tt.wantRule != "" && (v.Rule == nil || v.Rule.Name != tt.wantRule) {
				t.Fatalf("Rule = %+v, want %q (%s)", v.Rule, tt.wantRule, v.Reason)
			}
			if !tt.want && tt.wantRule == "" && v.Rule != nil {
				t.Fatalf("Rule = %q, want the implied deny (%s)", v.Rule.Name, v.Reason)
			}
			for _, want := range tt.reason {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q lacks %q", v.Reason, want)
				}
			}
		})
	}
}

// FuzzEvaluateIngressFromIAP checks the range verdict against every address
// of 35.235.240.0/20 one by one: allowed exactly when all of them are.
func FuzzEvaluateIngressFromIAP(f *testing.F) {
	f.Add("35.235.240.0/24", "35.235.250.0/23", uint16(1000), uint16(900))
	f.Add("35.235.240.0/20", "35.235.255.255", uint16(1000), uint16(1000))
	f.Add("0.0.0.0/0", "", uint16(5), uint16(4))
	f.Add("35.235.240.7/29", "35.235.240.0/21", uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, allowRange, denyRange string, allowPrio, denyPrio uint16) {
		rules := []FirewallRule{
			{Name: "allow", Network: "default", Priority: int(allowPrio), SourceRanges: []string{allowRange, "35.235.248.0/22"}, Allowed: []PortRule{{Protocol: "tcp"}}},
			{Name: "deny", Network: "default", Priority: int(denyPrio), SourceRanges: []string{denyRange}, Denied: []PortRule{{Protocol: "tcp"}}},
		}
		target := FirewallTarget{Network: "projects/p/global/networks/default"}
		v := EvaluateIngressFromIAP(rules, target, "tcp", 22)
		if v.Reason == "" {
			t.Fatal("no reason")
		}
		first, last := prefixBounds(netip.MustParsePrefix(IAPSourceRange))
		all := true
		for a := first; a <= last; a++ {
			if !EvaluateIngress(rules, target, "tcp", 22, v4Addr(a)).Allowed {
				all = false
				break
			}
		}
		if v.Allowed != all {
			t.Fatalf("range verdict %v, address by address %v: %s", v.Allowed, all, v.Reason)
		}
	})
}

// A rule whose only source is service accounts admits VMs running as them,
// not IAP: it is not a rule without sources (which means anywhere).
func TestSourceServiceAccountsDoNotMatchIAP(t *testing.T) {
	r := FirewallRule{Name: "from-app", Network: "default", Priority: 1000, SourceServiceAccounts: []string{"app@p.iam.gserviceaccount.com"},
		Allowed: []PortRule{{Protocol: "tcp", Ports: []string{"22"}}}}
	v := EvaluateIngressFromIAP([]FirewallRule{r}, FirewallTarget{Network: "projects/p/global/networks/default"}, "tcp", 22)
	if v.Allowed {
		t.Fatalf("allowed: %s", v.Reason)
	}
}
