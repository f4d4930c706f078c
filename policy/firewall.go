package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IAPSourceRange is where IAP TCP forwarding connects from (IPv4), and
// IAPSourceRangeV6 its IPv6 range.
const (
	IAPSourceRange   = "35.235.240.0/20"
	IAPSourceRangeV6 = "2600:2d00:1:7::/64"
)

// FirewallRule is a VPC firewall rule, with Compute's semantics.
type FirewallRule struct {
	Name, Network, Direction string // Direction "" means INGRESS
	Priority                 int
	Disabled                 bool
	SourceRanges, SourceTags []string
	TargetTags               []string
	TargetServiceAccounts    []string
	// SourceServiceAccounts, like source tags, name VMs of the network and
	// never match IAP; a rule with only these has a source all the same.
	SourceServiceAccounts []string
	Allowed, Denied       []PortRule
}

// PortRule is one protocol ("tcp", "all", or a number like "6") and its
// ports ("22", "8000-8100"); no ports means every port.
type PortRule struct {
	Protocol string
	Ports    []string
}

// FirewallTarget is the VM network interface a connection goes to.
type FirewallTarget struct {
	Network        string // normalised, see NetworkKey
	Tags           []string
	ServiceAccount string
}

// FirewallVerdict says whether a connection passes, and which rule decided
// (nil for the implied deny).
type FirewallVerdict struct {
	Allowed bool
	Rule    *FirewallRule
	Reason  string
}

// EvaluateIngress decides whether a connection from source to the target on
// protocol/port passes the network's ingress rules: enabled INGRESS rules
// on the target's network whose targets and sources match apply; the lowest
// priority number wins, DENY beats ALLOW at equal priority, and when no rule
// applies the implied deny-all ingress rule blocks the connection.
func EvaluateIngress(rules []FirewallRule, target FirewallTarget, protocol string, port int, source netip.Addr) FirewallVerdict {
	netKey := NetworkKey(target.Network, "")
	project := networkProject(netKey)
	var best *FirewallRule
	bestDeny := false
	for i := range rules {
		r := &rules[i]
		if r.Disabled || !strings.EqualFold(orDefault(r.Direction, "INGRESS"), "INGRESS") {
			continue
		}
		if NetworkKey(orDefault(r.Network, "default"), project) != netKey {
			continue
		}
		if !targetsMatch(r, target) || !sourceMatches(r, source) {
			continue
		}
		deny := len(r.Denied) > 0
		list := r.Allowed
		if deny {
			list = r.Denied
		}
		if !portRulesMatch(list, protocol, port) {
			continue
		}
		if best == nil || r.Priority < best.Priority || (r.Priority == best.Priority && deny && !bestDeny) {
			best, bestDeny = r, deny
		}
	}
	what := fmt.Sprintf("%s:%d from %s", strings.ToLower(protocol), port, source)
	if best == nil {
		return FirewallVerdict{Reason: fmt.Sprintf("no firewall rule on network %s allows %s (implied deny of all ingress)", netKey, what)}
	}
	if bestDeny {
		return FirewallVerdict{Rule: best, Reason: fmt.Sprintf("firewall rule %q (priority %d) denies %s", best.Name, best.Priority, what)}
	}
	return FirewallVerdict{Allowed: true, Rule: best, Reason: fmt.Sprintf("firewall rule %q (priority %d) allows %s", best.Name, best.Priority, what)}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func targetsMatch(r *FirewallRule, t FirewallTarget) bool {
	if len(r.TargetTags) == 0 && len(r.TargetServiceAccounts) == 0 {
		return true
	}
	for _, tag := range r.TargetTags {
		if slices.Contains(t.Tags, tag) {
			return true
		}
	}
	if t.ServiceAccount != "" {
		for _, sa := range r.TargetServiceAccounts {
			if strings.EqualFold(sa, t.ServiceAccount) {
				return true
			}
		}
	}
	return false
}

// sourceMatches: source tags name VMs of the network, never IAP's proxies,
// so only source ranges can match. Compute fills in 0.0.0.0/0 when an
// ingress rule is created without any source; honour that for rules given
// without sources.
func sourceMatches(r *FirewallRule, src netip.Addr) bool {
	ranges := r.SourceRanges
	if len(ranges) == 0 && len(r.SourceTags) == 0 && len(r.SourceServiceAccounts) == 0 {
		ranges = []string{"0.0.0.0/0", "::/0"}
	}
	src = src.Unmap()
	for _, s := range ranges {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			if p.Contains(src) {
				return true
			}
		} else if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && a.Unmap() == src {
			return true
		}
	}
	return false
}

