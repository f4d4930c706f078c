package cloud

import (
	"iapterm/emulator/world"
	"iapterm/policy"
)

func toPolicyRules(projectID string, fws []world.Firewall) []policy.FirewallRule {
	out := make([]policy.FirewallRule, 0, len(fws))
	for _, f := range fws {
		prio := 1000
		if f.Priority != nil {
			prio = *f.Priority
		}
		out = append(out, policy.FirewallRule{
			Name: f.Name, Network: world.NetworkPath(projectID, f.Network), Direction: f.Direction,
			Priority: prio, Disabled: f.Disabled,
			SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts,
			TargetTags: f.TargetTags, TargetServiceAccounts: f.TargetServiceAccounts,
			Allowed: toPortRules(f.Allowed), Denied: toPortRules(f.Denied),
		})
	}
	return out
}

func toPortRules(rs []world.Rule) []policy.PortRule {
	out := make([]policy.PortRule, 0, len(rs))
	for _, r := range rs {
		out = append(out, policy.PortRule{Protocol: r.IPProtocol, Ports: r.Ports})
	}
	return out
}

// IAPFirewall decides whether IAP (from any address of 35.235.240.0/20)
// may reach an instance's TCP port, using the rules of the project that
// owns the instance's network (the shared-VPC host project when there is
// one). A network whose project is not in this world has no rules: denied.
// Rules that admit only part of the range deny too: the real service would
// fail only for some connections, which makes a poor test double.
func (c *Cloud) IAPFirewall(inst Instance, port int) policy.FirewallVerdict {
	c.mu.RLock()
	var rules []policy.FirewallRule
	host := inst.NetworkProject()
	if p, ok := c.projects[host]; ok {
		rules = toPolicyRules(host, p.def.Firewalls)
	}
	c.mu.RUnlock()
	target := policy.FirewallTarget{Network: inst.Network, Tags: inst.Tags, ServiceAccount: inst.ServiceAccount}
	return policy.EvaluateIngressFromIAP(rules, target, "tcp", port)
}
