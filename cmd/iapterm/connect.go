package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/sshclient"
	"iapterm/tunnel"
)

func init() { register(newConnectCmd) }

func newConnectCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "connect PROFILE",
		Short: "Open a saved connection profile (SSH, RDP, a tunnel, or a client application)",
		Long: `Open a profile saved in the settings file ([[profile]] tables; see
"iapterm config path"). A profile names its target (an instance, or a label
selector that picks a RUNNING instance), and a protocol (ssh, rdp, tunnel) or
a client application. For an application, iapterm opens a tunnel, runs the
program against it, and closes the tunnel when the program exits; the exit
status is the program's.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runConnect(cmd, args[0], dryRun) },
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the target, the effective settings and the command, without connecting")
	return cmd
}

func runConnect(cmd *cobra.Command, name string, dryRun bool) error {
	ctx := cmd.Context()
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	prof, err := cfg.Profile(name)
	if err != nil {
		return err
	}
	client, creds, err := apiClient(ctx)
	if err != nil {
		return err
	}
	inst, err := profileInstance(ctx, client, prof)
	if err != nil {
		return err
	}
	eff := cfg.Resolve(profiles.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Labels: inst.Labels}, prof.Settings)
	username := eff.String("ssh.user")
	if inst.OS == projects.Windows {
		username = eff.String("rdp.user")
	}
	if username == "" {
		username = sshclient.UsernameFromEmail(creds.Email)
	}
	errOut := cmd.ErrOrStderr()
	fmt.Fprintf(errOut, "Profile %s: instance %s (project %s, zone %s).\n", prof.Name, inst.Name, inst.Project, inst.Zone)

	if prof.Protocol == "ssh" || prof.Protocol == "rdp" {
		args := []string{prof.Protocol, inst.Name, "--project", inst.Project, "--zone", inst.Zone}
		if prof.Protocol == "ssh" && eff.String("ssh.user") != "" {
			args = append(args, "--user", eff.String("ssh.user"))
		}
		if prof.Protocol == "rdp" && eff.String("rdp.user") != "" {
			args = append(args, "--user", eff.String("rdp.user"))
		}
		if dryRun {
			fmt.Fprintf(cmd.OutOrStdout(), "iapterm %s\n", shellJoin(args))
			return nil
		}
		sub := newRootCmd()
		sub.SetArgs(args)
		sub.SetIn(cmd.InOrStdin())
		sub.SetOut(cmd.OutOrStdout())
		sub.SetErr(errOut)
		return sub.ExecuteContext(ctx)
	}

	var app profiles.App
	remote := prof.RemotePort
	if prof.App != "" {
		if app, err = cfg.App(prof.App); err != nil {
			return err
		}
		if !app.AppliesTo(string(inst.OS)) {
			return fmt.Errorf("app %s is for %s instances, and %s runs %s: choose another app in the profile", app.Name, app.Condition, inst.Name, inst.OS)
		}
		if remote == 0 {
			remote = app.RemotePort
		}
	}
	target := tunnel.Target{Project: inst.Project, Zone: inst.Zone, Instance: inst.Name, Port: remote}
	local := prof.LocalPort
	if local == 0 {
		local = app.LocalPort
	}
	if local == 0 {
		local = eff.LocalPort(remote)
	}
	if local == 0 && eff.Bool("tunnel.deterministic_ports") {
		local = tunnel.DefaultLocalPort(target)
	}
	ctxApp := profiles.AppContext{Host: "127.0.0.1", Port: local, Username: username, Instance: inst.Name, Project: inst.Project, Zone: inst.Zone}
	if dryRun {
		fmt.Fprintf(cmd.OutOrStdout(), "tunnel %s on local port %d\n", target, local)
		if app.Name != "" {
			exe, args := app.Command(ctxApp, prof.Args)
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", shellJoin(append([]string{exe}, args...)))
		}
		return nil
	}
	if app.NoTunnel {
		return runApp(ctx, cmd, app, ctxApp, prof.Args)
	}
	if !inst.Running() {
		return notRunning(inst)
	}
	if app.Name != "" {
		// Before a tunnel is opened for it.
		exe, _ := app.Command(ctxApp, prof.Args)
		if _, err := exec.LookPath(exe); err != nil {
			return fmt.Errorf("app %s runs %q, which is not installed or not on PATH: %w", app.Name, exe, err)
		}
	}
	_, eps, err := credentials(ctx)
	if err != nil {
		return err
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: creds.TokenSource, UserAgent: "iapterm/" + version}
	bind := eff.String("tunnel.bind")
	l, err := tunnel.Listen(ctx, d, target, net.JoinHostPort(bind, strconv.Itoa(local)), tunnel.ListenOptions{
		TestConnection: true,
		OnConnError:    func(err error) { fmt.Fprintln(errOut, "iapterm:", err) },
	})
	if errors.Is(err, tunnel.ErrPortNotAvailable) && prof.LocalPort == 0 && eff.LocalPort(remote) == 0 {
		// The deterministic port is taken; any free port will do.
		l, err = tunnel.Listen(ctx, d, target, net.JoinHostPort(bind, "0"), tunnel.ListenOptions{TestConnection: true})
	}
	if err != nil {
		return err
	}
	defer l.Close()
	ctxApp.Port = l.Port()
	fmt.Fprintf(errOut, "Tunnel to %s listening on %s.\n", target, l.Addr())
	if app.Name == "" {
		fmt.Fprintf(cmd.OutOrStdout(), "Listening on port [%d].\n", l.Port())
		<-ctx.Done()
		return nil
	}
	return runApp(ctx, cmd, app, ctxApp, prof.Args)
}

// runApp runs a client application in the foreground and returns its exit
// status as the command's.
func runApp(ctx context.Context, cmd *cobra.Command, app profiles.App, c profiles.AppContext, extra []string) error {
	exe, args := app.Command(c, extra)
	path, err := exec.LookPath(exe)
	if err != nil {
		return fmt.Errorf("app %s runs %q, which is not installed or not on PATH: %w", app.Name, exe, err)
	}
	p := exec.CommandContext(ctx, path, args...)
	p.Stdin, p.Stdout, p.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	p.Env = os.Environ()
	err = p.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{code: ee.ExitCode(), msg: ""}
	}
	return err
}

// profileInstance finds the profile's instance: by name, or the first
// RUNNING instance (by name) that its label selector matches.
func profileInstance(ctx context.Context, client *projects.Client, p profiles.Profile) (*projects.Instance, error) {
	if p.Instance != "" {
		return client.Resolve(ctx, p.Project, p.Zone, p.Instance)
	}
	all, _, err := client.ListInstances(ctx, p.Project)
	if err != nil {
		return nil, err
	}
	var matches []projects.Instance
	for _, i := range all {
		if i.Running() && p.MatchInstance(i.Project, i.Zone, i.Name, i.Labels) {
			matches = append(matches, i)
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("profile %s: no RUNNING instance in project %s matches the labels %s: start one, or change the profile's selector", p.Name, p.Project, p.Selector)
	}
	sort.Slice(matches, func(i, j int) bool { return matches[i].Name < matches[j].Name })
	return &matches[0], nil
}

// shellJoin quotes arguments for display so they can be pasted into a shell.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>(){}*?[]#~!") {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