var protocolNumbers = map[string]string{"tcp": "6", "udp": "17", "icmp": "1", "esp": "50", "ah": "51", "sctp": "132", "ipip": "94"}

func sameProtocol(rule, want string) bool {
	rule, want = strings.ToLower(strings.TrimSpace(rule)), strings.ToLower(want)
	if rule == "all" || rule == want {
		return true
	}
	if n, ok := protocolNumbers[rule]; ok {
		rule = n
	}
	if n, ok := protocolNumbers[want]; ok {
		want = n
	}
	return rule == want
}

func portRulesMatch(list []PortRule, protocol string, port int) bool {
	for _, pr := range list {
		if !sameProtocol(pr.Protocol, protocol) {
			continue
		}
		if len(pr.Ports) == 0 || PortsContain(pr.Ports, port) {
			return true
		}
	}
	return false
}

// PortsContain reports whether a firewall port list ("22", "8000-8100")
// contains port. Entries that do not parse contain nothing.
func PortsContain(ports []string, port int) bool {
	for _, p := range ports {
		p = strings.TrimSpace(p)
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if port >= a && port <= b {
			return true
		}
	}
	return false
}

// NetworkKey normalises a network given as a URL
// (https://www.googleapis.com/compute/v1/projects/P/global/networks/N), a
// partial path (projects/P/global/networks/N, global/networks/N) or a bare
// name to "projects/P/global/networks/N", taking the project from
// defaultProject when the input does not name one. Empty input stays empty.
func NetworkKey(urlOrPath, defaultProject string) string {
	s := strings.TrimSpace(urlOrPath)
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "?"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndex(s, "projects/"); i >= 0 && (i == 0 || s[i-1] == '/') {
		rest := s[i+len("projects/"):]
		project, tail, _ := strings.Cut(rest, "/")
		name := tail[strings.LastIndex(tail, "/")+1:]
		if strings.HasPrefix(tail, "global/networks/") || name != "" {
			return "projects/" + project + "/global/networks/" + name
		}
	}
	name := s[strings.LastIndex(s, "/")+1:]
	return "projects/" + defaultProject + "/global/networks/" + name
}

