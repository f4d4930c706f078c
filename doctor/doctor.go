// Package doctor diagnoses why a connection to a VM through IAP does or
// does not work: credentials, the instance, VPC firewall rules, the IAP
// permission and its IAM conditions, SSH prerequisites and the relay
// transport. Every failed check says exactly what to run or ask for.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"iapterm/auth"
	"iapterm/projects"
	"iapterm/tunnel"
)

// Mark is a check's outcome.
type Mark string

const (
	OK      Mark = "ok"
	Warning Mark = "warning"
	Failed  Mark = "failed"
	Skipped Mark = "skipped"
)

// Check IDs, in the order the report lists them.
const (
	CheckCredentials = "credentials"
	CheckInstance    = "instance"
	CheckFirewall    = "firewall"
	CheckIAP         = "iap-permission"
	CheckSSH         = "ssh"
	CheckTransport   = "transport"
)

// Check is one line of the report.
type Check struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Mark    Mark     `json:"mark"`
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
	// Fix is the exact command or request that repairs a failure.
	Fix string `json:"fix,omitempty"`
	// Repair is what the doctor itself can do about the failure when asked
	// (Doctor.Start, Doctor.Fix), for callers that offer it: no need to
	// read the Fix command's text.
	Repair *Repair `json:"repair,omitempty"`
	// probed: a tunnel was opened (the transport check's OK is IAP's own
	// yes, not only a reachable relay host).
	probed bool
}

// Repair kinds.
const (
	// RepairStart starts a stopped instance (Doctor.Start).
	RepairStart = "start"
	// RepairResume resumes a suspended instance (Doctor.Start).
	RepairResume = "resume"
	// RepairFirewallRule creates the firewall rule IAP needs (Doctor.Fix).
	RepairFirewallRule = "create-firewall-rule"
)

// Repair is a repair the doctor can make for a failed check.
type Repair struct {
	Kind string `json:"kind"` // RepairStart, RepairResume or RepairFirewallRule
	// Project is where the repair happens: the instance's project, or for
	// a firewall rule the network's (the host project of a shared VPC).
	Project string `json:"project"`
}

// Report is the doctor's result.
type Report struct {
	Project  string  `json:"project"`
	Zone     string  `json:"zone"`
	Instance string  `json:"instance"`
	Port     int     `json:"port"`
	Checks   []Check `json:"checks"`
	// CanConnect is false when a failed check means the connection cannot
	// work.
	CanConnect bool `json:"canConnect"`
	// windows: the instance runs Windows (for the commands fixes suggest).
	windows bool
}

