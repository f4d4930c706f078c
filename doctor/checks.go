package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"iapterm/policy"
	"iapterm/projects"
	"iapterm/tunnel"
)

// FirewallRuleName is the name the fix gives the rule it creates.
const FirewallRuleName = "allow-ingress-from-iap"

func toPolicyRules(fws []projects.Firewall) []policy.FirewallRule {
	out := make([]policy.FirewallRule, 0, len(fws))
	for _, f := range fws {
		r := policy.FirewallRule{
			Name: f.Name, Network: f.Network, Direction: f.Direction, Priority: int(f.Priority), Disabled: f.Disabled,
			SourceRanges: f.SourceRanges, SourceTags: f.SourceTags, SourceServiceAccounts: f.SourceServiceAccounts,
			TargetTags: f.TargetTags, TargetServiceAccounts: f.TargetServiceAccounts,
		}
		for _, a := range f.Allowed {
			r.Allowed = append(r.Allowed, policy.PortRule{Protocol: a.Protocol, Ports: a.Ports})
		}
		for _, x := range f.Denied {
			r.Denied = append(r.Denied, policy.PortRule{Protocol: x.Protocol, Ports: x.Ports})
		}
		out = append(out, r)
	}
	return out
}

// FirewallFix is the rule that lets IAP reach port on the instance, and
// the gcloud command that creates it.
type FirewallFix struct {
	Project string // the network's project (the host project of a shared VPC)
	Rule    projects.Firewall
	Command string
}

// PlanFirewallFix builds the rule the doctor proposes. existing are the
// network project's rules (to avoid a name clash); blocking is the DENY
// rule that wins today, if any (the new rule must come before it).
func PlanFirewallFix(inst *projects.Instance, port int, existing []projects.Firewall, blocking *policy.FirewallRule) FirewallFix {
	network := inst.Network
	if network == "" {
		network = "default"
	}
	netProject := policy.NetworkProject(network, inst.Project)
	netName := policy.NetworkName(network)
	taken := func(n string) bool {
		return slices.ContainsFunc(existing, func(f projects.Firewall) bool { return f.Name == n })
	}
	name := FirewallRuleName
	if taken(name) {
		name = fmt.Sprintf("%s-%d", FirewallRuleName, port)
		for i := 2; taken(name); i++ {
			name = fmt.Sprintf("%s-%d-%d", FirewallRuleName, port, i)
		}
	}
	rule := projects.Firewall{
		Name:         name,
		Network:      "projects/" + netProject + "/global/networks/" + netName,
		Direction:    "INGRESS",
		Priority:     1000,
		SourceRanges: []string{policy.IAPSourceRange},
		TargetTags:   slices.Clone(inst.Tags),
		Allowed:      []projects.FirewallRule{{Protocol: "tcp", Ports: []string{strconv.Itoa(port)}}},
	}
	args := []string{"gcloud compute firewall-rules create " + name,
		"--network=" + netName, "--direction=INGRESS", "--action=allow",
		"--rules=tcp:" + strconv.Itoa(port), "--source-ranges=" + policy.IAPSourceRange}
	if len(inst.Tags) > 0 {
		args = append(args, "--target-tags="+strings.Join(inst.Tags, ","))
	}
	if blocking != nil && blocking.Priority > 0 {
		rule.Priority = int64(blocking.Priority - 1)
		args = append(args, "--priority="+strconv.Itoa(blocking.Priority-1))
	}
	args = append(args, "--project="+netProject)
	return FirewallFix{Project: netProject, Rule: rule, Command: strings.Join(args, " ")}
}