// networkProject returns P of "projects/P/global/networks/N".
func networkProject(key string) string {
	rest, ok := strings.CutPrefix(key, "projects/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// NetworkProject returns the project that owns a network given in any form
// NetworkKey accepts (for a shared VPC, the host project), or
// defaultProject when it names none.
func NetworkProject(urlOrPath, defaultProject string) string {
	return networkProject(NetworkKey(urlOrPath, defaultProject))
}

// NetworkName returns the network's short name.
func NetworkName(urlOrPath string) string {
	k := NetworkKey(urlOrPath, "")
	return k[strings.LastIndex(k, "/")+1:]
}

// EvaluateIngressFromIAP decides whether IAP reaches the target on
// protocol/port from every address of IAPSourceRange: IAP connects from any
// of them, so a rule that admits only part of the range makes tunnels fail
// at random. The verdict is Allowed only when the whole range passes; when
// part of it is blocked, Reason names what passes and what does not, and
// Rule is the DENY rule with the lowest priority number among those that
// block some of it (nil when only the implied deny does), the one a new
// allow rule must precede.
func EvaluateIngressFromIAP(rules []FirewallRule, target FirewallTarget, protocol string, port int) FirewallVerdict {
	iap := netip.MustParsePrefix(IAPSourceRange)
	first, last := prefixBounds(iap)
	// The verdict can only change where a rule's source range starts or
	// ends, so evaluating one address per such piece covers the range.
	cuts := []uint32{first}
	for _, r := range rules {
		for _, s := range r.SourceRanges {
			p, ok := parseV4Range(s)
			if !ok {
				continue
			}
			lo, hi := prefixBounds(p)
			if hi < first || lo > last {
				continue
			}
			cuts = append(cuts, max(lo, first))
			if hi < last {
				cuts = append(cuts, hi+1)
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	type piece struct {
		lo, hi uint32
		v      FirewallVerdict
	}
	var pieces []piece
	for i, lo := range cuts {
		hi := last
		if i+1 < len(cuts) {
			hi = cuts[i+1] - 1
		}
		v := EvaluateIngress(rules, target, protocol, port, v4Addr(lo))
		if n := len(pieces); n > 0 && pieces[n-1].v.Allowed == v.Allowed && pieces[n-1].v.Rule == v.Rule {
			pieces[n-1].hi = hi
			continue
		}
		pieces = append(pieces, piece{lo, hi, v})
	}
	if len(pieces) == 1 {
		v := pieces[0].v
		v.Reason = strings.Replace(v.Reason, "from "+v4Addr(first).String(), "from "+IAPSourceRange, 1)
		return v
	}
	var allowed, blocked []string
	var blocker *FirewallVerdict
	for i := range pieces {
		p := &pieces[i]
		span := v4Addr(p.lo).String() + "-" + v4Addr(p.hi).String()
		if p.v.Allowed {
			allowed = append(allowed, fmt.Sprintf("%s (rule %q)", span, p.v.Rule.Name))
			continue
		}
		who := "implied deny"
		if p.v.Rule != nil {
			who = fmt.Sprintf("rule %q", p.v.Rule.Name)
		}
		blocked = append(blocked, fmt.Sprintf("%s (%s)", span, who))
		// The rule to report is the DENY rule with the lowest priority
		// number: a rule that lets IAP in must come before it, and then
		// before every other one that blocks part of the range.
		if blocker == nil || (p.v.Rule != nil && (blocker.Rule == nil || p.v.Rule.Priority < blocker.Rule.Priority)) {
			blocker = &p.v
		}
	}
	if blocker == nil {
		return FirewallVerdict{Allowed: true, Rule: pieces[0].v.Rule, Reason: fmt.Sprintf("firewall rules together allow %s:%d from all of %s: %s",
			strings.ToLower(protocol), port, IAPSourceRange, strings.Join(allowed, ", "))}
	}
	if len(allowed) == 0 {
		return FirewallVerdict{Rule: blocker.Rule, Reason: fmt.Sprintf("no part of %s may reach %s:%d: %s", IAPSourceRange, strings.ToLower(protocol), port, strings.Join(blocked, ", "))}
	}
	return FirewallVerdict{Rule: blocker.Rule, Reason: fmt.Sprintf(
		"only part of %s may reach %s:%d, so tunnels fail depending on which IAP address connects: allowed %s; blocked %s",
		IAPSourceRange, strings.ToLower(protocol), port, strings.Join(allowed, ", "), strings.Join(blocked, ", "))}
}

// parseV4Range reads a source range as sourceMatches does: a CIDR prefix or
// a single address, IPv4 only.
func parseV4Range(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		p = p.Masked()
		return p, p.Addr().Is4()
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is4() {
		return netip.PrefixFrom(a.Unmap(), 32), true
	}
	return netip.Prefix{}, false
}

func prefixBounds(p netip.Prefix) (first, last uint32) {
	b := p.Addr().As4()
	first = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	host := uint32(1)<<(32-p.Bits()) - 1 // a shift by 32 gives 0: all ones
	return first &^ host, first | host
}

func v4Addr(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