// Check returns the check with id, or nil.
func (r *Report) Check(id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

// The calls the doctor makes, each declared as small as it is used;
// *projects.Client satisfies them all.
type (
	// InstanceResolver finds an instance; an empty zone searches the project.
	InstanceResolver interface {
		Resolve(ctx context.Context, project, zone, name string) (*projects.Instance, error)
	}
	// FirewallReader reads firewall rules.
	FirewallReader interface {
		EffectiveFirewalls(ctx context.Context, project, zone, name string) ([]projects.Firewall, error)
		Firewalls(ctx context.Context, project string) ([]projects.Firewall, error)
	}
	// TunnelPermissionTester asks IAP which tunnel permissions the caller holds.
	TunnelPermissionTester interface {
		TestIAPTunnelPermissions(ctx context.Context, project, zone, instance string, perms []string) ([]string, error)
	}
	// PolicyReader reads the IAM policies that can grant the tunnel role.
	PolicyReader interface {
		IAPTunnelPolicy(ctx context.Context, project, zone, instance string) (*projects.Policy, error)
		ProjectPolicy(ctx context.Context, project string) (*projects.Policy, error)
	}
	// PermissionTester tests permissions on an instance and a project.
	PermissionTester interface {
		TestInstancePermissions(ctx context.Context, project, zone, name string, perms []string) ([]string, error)
		TestProjectPermissions(ctx context.Context, project string, perms []string) ([]string, error)
	}
	// MetadataReader reads project metadata.
	MetadataReader interface {
		ProjectMetadata(ctx context.Context, project string) (map[string]string, error)
	}
	// LoginProfiler reads a user's OS Login profile.
	LoginProfiler interface {
		LoginProfile(ctx context.Context, email, project string) (*projects.LoginProfile, error)
	}
	// Prober opens a relay session to a target and closes it.
	Prober interface {
		Probe(ctx context.Context, t tunnel.Target) error
	}
	// InstanceStarter starts or resumes an instance and waits (for --start).
	InstanceStarter interface {
		Start(ctx context.Context, project, zone, name string) error
		Resume(ctx context.Context, project, zone, name string) error
	}
	// FirewallCreator creates a firewall rule in a project (for --fix).
	FirewallCreator interface {
		CreateFirewall(ctx context.Context, project string, fw projects.Firewall) error
	}
)

// Cloud is every read the doctor makes.
type Cloud interface {
	InstanceResolver
	FirewallReader
	TunnelPermissionTester
	PolicyReader
	PermissionTester
	MetadataReader
	LoginProfiler
}

// Identity is who the doctor checks for.
type Identity struct {
	Email string
	// Source is where the credentials came from (auth.SourceEnv,
	// auth.SourceSignIn, ...). With Err, it is the source that failed, when
	// known: a rejected auth.SourceEnv token is not fixed by signing in,
	// since the variable comes first.
	Source string
	Tokens oauth2.TokenSource
	// Err is why no credentials were found, when Tokens is nil.
	Err error
}

// Surface is where a report is shown, for the hints that name a place to
// go next.
type Surface int

const (
	// Anywhere: hints name no place (the gcloud and iapterm commands only).
	Anywhere Surface = iota
	// CommandLine: iapterm doctor in a shell; hints may point to the
	// explorer.
	CommandLine
	// Explorer: the explorer's Diagnose panel; hints name its keys.
	Explorer
)

// RelayChecker checks the transport below the relay protocol: that the
// relay host answers and lets a WebSocket upgrade through.
type RelayChecker interface {
	CheckRelay(ctx context.Context) error
}

// Doctor runs the checks. Cloud and Identity are required; the others
// skip their checks when nil.
type Doctor struct {
	Cloud    Cloud
	Identity Identity
	Prober   Prober
	Relay    RelayChecker
	// Creator, with Fix set, creates the missing firewall rule.
	Creator FirewallCreator
	Fix     bool
	// Starter, with Start set, starts a stopped (or resumes a suspended)
	// instance before the other checks.
	Starter InstanceStarter
	Start   bool
	// Groups resolves group membership for bindings on groups.
	Groups func(group, member string) (isMember, known bool)
	// AccessLevels the device is known to satisfy; nil means unknown.
	AccessLevels []string
	// Now is the clock for conditions on request.time (time.Now when nil).
	Now func() time.Time
	// Timeout bounds each remote call (20 s when 0).
	Timeout time.Duration
	// Shown is where the report is shown (Anywhere when 0).
	Shown Surface
}

// Target is what to diagnose.
type Target struct {
	Project, Zone, Instance string
	Port                    int
}

func (d *Doctor) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Doctor) call(ctx context.Context) (context.Context, context.CancelFunc) {
	t := d.Timeout
	if t == 0 {
		t = 20 * time.Second
	}
	return context.WithTimeout(ctx, t)
}

// Run performs every check and returns the report. It never fails as a
// whole: problems become failed or skipped checks.
func (d *Doctor) Run(ctx context.Context, t Target) *Report {
	if t.Port == 0 {
		t.Port = 22
	}
	rep := &Report{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port}
	cred := d.checkCredentials(ctx)
	inst, ic := d.checkInstance(ctx, t, cred.Mark != Failed)
	if inst != nil {
		rep.Zone = inst.Zone
		t.Zone = inst.Zone
		rep.windows = inst.OS == projects.Windows
	}
	rep.Checks = append(rep.Checks, cred, ic)

	var fw, iapc, ssh Check
	if inst == nil {
		fw = skipped(CheckFirewall, "Firewall", "no instance to check")
		iapc = skipped(CheckIAP, "IAP permission", "no instance to check")
		ssh = skipped(CheckSSH, "SSH prerequisites", "no instance to check")
	} else {
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); fw = d.checkFirewall(ctx, t, inst) }()
		go func() { defer wg.Done(); iapc = d.checkIAP(ctx, t, inst) }()
		go func() { defer wg.Done(); ssh = d.checkSSH(ctx, t, inst) }()
		wg.Wait()
	}
	rep.Checks = append(rep.Checks, fw, iapc, ssh)
	tc := d.checkTransport(ctx, t, rep)
	rep.Checks = append(rep.Checks, tc)
	if tc.Mark == OK && tc.probed {
		acceptedByIAP(rep.Check(CheckIAP), t.Port)
	}
	rep.CanConnect = true
	for _, c := range rep.Checks {
		if c.Mark == Failed {
			rep.CanConnect = false
		}
	}
	return rep
}

// acceptedByIAP corrects a failed IAP permission check once the relay
// has accepted a tunnel to the port: IAP itself granted the connection,
// so whatever the check could not see (testIamPermissions does not count
// a grant whose condition depends on the port or address; a grant from a
// folder or organisation policy) does not block it.
func acceptedByIAP(c *Check, port int) {
	if c == nil || c.Mark != Failed {
		return
	}
	c.Details = append(c.Details, "before the tunnel probe: "+c.Summary)
	c.Mark = Warning
	c.Summary = fmt.Sprintf("IAP accepted a tunnel to port %d, so the permission is in place for this port, through a grant the checks above cannot see (a condition on the port or address, which testIamPermissions does not count, or a folder or organisation policy); other ports may still be refused", port)
	c.Fix = ""
}

