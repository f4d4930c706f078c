package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"iapterm/endpoint"
	"iapterm/tunnel"
)

func init() { register(newTunnelCmd) }

type tunnelFlags struct {
	project, zone   string
	localHostPort   string
	listenOnStdin   bool
	noConnCheck     bool
	requestReason   string
	connectTimeout  time.Duration
	reconnectWindow time.Duration
}

func newTunnelCmd() *cobra.Command {
	var f tunnelFlags
	cmd := &cobra.Command{
		Use:   "tunnel INSTANCE PORT",
		Short: "Forward a local port to a VM port through IAP (like gcloud compute start-iap-tunnel)",
		Long: `Forward a local TCP port to a port of a VM through Identity-Aware Proxy.
INSTANCE is a name (with --project or $IAPTERM_PROJECT, and --zone) or
PROJECT/ZONE/NAME.

Every connection to the local port gets its own relay session; sessions
survive network drops without losing or duplicating data. The local port is
bound on loopback unless --local-host-port names another address (":8080"
means localhost:8080).

With --listen-on-stdin there is no listener: one session is relayed over
stdin and stdout, for use as an OpenSSH ProxyCommand:

  ssh -o ProxyCommand='iapterm tunnel %h 22 --listen-on-stdin --project P --zone Z' user@VM`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return runTunnel(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project of the instance (default $IAPTERM_PROJECT)")
	fl.StringVar(&f.zone, "zone", "", "zone of the instance (required unless INSTANCE is PROJECT/ZONE/NAME)")
	fl.StringVar(&f.localHostPort, "local-host-port", "localhost:0", "local HOST:PORT to listen on; port 0 picks a free port")
	fl.BoolVar(&f.listenOnStdin, "listen-on-stdin", false, "relay one connection over stdin/stdout instead of listening (for ssh ProxyCommand)")
	fl.BoolVar(&f.noConnCheck, "disable-connection-check", false, "do not test the connection before listening")
	fl.StringVar(&f.requestReason, "request-reason", "", "reason sent with the request (X-Goog-Request-Reason), for access justification")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", tunnel.DefaultConnectTimeout, "how long to wait for the relay to accept a connection")
	fl.DurationVar(&f.reconnectWindow, "max-reconnect-time", tunnel.DefaultMaxReconnectTime, "how long a dropped connection keeps trying to resume")
	// With stdin there is no listener: a local address would be ignored.
	cmd.MarkFlagsMutuallyExclusive("listen-on-stdin", "local-host-port")
	return cmd
}

// tokenSource supplies the bearer tokens for the relay from the shared
// credential resolution (IAPTERM_ACCESS_TOKEN, iapterm's sign-in, then
// Application Default Credentials).
func tokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	creds, _, err := credentials(ctx)
	if err != nil {
		return nil, err
	}
	return creds.TokenSource, nil
}

func runTunnel(cmd *cobra.Command, f tunnelFlags, args []string) error {
	ctx := cmd.Context()
	port, err := strconv.Atoi(args[1])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("PORT %q is not a TCP port (1-65535)", args[1])
	}
	project, zone, name, err := splitInstance(args[0], f.project, f.zone)
	if err != nil {
		return err
	}
	if zone == "" {
		return fmt.Errorf("which zone is %s in? give --zone ZONE, or write PROJECT/ZONE/%s: iapterm tunnel INSTANCE PORT --project PROJECT --zone ZONE", name, name)
	}
	// A non-loopback address is bound only because the user wrote it out.
	lopts := tunnel.ListenOptions{AllowNonLoopback: cmd.Flags().Changed("local-host-port")}
	if !f.listenOnStdin {
		if err := tunnel.CheckListenAddr(f.localHostPort, lopts); err != nil {
			return fmt.Errorf("--local-host-port %q: %w", f.localHostPort, err)
		}
	}
	eps, err := endpoint.FromEnv(global.endpoint)
	if err != nil {
		return err
	}
	ts, err := tokenSource(ctx)
	if err != nil {
		return err
	}
	d := &tunnel.Dialer{
		Endpoints:        eps,
		Tokens:           ts,
		UserAgent:        "iapterm/" + version,
		RequestReason:    f.requestReason,
		ConnectTimeout:   f.connectTimeout,
		MaxReconnectTime: f.reconnectWindow,
		Logger:           slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	target := tunnel.Target{Project: project, Zone: zone, Instance: name, Port: port}
	if f.listenOnStdin {
		return tunnelStdio(ctx, d, target, cmd.InOrStdin(), cmd.OutOrStdout())
	}

	stderr := cmd.ErrOrStderr()
	lopts.OnConnError = func(err error) { fmt.Fprintln(stderr, "iapterm:", err) }
	l, err := tunnel.Listen(ctx, d, target, f.localHostPort, lopts)
	if err != nil {
		if errors.Is(err, tunnel.ErrPortNotAvailable) {
			return err
		}
		return fmt.Errorf("--local-host-port %q: %w", f.localHostPort, err)
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(stderr, "Warning: listening on %s: other machines that can reach this one can use the tunnel.\n", l.Addr())
	}
	if !f.noConnCheck {
		fmt.Fprintln(stderr, "Testing if tunnel connection works.")
		if err := d.Probe(ctx, target); err != nil {
			l.Close()
			if ctx.Err() != nil {
				return exitError{code: 130}
			}
			return fmt.Errorf("while checking if a connection can be made: %w", err)
		}
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	fmt.Fprintf(out, "Listening on port [%d].\n", l.Port())
	out.Flush()
	<-ctx.Done()
	n, _ := l.Close()
	fmt.Fprintf(stderr, "Closed [%d] local connection(s).\n", n)
	return nil
}

// tunnelStdio relays one session over stdin and stdout.
func tunnelStdio(ctx context.Context, d *tunnel.Dialer, t tunnel.Target, in io.Reader, out io.Writer) error {
	s, err := d.Dial(ctx, t)
	if err != nil {
		return err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	up := make(chan error, 1)
	go func() {
		// stdin's EOF flushes and closes the session, which ends WriteTo.
		n, err := s.ReadFrom(in)
		s.Close()
		if err != nil {
			up <- fmt.Errorf("relaying stdin: %w", err)
			return
		}
		// Close gives up on data the relay did not acknowledge in time:
		// that is a failure, not a normal end. When the VM ended the
		// session first, its last unread bytes are dropped, as with TCP.
		if sent := s.BytesSent(); sent < uint64(n) && s.Err() != io.EOF {
			up <- fmt.Errorf("%d bytes read from stdin did not reach %s: the relay did not acknowledge them before the session closed", uint64(n)-sent, t)
			return
		}
		up <- nil
	}()
	_, err = s.WriteTo(out)
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, net.ErrClosed) {
		// Closed by the stdin side: its outcome is the command's.
		return <-up
	}
	return err
}
