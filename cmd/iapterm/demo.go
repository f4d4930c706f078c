package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/term"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/tunnel"
)

// runRoot runs when iapterm is called without a subcommand: the explorer
// (against the demo emulator with --demo). Without a terminal, --demo runs
// the text demo and a bare iapterm prints its help.
func runRoot(cmd *cobra.Command, args []string) error {
	interactive := term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
	switch {
	case interactive:
		return runTUI(cmd.Context(), rootTUIOptions())
	case global.demo:
		if n := changedTUIFlags(cmd); len(n) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "iapterm: %s: only for the explorer, which needs a terminal; without one --demo opens a tunnel and prints how to use it\n", strings.Join(n, ", "))
		}
		return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	if n := changedTUIFlags(cmd); len(n) > 0 {
		return fmt.Errorf("%s: only for the explorer, which needs a terminal (input and output)", strings.Join(n, ", "))
	}
	return cmd.Help()
}

// rootTUIOptions are the explorer's options for iapterm without a command:
// the same flags as iapterm ui.
func rootTUIOptions() tuiOptions {
	o := global.ui
	o.Demo = global.demo
	if !o.Demo {
		o.Endpoint = global.endpoint
	}
	return o
}

// changedTUIFlags names the explorer's flags given on the command line.
func changedTUIFlags(cmd *cobra.Command) []string {
	var names []string
	for _, n := range []string{"project", "state", "no-cache", "no-mouse", "ascii"} {
		if cmd.Flags().Changed(n) {
			names = append(names, "--"+n)
		}
	}
	return names
}

// demoTokenTTL is the lifetime of the demo's tokens: a demo left open over
// lunch keeps working with the token it printed.
const demoTokenTTL = 12 * time.Hour

// startDemo starts the emulator in-process with the demo world on a free
// loopback port. It stops when ctx ends (or on Close). Its logs go to
// slog's default logger.
func startDemo(ctx context.Context) (*emulator.Server, error) {
	s, err := emulator.Start(world.Demo(), emulator.Options{Logger: slog.Default(), TokenTTL: demoTokenTTL})
	if err != nil {
		return nil, fmt.Errorf("starting the demo emulator: %w", err)
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// demoEndpoints are the client endpoints of a running demo emulator.
func demoEndpoints(s *emulator.Server) (endpoint.Endpoints, error) {
	eps, err := endpoint.Parse(s.Endpoint())
	if err != nil {
		return endpoint.Endpoints{}, err
	}
	eps.CAFile = s.CAFile()
	return eps, nil
}

// demoTokens hands the relay a fresh token of the demo user on every
// connect, so tunnels outlive any one token.
type demoTokens struct {
	s     *emulator.Server
	email string
}

func (t demoTokens) Token() (*oauth2.Token, error) {
	v, err := t.s.TokenFor(t.email)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: v, TokenType: "Bearer"}, nil
}

// demoUsername is the login name metadata SSH keys get for an email
// (what gcloud derives: the part before @, lowercased, other characters
// as _).
func demoUsername(email string) string {
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, local)
}

// demoTarget is the Linux VM the demo opens a tunnel to.
var demoTarget = tunnel.Target{Project: "acme-dev", Zone: "us-east1-b", Instance: "dev-alice", Port: 22}

// runDemo starts the demo emulator, opens a tunnel to a demo Linux VM's SSH
// port and explains how to use both, until ctx ends (Ctrl-C).
func runDemo(ctx context.Context, stdout, stderr io.Writer) error {
	// Only problems reach the terminal; the explanation below is the output.
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s, err := startDemo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	eps, err := demoEndpoints(s)
	if err != nil {
		return err
	}
	user := s.Cloud().DefaultUser().Email
	d := &tunnel.Dialer{Endpoints: eps, Tokens: demoTokens{s, user}, UserAgent: "iapterm/" + version}
	l, err := tunnel.Listen(ctx, d, demoTarget, "127.0.0.1:0", tunnel.ListenOptions{
		OnConnError: func(err error) { fmt.Fprintln(stderr, "iapterm:", err) },
	})
	if err != nil {
		return fmt.Errorf("opening the demo tunnel: %w", err)
	}
	defer l.Close()
	if err := d.Probe(ctx, demoTarget); err != nil {
		return fmt.Errorf("the demo tunnel does not work: %w", err)
	}
	t := demoTarget
	fmt.Fprintf(stdout, `iapterm demo: a local Google Cloud emulator is running (%d projects, %d VMs), signed in as %s.

Tunnel open: 127.0.0.1:%d -> %s port %d (project %s, zone %s).

Try it from another terminal; first set the environment:

  export IAPTERM_ENDPOINT=%s
  export IAPTERM_ACCESS_TOKEN=%s

  iapterm instances list                          # the demo VMs
  iapterm ssh %s --project %s --zone %s    # publishes a key and opens a shell
  iapterm tunnel %s 22 --project %s --zone %s
  iapterm ssh %s --project %s --zone %s --export-key
  ssh -i ~/.ssh/iapterm_ed25519 -p %d %s@127.0.0.1   # OpenSSH through this demo's tunnel

The access token is valid for %s. Press Ctrl-C to stop the demo.
`, len(s.Cloud().Projects()), len(s.Cloud().AllInstances()), user,
		l.Port(), t.Instance, t.Port, t.Project, t.Zone,
		s.Endpoint(), s.Token(),
		t.Instance, t.Project, t.Zone,
		t.Instance, t.Project, t.Zone,
		t.Instance, t.Project, t.Zone,
		l.Port(), demoUsername(user), demoTokenTTL)
	<-ctx.Done()
	return nil
}