func skipped(id, title, why string) Check {
	return Check{ID: id, Title: title, Mark: Skipped, Summary: why}
}

func (d *Doctor) checkCredentials(ctx context.Context) Check {
	c := Check{ID: CheckCredentials, Title: "Credentials"}
	id := d.Identity
	who := id.Email
	if who == "" {
		who = "an unknown account"
	}
	if id.Tokens == nil {
		c.Mark, c.Summary = Failed, "not signed in"
		if id.Err != nil {
			c.Summary = id.Err.Error()
		}
		c.Fix = "iapterm auth login (or set IAPTERM_ACCESS_TOKEN, or run gcloud auth application-default login)"
		switch {
		case errors.Is(id.Err, auth.ErrSignInExpired) && id.Source == auth.SourceEnv:
			// Signing in does not help while the rejected token is set:
			// it comes first.
			c.Fix = fmt.Sprintf("set %s to a fresh token (gcloud auth print-access-token), or unset it and run iapterm auth login", auth.EnvAccessToken)
		case errors.Is(id.Err, auth.ErrSignInExpired):
			c.Fix = "iapterm auth login"
		}
		return c
	}
	tok, err := id.Tokens.Token()
	if err != nil {
		c.Mark, c.Summary = Failed, fmt.Sprintf("%s from %s: no valid token: %v", who, id.Source, err)
		c.Fix = "iapterm auth login"
		return c
	}
	c.Mark = OK
	c.Summary = fmt.Sprintf("%s (%s)", who, id.Source)
	if !tok.Expiry.IsZero() {
		c.Details = append(c.Details, "token valid until "+tok.Expiry.UTC().Format(time.RFC3339))
	}
	if scope, _ := tok.Extra("scope").(string); scope != "" {
		if !strings.Contains(scope, "https://www.googleapis.com/auth/cloud-platform") {
			c.Mark = Failed
			c.Summary += ": the token lacks the cloud-platform scope"
			c.Details = append(c.Details, "granted scopes: "+scope)
			c.Fix = "iapterm auth login, and leave every requested permission ticked on the consent screen"
		} else {
			c.Details = append(c.Details, "scopes include cloud-platform")
		}
	}
	if id.Email == "" {
		c.Mark = Warning
		c.Details = append(c.Details, "the account's email is unknown, so IAM bindings cannot be matched to it")
	}
	return c
}

