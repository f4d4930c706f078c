package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/tunnel"
)

func init() { register(newEmulatorCmd) }

type emulatorFlags struct {
	listen      string
	worldFile   string
	backends    []string
	tls         bool
	dropEvery   int64
	injectClose int
	window      int
	latency     time.Duration
	tokenTTL    time.Duration
	agentDelay  time.Duration
	deny403     bool
	verbose     bool
}

func newEmulatorCmd() *cobra.Command {
	var f emulatorFlags
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run a local Google Cloud (APIs and IAP relay) for tests and demos",
		Long: `Run a local emulation of the Google Cloud services iapterm uses: OAuth,
Resource Manager, Compute Engine, OS Login, IAP's IAM methods and the IAP
TCP forwarding relay, all on one loopback address. Projects, VMs, IAM
policies, firewall rules and what stands behind each VM port come from a
world file (--world; the built-in demo world otherwise).

It prints the lines a client needs, then serves until interrupted:

  IAPTERM_ENDPOINT=http://127.0.0.1:PORT
  IAPTERM_ACCESS_TOKEN=TOKEN          (the world's first user)
  IAPTERM_CA_FILE=PATH                (with --tls)

Example: put a local PostgreSQL behind port 5432 of a demo VM, then, in
another shell with the printed variables exported, tunnel to it:

  iapterm emulator --backend acme-dev/us-east1-b/dev-alice:5432=127.0.0.1:5432
  iapterm tunnel dev-alice 5432 --project acme-dev --zone us-east1-b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEmulator(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:0", "address to serve on (port 0 picks a free port)")
	fl.StringVar(&f.worldFile, "world", "", "world file, YAML or JSON (default: the built-in demo world)")
	fl.StringArrayVar(&f.backends, "backend", nil, "put a local service behind a VM port: PROJECT/ZONE/INSTANCE:PORT=HOST:PORT (repeatable)")
	fl.BoolVar(&f.tls, "tls", false, "serve HTTPS and WSS with a generated certificate; prints IAPTERM_CA_FILE")
	fl.Int64Var(&f.dropEvery, "drop-every", 0, "fault injection: cut each relay connection after this many payload bytes (clients must resume)")
	fl.IntVar(&f.injectClose, "inject-close", 0, "fault injection: close each tunnel's WebSocket once with this code after its first data")
	fl.IntVar(&f.window, "window", 0, "relay bytes sent beyond the client's ACK before the relay stops reading the VM (default 1.5 MiB)")
	fl.DurationVar(&f.latency, "latency", 0, "delay every relay message by this much")
	fl.DurationVar(&f.tokenTTL, "token-ttl", time.Hour, "lifetime of issued access tokens, including the printed one")
	fl.DurationVar(&f.agentDelay, "agent-delay", 0, "how long the simulated guest agent takes to apply key changes (default 1.5s; negative: at once)")
	fl.BoolVar(&f.deny403, "deny-with-403", false, "refuse unauthorised tunnels with HTTP 403 before the WebSocket upgrade instead of close 4033")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every request")
	return cmd
}

func parseBackendFlags(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, b := range flags {
		key, addr, ok := strings.Cut(b, "=")
		if !ok || key == "" || addr == "" {
			return nil, fmt.Errorf("--backend %q must be PROJECT/ZONE/INSTANCE:PORT=HOST:PORT", b)
		}
		if err := world.CheckBackend(addr); err != nil {
			return nil, fmt.Errorf("--backend %s: %w", b, err)
		}
		out[key] = addr
	}
	return out, nil
}

func (f emulatorFlags) check() error {
	switch {
	case f.dropEvery < 0:
		return fmt.Errorf("--drop-every must be a positive byte count (0 disables it)")
	case f.injectClose != 0 && f.injectClose != 1000 && (f.injectClose < 4000 || f.injectClose > 4999):
		return fmt.Errorf("--inject-close %d: use 1000 or a relay code 4000-4999 (e.g. 4000 to force a resume)", f.injectClose)
	case f.window != 0 && f.window < tunnel.MaxDataPayload:
		return fmt.Errorf("--window must be at least %d bytes (one DATA message)", tunnel.MaxDataPayload)
	case f.latency < 0:
		return fmt.Errorf("--latency must not be negative")
	case f.tokenTTL <= 0:
		return fmt.Errorf("--token-ttl must be positive")
	}
	return nil
}

func runEmulator(cmd *cobra.Command, f emulatorFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	backends, err := parseBackendFlags(f.backends)
	if err != nil {
		return err
	}
	w := world.Demo()
	if f.worldFile != "" {
		if w, err = world.Load(f.worldFile); err != nil {
			return fmt.Errorf("invalid world file:\n%w", err)
		}
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	s, err := emulator.Start(w, emulator.Options{
		Listen: f.listen, TLS: f.tls, TokenTTL: f.tokenTTL, Backends: backends,
		DropEvery: f.dropEvery, InjectClose: f.injectClose, Window: f.window, Latency: f.latency,
		AgentDelay: f.agentDelay, DenyBeforeUpgrade: f.deny403, Logger: log,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	// os.Stdout is unbuffered: each line reaches a reading wrapper at once.
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "IAPTERM_ENDPOINT=%s\n", s.Endpoint())
	if s.CAFile() != "" {
		fmt.Fprintf(out, "IAPTERM_CA_FILE=%s\n", s.CAFile())
	}
	fmt.Fprintf(out, "IAPTERM_ACCESS_TOKEN=%s\n", s.Token())
	log.Info("emulator ready: set the IAPTERM_* variables above in the client's environment; Ctrl-C stops it",
		"user", w.DefaultUser().Email, "token_ttl", f.tokenTTL.String())
	<-cmd.Context().Done()
	log.Info("emulator stopping")
	return nil
}