func (d *Doctor) checkFirewall(ctx context.Context, t Target, inst *projects.Instance) Check {
	c := Check{ID: CheckFirewall, Title: "Firewall"}
	netKey := policy.NetworkKey(inst.Network, inst.Project)
	if inst.Network == "" {
		netKey = policy.NetworkKey("default", inst.Project)
	}
	netProject := policy.NetworkProject(netKey, inst.Project)
	if netProject != inst.Project {
		c.Details = append(c.Details, fmt.Sprintf("shared VPC: network %s belongs to host project %s, whose firewall rules apply", policy.NetworkName(netKey), netProject))
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	fws, err := d.Cloud.EffectiveFirewalls(cctx, inst.Project, inst.Zone, inst.Name)
	source := "effective firewalls of nic0"
	var effErr error
	if err != nil {
		effErr = err
		fws, err = d.Cloud.Firewalls(cctx, netProject)
		source = "firewall rules of project " + netProject
	}
	if err != nil {
		c.Mark = Warning
		c.Summary = "cannot read the firewall rules: " + err.Error()
		if effErr != nil && effErr.Error() != err.Error() {
			c.Details = append(c.Details, "getEffectiveFirewalls: "+effErr.Error())
		}
		fix := PlanFirewallFix(inst, t.Port, nil, nil)
		c.Details = append(c.Details, "if connections fail with 4003 'failed to connect to backend', a rule like this is missing: "+fix.Command)
		return c
	}
	target := policy.FirewallTarget{Network: netKey, Tags: inst.Tags, ServiceAccount: inst.ServiceAccount}
	v := policy.EvaluateIngressFromIAP(toPolicyRules(fws), target, "tcp", t.Port)
	c.Details = append(c.Details, fmt.Sprintf("evaluated %d rule(s) from the %s (hierarchical firewall policies are not evaluated)", len(fws), source))
	if v.Allowed {
		c.Mark, c.Summary = OK, fmt.Sprintf("IAP (%s) may reach tcp:%d: %s", policy.IAPSourceRange, t.Port, v.Reason)
		return c
	}
	// Firewall rule names are unique in the whole project, but the
	// effective rules leave out those that target other instances: read
	// the project's rules for the name (best effort: a clash that remains
	// costs a 409, which --fix reports).
	existing := fws
	if effErr == nil {
		if all, err := d.Cloud.Firewalls(cctx, netProject); err == nil {
			existing = append(slices.Clone(fws), all...)
		}
	}
	fix := PlanFirewallFix(inst, t.Port, existing, v.Rule)
	c.Mark = Failed
	c.Summary = fmt.Sprintf("IAP (%s) cannot reach tcp:%d: %s", policy.IAPSourceRange, t.Port, v.Reason)
	c.Fix = fix.Command
	if v.Rule != nil && v.Rule.Priority == 0 {
		c.Fix = fmt.Sprintf("rule %q denies at priority 0, which nothing can precede: change it to let %s through, then: %s", v.Rule.Name, policy.IAPSourceRange, fix.Command)
	} else {
		c.Repair = &Repair{Kind: RepairFirewallRule, Project: fix.Project}
	}
	switch {
	case d.Fix && d.Creator == nil:
		c.Details = append(c.Details, "--fix could not create the rule: no way to call the Compute API (see the Credentials check); run the fix command below")
	case d.Fix && v.Rule != nil && v.Rule.Priority == 0:
		c.Details = append(c.Details, fmt.Sprintf("--fix did not create a rule: it could not come before %q, which denies at priority 0", v.Rule.Name))
	}
	if d.Fix && d.Creator != nil && (v.Rule == nil || v.Rule.Priority > 0) {
		fctx, fcancel := d.call(ctx)
		defer fcancel()
		if err := d.Creator.CreateFirewall(fctx, fix.Project, fix.Rule); err != nil {
			c.Details = append(c.Details, "--fix could not create the rule: "+err.Error())
			return c
		}
		v2 := policy.EvaluateIngressFromIAP(toPolicyRules(append(slices.Clone(fws), fix.Rule)), target, "tcp", t.Port)
		if v2.Allowed {
			c.Mark = OK
			c.Summary = fmt.Sprintf("created firewall rule %s in project %s: IAP may now reach tcp:%d", fix.Rule.Name, fix.Project, t.Port)
			c.Fix, c.Repair = "", nil
		} else {
			c.Details = append(c.Details, fmt.Sprintf("created firewall rule %s, but %s", fix.Rule.Name, v2.Reason))
		}
	}
	return c
}

// memberFor turns an email into an IAM member.
func memberFor(email string) string {
	if strings.HasSuffix(strings.ToLower(email), ".gserviceaccount.com") {
		return "serviceAccount:" + email
	}
	return "user:" + email
}

type sourcedPolicy struct {
	source string
	pol    *projects.Policy
	err    error
}

func (d *Doctor) checkIAP(ctx context.Context, t Target, inst *projects.Instance) Check {
	c := Check{ID: CheckIAP, Title: "IAP permission"}
	email := d.Identity.Email
	member := memberFor(email)
	grantCmd := fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=%s --role=%s", inst.Project, member, policy.RoleTunnelResourceAccess)
	cctx, cancel := d.call(ctx)
	defer cancel()

	held, terr := d.Cloud.TestIAPTunnelPermissions(cctx, inst.Project, inst.Zone, inst.Name, []string{policy.PermTunnelAccess})
	has := terr == nil && slices.Contains(held, policy.PermTunnelAccess)

	// Read every policy that can hold the grant, concurrently.
	pols := []sourcedPolicy{
		{source: "IAP policy of instance " + inst.Name},
		{source: "IAP policy of project " + inst.Project},
		{source: "IAM policy of project " + inst.Project},
	}
	done := make(chan struct{}, len(pols))
	go func() {
		pols[0].pol, pols[0].err = d.Cloud.IAPTunnelPolicy(cctx, inst.Project, inst.Zone, inst.Name)
		done <- struct{}{}
	}()
	go func() {
		pols[1].pol, pols[1].err = d.Cloud.IAPTunnelPolicy(cctx, inst.Project, "", "")
		done <- struct{}{}
	}()
	go func() { pols[2].pol, pols[2].err = d.Cloud.ProjectPolicy(cctx, inst.Project); done <- struct{}{} }()
	for range pols {
		<-done
	}
	var all policy.Policy
	var sources []string
	readable := 0
	for _, sp := range pols {
		if sp.err != nil || sp.pol == nil {
			if sp.err != nil {
				// The instance was found, so the project exists: a 403
				// is only a missing permission.
				msg := sp.err.Error()
				if pe, ok := sp.err.(*projects.Error); ok {
					msg = pe.ForKnownProject()
				}
				c.Details = append(c.Details, fmt.Sprintf("cannot read the %s: %s", sp.source, msg))
			}
			continue
		}
		readable++
		for _, b := range sp.pol.Bindings {
			nb := policy.Binding{Role: b.Role, Members: b.Members}
			if b.Condition != nil {
				nb.Condition = &policy.Condition{Title: b.Condition.Title, Description: b.Condition.Description, Expression: b.Condition.Expression}
			}
			all.Bindings = append(all.Bindings, nb)
			sources = append(sources, sp.source)
		}
	}

	if email == "" {
		c.Mark = Warning
		c.Summary = "cannot match IAM bindings: the signed-in account's email is unknown"
		if terr == nil {
			c.Summary += fmt.Sprintf("; testIamPermissions says %s is %s", policy.PermTunnelAccess, heldWord(has))
		}
		return c
	}
	if readable == 0 {
		switch {
		case terr != nil:
			c.Mark, c.Summary = Warning, "cannot test the permission: "+terr.Error()
		case has:
			c.Mark = OK
			c.Summary = fmt.Sprintf("%s holds %s on %s", email, policy.PermTunnelAccess, projects.IAPTunnelResource(inst.Project, inst.Zone, inst.Name))
			c.Details = append(c.Details, fmt.Sprintf("the policies are not readable, so IAM conditions (for example on destination.port) cannot be checked for port %d", t.Port))
		default:
			c.Mark = Failed
			c.Summary = fmt.Sprintf("%s lacks %s on instance %s (role %s, IAP-secured Tunnel User)", email, policy.PermTunnelAccess, inst.Name, policy.RoleTunnelResourceAccess)
			c.Details = append(c.Details, "testIamPermissions does not count a grant whose IAM condition depends on the port or address, so the tunnel probe below has the last word for this port")
			c.Fix = "ask a project administrator to run: " + grantCmd
		}
		return c
	}

	req := policy.Request{DestinationPort: t.Port, DestinationIP: inst.InternalIP, Time: d.now(), AccessLevels: d.AccessLevels}
	res := policy.SimulateWith(&all, member, policy.PermTunnelAccess, req, policy.SimOptions{
		Groups:            d.Groups,
		AccessLevelsKnown: d.AccessLevels != nil,
	})
	// Explain the bindings that concern this user and permission.
	var conditionFailures []string
	for i, b := range res.Bindings {
		if b.RoleGrants == policy.No || b.MemberMatch == policy.No {
			continue
		}
		title := ""
		if b.Condition != nil {
			title = " with condition `" + b.Condition.Expression + "`"
			if b.Condition.Title != "" {
				title = fmt.Sprintf(" with condition %q (`%s`)", b.Condition.Title, b.Condition.Expression)
			}
		}
		c.Details = append(c.Details, fmt.Sprintf("%s: %s to %s%s: %s", sources[i], b.Role, b.MatchedBy, title, b.Verdict))
		if b.Verdict != policy.Granted {
			c.Details = append(c.Details, "  "+b.Explanation)
		}
		if b.Verdict == policy.Denied && b.RoleGrants == policy.Yes && b.MemberMatch == policy.Yes && b.ConditionValue != "" {
			var cl []string
			for _, x := range b.FailingClauses {
				cl = append(cl, x.String())
			}
			if len(cl) == 0 {
				cl = append(cl, "its condition is "+b.ConditionValue)
			}
			conditionFailures = append(conditionFailures, strings.Join(cl, "; "))
		}
	}
	for _, r := range res.Requirements {
		c.Details = append(c.Details, fmt.Sprintf("requires access level %s: iapterm cannot verify it (your device must satisfy it)", r))
	}
	if terr == nil {
		c.Details = append(c.Details, fmt.Sprintf("testIamPermissions on %s: %s", projects.IAPTunnelResource(inst.Project, inst.Zone, inst.Name), heldWord(has)))
	}
	switch res.Verdict {
	case policy.Granted:
		c.Mark = OK
		c.Summary = fmt.Sprintf("%s may tunnel to port %d: %s", email, t.Port, res.Summary)
	case policy.Unknown:
		if has && len(res.Requirements) == 0 {
			// Only group membership was unknown, and IAP resolved it.
			c.Mark = OK
			c.Summary = fmt.Sprintf("%s may tunnel to port %d: granted through a group, as testIamPermissions confirms", email, t.Port)
			break
		}
		c.Mark = Warning
		c.Summary = fmt.Sprintf("cannot tell whether %s may tunnel to port %d: it depends on group membership or access levels iapterm cannot see", email, t.Port)
		if len(res.Requirements) > 0 {
			c.Summary = fmt.Sprintf("%s may tunnel to port %d only from a device that satisfies %s, which iapterm cannot verify", email, t.Port, strings.Join(res.Requirements, ", "))
		}
	default:
		switch {
		case len(conditionFailures) > 0:
			c.Mark = Failed
			c.Summary = fmt.Sprintf("the IAM condition on your %s binding excludes this connection: %s", policy.RoleTunnelResourceAccess, conditionFailures[0])
			c.Fix = fmt.Sprintf("ask for the condition to allow port %d of this VM now, or for an unconditional grant: %s", t.Port, grantCmd)
			if has {
				c.Details = append(c.Details, "testIamPermissions does not evaluate request attributes such as the port, so its yes does not override the condition")
			}
		case has:
			c.Mark = Warning
			c.Summary = fmt.Sprintf("testIamPermissions grants %s, but no binding in the project or instance policies does: the grant must come from a folder or organisation policy", policy.PermTunnelAccess)
		default:
			c.Mark = Failed
			c.Summary = fmt.Sprintf("%s lacks %s on instance %s (role %s, IAP-secured Tunnel User)", email, policy.PermTunnelAccess, inst.Name, policy.RoleTunnelResourceAccess)
			c.Fix = "ask a project administrator to run: " + grantCmd
		}
	}
	return c
}

func heldWord(has bool) string {
	if has {
		return "held"
	}
	return "not held"
}

// metaBool reads a boolean metadata key, instance value over project value
// (even FALSE), as the guest agent does.
func metaBool(inst, proj map[string]string, key string) (value, set bool) {
	if v, ok := inst[key]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return err == nil && b, true
	}
	if v, ok := proj[key]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		return err == nil && b, true
	}
	return false, false
}