func (d *Doctor) checkInstance(ctx context.Context, t Target, haveCreds bool) (*projects.Instance, Check) {
	c := Check{ID: CheckInstance, Title: "Instance"}
	if !haveCreds {
		c.Mark, c.Summary = Skipped, "needs credentials"
		return nil, c
	}
	if t.Project == "" {
		c.Mark, c.Summary = Failed, "no project given"
		c.Fix = fmt.Sprintf("iapterm doctor %s --project PROJECT [--zone ZONE]", t.Instance)
		return nil, c
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	inst, err := d.Cloud.Resolve(cctx, t.Project, t.Zone, t.Instance)
	if err != nil {
		c.Mark, c.Summary = Failed, err.Error()
		if errors.Is(err, projects.ErrNotFound) {
			c.Fix = fmt.Sprintf("check the name and zone: gcloud compute instances list --project=%s --filter=name~%s", t.Project, t.Instance)
			if d.projectMissing(ctx, t.Project) {
				// Listing the project's instances would fail the same way.
				c.Fix = fmt.Sprintf("check the project ID %q: iapterm projects search lists the projects you can see (add part of a name or ID to narrow it)", t.Project)
				if t.Zone != "" {
					c.Summary = fmt.Sprintf("project %s not found (or you cannot see it)", t.Project)
				}
			}
		}
		return nil, c
	}
	where := fmt.Sprintf("%s in %s/%s", inst.Name, inst.Project, inst.Zone)
	if inst.InternalIP != "" {
		c.Details = append(c.Details, "nic0 internal IP "+inst.InternalIP+" (IAP connects to this address)")
	}
	if inst.ExternalIP != "" {
		c.Details = append(c.Details, "external IP "+inst.ExternalIP+": IAP is optional for this VM, it is also reachable directly if its firewall allows")
	}
	if d.Start && d.Starter != nil && inst.Status != "RUNNING" {
		if started, note := d.startInstance(ctx, inst); started != nil {
			inst = started
			c.Details = append(c.Details, note)
		} else {
			c.Details = append(c.Details, note)
		}
	}
	switch inst.Status {
	case "RUNNING":
		c.Mark, c.Summary = OK, where+" is RUNNING"
	case "PROVISIONING", "STAGING":
		c.Mark, c.Summary = Warning, fmt.Sprintf("%s is %s: it is starting; connections fail until it boots", where, inst.Status)
	case "SUSPENDED", "SUSPENDING":
		c.Mark, c.Summary = Failed, fmt.Sprintf("%s is %s", where, inst.Status)
		c.Fix = fmt.Sprintf("gcloud compute instances resume %s --zone=%s --project=%s", inst.Name, inst.Zone, inst.Project) + d.orStart(inst, t.Port)
		if inst.Status == "SUSPENDED" {
			c.Repair = &Repair{Kind: RepairResume, Project: inst.Project}
		}
	default:
		c.Mark, c.Summary = Failed, fmt.Sprintf("%s is %s, not RUNNING", where, inst.Status)
		c.Fix = fmt.Sprintf("gcloud compute instances start %s --zone=%s --project=%s", inst.Name, inst.Zone, inst.Project) + d.orStart(inst, t.Port)
		if inst.Status == "TERMINATED" || inst.Status == "STOPPED" {
			c.Repair = &Repair{Kind: RepairStart, Project: inst.Project}
		}
	}
	if c.Fix != "" {
		verb := "start"
		if inst.Status == "SUSPENDED" || inst.Status == "SUSPENDING" {
			verb = "resume"
		}
		switch d.Shown {
		case CommandLine:
			c.Details = append(c.Details, "or "+verb+" it from the explorer (iapterm ui)")
		case Explorer:
			c.Details = append(c.Details, "or press s here to "+verb+" it and check again")
		}
	}
	return inst, c
}

// projectMissing reports whether project itself is what was not found
// (when an instance lookup answered 404): the project's own record is not
// found either.
func (d *Doctor) projectMissing(ctx context.Context, project string) bool {
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.Cloud.ProjectMetadata(cctx, project)
	return errors.Is(err, projects.ErrNotFound)
}

// orStart is the doctor's own way to start inst, as an alternative to the
// gcloud command: " (or iapterm doctor ... --start)", except inside the
// explorer, whose panel starts it with a key instead.
func (d *Doctor) orStart(inst *projects.Instance, port int) string {
	if d.Shown == Explorer {
		return ""
	}
	return " (or " + startCommand(inst, port) + ")"
}

// startCommand is the doctor command line that starts inst and checks it
// again, ready to paste.
func startCommand(inst *projects.Instance, port int) string {
	cmd := fmt.Sprintf("iapterm doctor %s/%s/%s", inst.Project, inst.Zone, inst.Name)
	if port != 22 {
		cmd += fmt.Sprintf(" --port %d", port)
	}
	return cmd + " --start"
}

// startInstance starts or resumes inst and reads it again; it returns nil
// and the reason when that did not work.
func (d *Doctor) startInstance(ctx context.Context, inst *projects.Instance) (*projects.Instance, string) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var err error
	verb := "started"
	switch inst.Status {
	case "SUSPENDED":
		verb = "resumed"
		err = d.Starter.Resume(sctx, inst.Project, inst.Zone, inst.Name)
	case "TERMINATED", "STOPPED":
		err = d.Starter.Start(sctx, inst.Project, inst.Zone, inst.Name)
	default:
		return nil, fmt.Sprintf("--start: an instance that is %s cannot be started now", inst.Status)
	}
	if err != nil {
		return nil, "--start: " + err.Error()
	}
	again, err := d.Cloud.Resolve(sctx, inst.Project, inst.Zone, inst.Name)
	if err != nil {
		return nil, fmt.Sprintf("--start: %s the instance, but reading it again failed: %v", verb, err)
	}
	return again, fmt.Sprintf("--start: %s the instance (it was %s)", verb, inst.Status)
}

// Print writes the report as one line per check, with details and fixes
// indented below.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Diagnosing port %d of %s (project %s, zone %s)\n", r.Port, r.Instance, r.Project, orDash(r.Zone))
	// The widest mark is [skipped] or [warning]; details and fixes start
	// where the summary does.
	const markWidth, titleWidth = 9, 18
	indent := strings.Repeat(" ", markWidth+1+titleWidth+1)
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-*s %-*s %s\n", markWidth, "["+string(c.Mark)+"]", titleWidth, c.Title, c.Summary)
		for _, d := range c.Details {
			fmt.Fprintf(w, "%s%s\n", indent, d)
		}
		if c.Fix != "" {
			for i, line := range strings.Split(c.Fix, "\n") {
				prefix := "fix: "
				if i > 0 {
					prefix = "     "
				}
				fmt.Fprintf(w, "%s%s%s\n", indent, prefix, line)
			}
		}
	}
	if r.CanConnect {
		fmt.Fprintln(w, "No blocking problem found.")
	} else {
		fmt.Fprintln(w, "The connection cannot work until the failed checks are fixed.")
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
