package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"iapterm/auth"
	"iapterm/doctor"
	"iapterm/projects"
	"iapterm/tunnel"
)

func init() { register(newDoctorCmd) }

type doctorFlags struct {
	project, zone string
	port          int
	json, fix     bool
	start         bool
	levels        []string
}

func newDoctorCmd() *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor INSTANCE",
		Short: "Find out why a connection to a VM through IAP does not work, and how to fix it",
		Long: `doctor checks, for one VM port: your credentials; that the instance exists
and runs; that a firewall rule lets IAP (35.235.240.0/20) reach the port;
that you hold the IAP-secured Tunnel User role, evaluating IAM conditions
locally for this port, address and time; for port 22, OS Login or metadata
SSH key permissions; and finally opens a real tunnel through the relay.
Every failed check prints the exact command that fixes it.

INSTANCE is a name (with --project or $IAPTERM_PROJECT, and --zone unless
the name is unique in the project) or PROJECT/ZONE/NAME.

Exit status: 0 when nothing blocks the connection, 1 when a check failed,
2 for bad arguments.`,
		Example: `  iapterm doctor web-1 --project my-project --zone us-central1-a
  iapterm doctor my-project/us-central1-a/db-1 --port 5432
  iapterm doctor web-1 --project my-project --json
  iapterm doctor web-1 --project my-project --fix     # create the missing firewall rule
  iapterm doctor web-1 --project my-project --start   # start the VM first if it is stopped`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return exitError{2, "give one instance: iapterm doctor INSTANCE --project PROJECT [--zone ZONE] [--port N]"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runDoctor(cmd, f, args[0]) },
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitError{2, err.Error()} })
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "the instance's project (default $IAPTERM_PROJECT)")
	fl.StringVar(&f.zone, "zone", "", "the instance's zone (searched for when omitted)")
	fl.IntVar(&f.port, "port", 22, "the VM port to check")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.BoolVar(&f.fix, "fix", false, "create the missing firewall rule for IAP when you are allowed to")
	fl.BoolVar(&f.start, "start", false, "start the instance first when it is stopped (or resume it when suspended)")
	fl.StringArrayVar(&f.levels, "access-level", nil, "access level your device satisfies (accessPolicies/N/accessLevels/NAME); repeatable")
	return cmd
}

func runDoctor(cmd *cobra.Command, f doctorFlags, arg string) error {
	ctx := cmd.Context()
	if f.port < 1 || f.port > 65535 {
		return exitError{2, fmt.Sprintf("--port %d is not a TCP port (1-65535)", f.port)}
	}
	project, zone, name, err := splitInstance(arg, f.project, f.zone)
	if err != nil {
		return exitError{2, err.Error()}
	}
	if err := checkAccessLevels(f.levels); err != nil {
		return err
	}
	t := doctor.Target{Project: project, Zone: zone, Instance: name, Port: f.port}
	d := &doctor.Doctor{Fix: f.fix, AccessLevels: f.levels, Shown: doctor.CommandLine}
	creds, eps, err := credentials(ctx)
	if err == nil {
		d.Identity = doctor.Identity{Email: creds.Email, Source: creds.Source, Tokens: creds.TokenSource}
	} else {
		// A missing sign-in is itself a finding: the credentials check
		// reports it. A bad endpoint setting is not.
		if eps.Compute == "" {
			return err
		}
		d.Identity = doctor.Identity{Err: err}
		if strings.TrimSpace(os.Getenv(auth.EnvAccessToken)) != "" {
			// auth.Resolve uses the variable first, so it is what failed.
			d.Identity.Source = auth.SourceEnv
		}
	}
	client, err := projects.NewClient(ctx, eps, d.Identity.Tokens)
	if err != nil {
		return err
	}
	d.Cloud = client
	d.Starter, d.Start = client, f.start
	d.Relay = doctor.TCPRelayChecker{Relay: eps.Relay}
	if d.Identity.Tokens != nil {
		d.Prober = &tunnel.Dialer{Endpoints: eps, Tokens: d.Identity.Tokens, UserAgent: "iapterm/" + version}
		if f.fix {
			if fc, err := doctor.NewComputeFirewallCreator(ctx, eps, d.Identity.Tokens); err == nil {
				d.Creator = fc
			}
		}
	}
	if !f.json {
		fmt.Fprintln(cmd.ErrOrStderr(), "Running checks...")
	}
	rep := d.Run(ctx, t)
	out := cmd.OutOrStdout()
	if f.json {
		if err := rep.WriteJSON(out); err != nil {
			return err
		}
	} else {
		rep.Print(out)
	}
	if ctx.Err() != nil {
		return exitError{130, ""}
	}
	if !rep.CanConnect {
		return exitError{1, ""}
	}
	return nil
}