func (d *Doctor) checkSSH(ctx context.Context, t Target, inst *projects.Instance) Check {
	c := Check{ID: CheckSSH, Title: "SSH prerequisites"}
	if t.Port != 22 {
		c.Mark, c.Summary = Skipped, fmt.Sprintf("port %d is not SSH", t.Port)
		return c
	}
	if d.Identity.Email == "" {
		c.Mark, c.Summary = Skipped, "the signed-in account's email is unknown"
		return c
	}
	email := d.Identity.Email
	member := memberFor(email)
	cctx, cancel := d.call(ctx)
	defer cancel()
	projMeta, err := d.Cloud.ProjectMetadata(cctx, inst.Project)
	if err != nil {
		c.Details = append(c.Details, "cannot read project metadata ("+err.Error()+"): judging from instance metadata only")
	}
	osLogin, _ := metaBool(inst.Metadata, projMeta, "enable-oslogin")
	twoFA, _ := metaBool(inst.Metadata, projMeta, "enable-oslogin-2fa")
	sk, _ := metaBool(inst.Metadata, projMeta, "enable-oslogin-sk")

	instPerms := []string{policy.PermOSLogin, policy.PermOSAdminLogin, policy.PermSetMetadata}
	heldInst, ierr := d.Cloud.TestInstancePermissions(cctx, inst.Project, inst.Zone, inst.Name, instPerms)
	projPerms := []string{policy.PermSetCommonMetadata, policy.PermActAs}
	heldProj, perr := d.Cloud.TestProjectPermissions(cctx, inst.Project, projPerms)
	holds := func(p string) bool { return slices.Contains(heldInst, p) || slices.Contains(heldProj, p) }

	var problems, fixes []string
	saFix := ""
	if inst.ServiceAccount != "" {
		saFix = fmt.Sprintf("gcloud iam service-accounts add-iam-policy-binding %s --member=%s --role=%s --project=%s", inst.ServiceAccount, member, policy.RoleServiceAccountUser, inst.Project)
	}
	if ierr != nil {
		c.Details = append(c.Details, "cannot test instance permissions: "+ierr.Error())
	}
	if perr != nil {
		c.Details = append(c.Details, "cannot test project permissions: "+perr.Error())
	}
	windows := inst.OS == projects.Windows
	if windows {
		// Windows guests take SSH keys from metadata only; OS Login does
		// not apply to them.
		osLogin, twoFA, sk = false, false, false
	}
	mode := "metadata SSH keys"
	if osLogin {
		mode = "OS Login"
	}
	windowsSSH := false
	if windows {
		mode = "Windows, metadata SSH keys"
		windowsSSH, _ = metaBool(inst.Metadata, projMeta, "enable-windows-ssh")
	}
	if osLogin {
		if sk {
			problems = append(problems, "OS Login with security keys (enable-oslogin-sk) is on, which iapterm (like IAP Desktop) does not support")
			fixes = append(fixes, fmt.Sprintf("use a client with security-key support (gcloud compute ssh %s --zone=%s --project=%s), or ask for enable-oslogin-sk to be removed", inst.Name, inst.Zone, inst.Project))
		}
		if ierr == nil && !holds(policy.PermOSLogin) && !holds(policy.PermOSAdminLogin) {
			problems = append(problems, fmt.Sprintf("OS Login is on but %s holds neither %s nor %s", email, policy.PermOSLogin, policy.PermOSAdminLogin))
			fixes = append(fixes, fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=%s --role=%s (or %s for sudo)", inst.Project, member, policy.RoleOSLogin, policy.RoleOSAdminLogin))
		} else if ierr == nil {
			role := "roles/compute.osLogin (no sudo)"
			if holds(policy.PermOSAdminLogin) {
				role = "roles/compute.osAdminLogin (sudo)"
			}
			c.Details = append(c.Details, "OS Login access: "+role)
		}
		if twoFA {
			c.Details = append(c.Details, "2-step verification (enable-oslogin-2fa) is on: expect a verification prompt after the key is accepted")
		}
		pctx, pcancel := d.call(ctx)
		if lp, err := d.Cloud.LoginProfile(pctx, email, inst.Project); err == nil {
			if u := lp.Username(); u != "" {
				c.Details = append(c.Details, "OS Login username "+u)
			} else {
				c.Details = append(c.Details, "no OS Login POSIX account yet: one is created on first login")
			}
		} else {
			c.Details = append(c.Details, "cannot read the OS Login profile: "+err.Error())
		}
		pcancel()
	} else {
		blockProject, _ := metaBool(inst.Metadata, nil, "block-project-ssh-keys")
		if _, legacy := inst.Metadata["sshKeys"]; legacy {
			c.Details = append(c.Details, "the instance has the legacy sshKeys metadata key, which blocks project-wide keys")
			blockProject = true
		}
		canInstance := holds(policy.PermSetMetadata)
		canProject := holds(policy.PermSetCommonMetadata) && !blockProject
		if ierr == nil && perr == nil && !canInstance && !canProject {
			why, alt := "OS Login is off", fmt.Sprintf(" (or turn OS Login on and grant %s)", policy.RoleOSLogin)
			if windows {
				why, alt = "Windows takes SSH keys from metadata only", ""
			}
			problems = append(problems, fmt.Sprintf("%s and %s may not publish an SSH key: needs %s on the instance or %s on the project", why, email, policy.PermSetMetadata, policy.PermSetCommonMetadata))
			fixes = append(fixes, fmt.Sprintf("gcloud compute instances add-iam-policy-binding %s --zone=%s --project=%s --member=%s --role=roles/compute.instanceAdmin.v1%s", inst.Name, inst.Zone, inst.Project, member, alt))
		} else if canProject {
			c.Details = append(c.Details, "SSH keys can be published in project metadata")
		} else if canInstance {
			c.Details = append(c.Details, "SSH keys can be published in instance metadata")
		}
	}
	if inst.ServiceAccount != "" && perr == nil && !holds(policy.PermActAs) {
		problems = append(problems, fmt.Sprintf("the VM runs as service account %s and %s lacks %s on it", inst.ServiceAccount, email, policy.PermActAs))
		fixes = append(fixes, saFix)
	}
	if len(problems) > 0 {
		c.Mark = Failed
		c.Summary = mode + ": " + strings.Join(problems, "; ")
		c.Fix = strings.Join(fixes, "\n")
		return c
	}
	if windows && !windowsSSH {
		c.Mark = Warning
		c.Summary = mode + ": enable-windows-ssh is not TRUE, so the guest agent does not apply SSH keys (and the VM needs an OpenSSH server)"
		c.Fix = fmt.Sprintf("gcloud compute instances add-metadata %s --zone=%s --project=%s --metadata=enable-windows-ssh=TRUE (with OpenSSH Server installed on the VM); for a desktop, use RDP on port 3389", inst.Name, inst.Zone, inst.Project)
		return c
	}
	if ierr != nil || perr != nil {
		c.Mark, c.Summary = Warning, mode+": could not verify the permissions"
		return c
	}
	c.Mark, c.Summary = OK, mode+": "+email+" has what SSH needs"
	return c
}

func (d *Doctor) checkTransport(ctx context.Context, t Target, rep *Report) Check {
	c := Check{ID: CheckTransport, Title: "Transport"}
	if d.Relay != nil {
		cctx, cancel := d.call(ctx)
		err := d.Relay.CheckRelay(cctx)
		cancel()
		if err != nil {
			c.Mark, c.Summary = Failed, err.Error()
			c.Fix = relayFix(err)
			return c
		}
		c.Details = append(c.Details, "relay host reachable over TCP")
	}
	if d.Prober == nil {
		c.Mark, c.Summary = Skipped, "no relay probe configured"
		if d.Relay != nil {
			c.Mark, c.Summary = OK, "relay reachable (no tunnel probe)"
		}
		return c
	}
	for _, id := range []string{CheckCredentials, CheckInstance} {
		if x := rep.Check(id); x != nil && x.Mark == Failed {
			c.Mark, c.Summary = Skipped, "tunnel probe skipped: the "+x.Title+" check failed"
			return c
		}
	}
	if t.Zone == "" {
		c.Mark, c.Summary = Skipped, "tunnel probe skipped: the zone is unknown"
		return c
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	err := d.Prober.Probe(cctx, tunnel.Target{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port})
	if err == nil {
		c.Mark, c.Summary = OK, fmt.Sprintf("opened and closed a tunnel to port %d through the relay", t.Port)
		c.probed = true
		return c
	}
	c.Mark = Failed
	c.Summary, c.Fix = explainProbe(err, t, rep)
	return c
}

// explainProbe turns a relay failure into a line and a fix, using what the
// other checks found.
func explainProbe(err error, t Target, rep *Report) (summary, fix string) {
	markOf := func(id string) Mark {
		if x := rep.Check(id); x != nil {
			return x.Mark
		}
		return Skipped
	}
	fixOf := func(id string) string {
		if x := rep.Check(id); x != nil {
			return x.Fix
		}
		return ""
	}
	var ce *tunnel.CloseError
	var he *tunnel.HandshakeError
	switch {
	case errors.As(err, &he) && he.Status == 403:
		if markOf(CheckIAP) == OK {
			return "HTTP 403 on the WebSocket upgrade although the IAP permission is in place: a proxy between you and Google probably blocks WebSockets",
				"let WebSocket upgrades to the IAP relay (tunnel.cloudproxy.app) through your proxy, or set HTTPS_PROXY/NO_PROXY so iapterm uses a proxy that allows them"
		}
		return "HTTP 403 on the WebSocket upgrade: not authorized to tunnel (see the IAP permission check)", fixOf(CheckIAP)
	case errors.As(err, &he) && he.Status == 401, errors.Is(err, tunnel.ErrTokenRejected):
		return "the relay rejected the access token (HTTP 401)", "iapterm auth login"
	case errors.As(err, &ce) && ce.Code == tunnel.CloseFailedToConnectToBackend, errors.Is(err, tunnel.ErrBackendUnreachable):
		if markOf(CheckFirewall) == Failed {
			return fmt.Sprintf("relay close 4003 'failed to connect to backend': the firewall blocks IAP on tcp:%d", t.Port), fixOf(CheckFirewall)
		}
		summary := fmt.Sprintf("relay close 4003 'failed to connect to backend': nothing answers on port %d of the VM (the service is not running, listens on another port, or a guest firewall blocks 35.235.240.0/20); a VM that just started may also need a minute", t.Port)
		if rep.windows {
			fix := fmt.Sprintf("check on the VM that something listens on port %d (for example in PowerShell through the serial console: Get-NetTCPConnection -State Listen -LocalPort %d) and that Windows Defender Firewall lets 35.235.240.0/20 in", t.Port, t.Port)
			if t.Port == 3389 {
				fix += "; for RDP, that Remote Desktop is enabled (System > Remote Desktop)"
			}
			return summary, fix
		}
		return summary, fmt.Sprintf("check on the VM that something listens on port %d (for example through the serial console: sudo ss -ltnp)", t.Port)
	case errors.As(err, &ce) && ce.Code == tunnel.CloseNotAuthorized, errors.Is(err, tunnel.ErrNotAuthorized):
		fix := fixOf(CheckIAP)
		if fix == "" {
			// The permission check saw a grant (or could not tell), yet
			// IAP refused: what it could not evaluate excludes this port.
			fix = fmt.Sprintf("ask an IAM administrator for %s that covers port %d of this VM: a condition on your grant (port, address, time or access level) excludes this connection", policy.RoleTunnelResourceAccess, t.Port)
		}
		return "relay close 4033 'not authorized': IAP refused the tunnel (the tunnel role is missing or its condition fails for this port)", fix
	case errors.As(err, &ce) && ce.Code == tunnel.CloseLookupFailed, errors.Is(err, tunnel.ErrInstanceNotFound):
		return "the relay did not find the instance (4047 or HTTP 404): check project, zone and name; a VM being created may need a moment", ""
	case errors.Is(err, tunnel.ErrConnectTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timed out waiting for the relay: " + err.Error(), "check your network connection and proxy settings (HTTPS_PROXY)"
	}
	return "tunnel probe failed: " + err.Error(), ""
}

func relayFix(err error) string {
	var he *tunnel.HandshakeError
	if errors.As(err, &he) && he.Status == 403 {
		return "a proxy probably blocks WebSockets: let upgrades to the IAP relay through, or bypass the proxy for it"
	}
	return "check that this machine can reach the relay over HTTPS (firewall, proxy settings in HTTPS_PROXY)"
}
