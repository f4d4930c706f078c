package backend

import (
	"context"
	"slices"

	"iapterm/doctor"
	"iapterm/projects"
)

// Doctor runs iapterm's doctor with the session's clients for the TUI's
// Diagnose action.
type Doctor struct {
	Cloud    *projects.Client
	Identity doctor.Identity
	// Prober, Relay and Creator may be nil: their checks or repairs are
	// skipped.
	Prober  doctor.Prober
	Relay   doctor.RelayChecker
	Creator doctor.FirewallCreator
}

// Diagnose runs every check for t; fix creates the missing firewall rule,
// start starts (or resumes) the VM first.
func (d Doctor) Diagnose(ctx context.Context, t doctor.Target, fix, start bool) *doctor.Report {
	return d.doctor(fix, start).Run(ctx, t)
}

// doctor is the doctor for one run. Its report is shown in the
// explorer's Diagnose panel, so its hints name the panel's keys (s starts
// the VM) rather than the doctor command line.
func (d Doctor) doctor(fix, start bool) *doctor.Doctor {
	return &doctor.Doctor{Cloud: d.Cloud, Identity: d.Identity, Prober: d.Prober, Relay: d.Relay,
		Creator: d.Creator, Fix: fix && d.Creator != nil, Starter: d.Cloud, Start: start,
		Shown: doctor.Explorer}
}

// PermFirewallsCreate is what creating the doctor's firewall rule needs.
const PermFirewallsCreate = "compute.firewalls.create"

// MayCreateFirewall reports whether the user holds compute.firewalls.create
// in project (and whether this session can create rules at all).
func (d Doctor) MayCreateFirewall(ctx context.Context, project string) (bool, error) {
	if d.Creator == nil || project == "" {
		return false, nil
	}
	held, err := d.Cloud.TestProjectPermissions(ctx, project, []string{PermFirewallsCreate})
	if err != nil {
		return false, err
	}
	return slices.Contains(held, PermFirewallsCreate), nil
}
