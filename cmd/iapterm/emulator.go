package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iapterm/emulator"
	"iapterm/emulator/agent"
	"iapterm/emulator/cloud"
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
	keysFiles   []string
	transition  time.Duration
	opDelay     time.Duration
	forbidKeys  bool
}

func newEmulatorCmd() *cobra.Command {
	cmd, _ := newEmulatorCmdFlags()
	return cmd
}

// newEmulatorCmdFlags returns the command and the flags it fills in.
func newEmulatorCmdFlags() (*cobra.Command, *emulatorFlags) {
	f := &emulatorFlags{}
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
  iapterm tunnel dev-alice 5432 --project acme-dev --zone us-east1-b

For a real sshd behind a VM's port 22, --authorized-keys makes the
simulated guest agent write the keys it applies to that VM (ssh-keys
metadata with google-ssh expiry and block-project-ssh-keys, or OS Login
keys when enable-oslogin is on) to sshd's authorized_keys file:

  iapterm emulator --backend acme-dev/us-east1-b/dev-alice:22=127.0.0.1:2222 \
    --authorized-keys "$USER@acme-dev/us-east1-b/dev-alice=$HOME/emu/authorized_keys"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEmulator(cmd, *f) },
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
	fl.StringArrayVar(&f.keysFiles, "authorized-keys", nil, "keep an authorized_keys file for an external sshd behind a VM: [USER@]PROJECT/ZONE/INSTANCE=PATH; only USER's keys when given, else every user's; %u in the file name writes one file per user (repeatable)")
	fl.DurationVar(&f.transition, "transition", 0, "how long VM start, stop, reset, suspend and resume take (default 2s; negative: at once)")
	fl.DurationVar(&f.opDelay, "operation-delay", 0, "how long metadata write operations stay RUNNING before they are DONE (default: done at once)")
	fl.BoolVar(&f.forbidKeys, "forbid-user-ssh-keys", false, "simulate an organisation policy that forbids user-managed OS Login keys: importSshPublicKey answers without adding the key")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every request with its status (never tokens or query strings)")
	return cmd, f
}

func parseBackendFlags(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, b := range flags {
		key, addr, ok := strings.Cut(b, "=")
		if !ok || key == "" || addr == "" {
			return nil, fmt.Errorf("--backend %q must be PROJECT/ZONE/INSTANCE:PORT=HOST:PORT", b)
		}
		if _, _, _, _, err := cloud.ParseBackendKey(key); err != nil {
			return nil, fmt.Errorf("--backend %s: %q must be PROJECT/ZONE/INSTANCE:PORT with PORT 1-65535 (e.g. acme-dev/us-east1-b/dev-alice:5432)", b, key)
		}
		if prev, ok := out[key]; ok {
			return nil, fmt.Errorf("--backend %s: %s is already given (=%s); give each VM port once", b, key, prev)
		}
		if err := world.CheckBackend(addr); err != nil {
			return nil, fmt.Errorf("--backend %s: %w", b, err)
		}
		out[key] = addr
	}
	return out, nil
}

// parseAuthorizedKeysFlags reads --authorized-keys [USER@]P/Z/I=PATH;
// relative paths are made absolute here, since the agent may run long
// after the working directory changes meaning.
func parseAuthorizedKeysFlags(flags []string) ([]agent.AuthorizedKeysFile, error) {
	var out []agent.AuthorizedKeysFile
	for _, v := range flags {
		vm, path, ok := strings.Cut(v, "=")
		if !ok || vm == "" || path == "" {
			return nil, fmt.Errorf("--authorized-keys %q must be [USER@]PROJECT/ZONE/INSTANCE=PATH", v)
		}
		user := ""
		if u, rest, ok := strings.Cut(vm, "@"); ok {
			user, vm = u, rest
			if user == "" {
				return nil, fmt.Errorf("--authorized-keys %q: the user before @ is empty (leave out USER@ for every user's keys)", v)
			}
		}
		if parts := strings.Split(vm, "/"); len(parts) != 3 || slices.Contains(parts, "") {
			return nil, fmt.Errorf("--authorized-keys %q: %q must be PROJECT/ZONE/INSTANCE", v, vm)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("--authorized-keys %q: %w", v, err)
		}
		if err := agent.CheckPattern(abs, user); err != nil {
			return nil, fmt.Errorf("--authorized-keys %q: %w", v, err)
		}
		out = append(out, agent.AuthorizedKeysFile{VM: vm, Path: abs, User: user})
	}
	return out, nil
}

// checkBackendVMs says which --backend names a VM the world does not have,
// and which VMs it does have there, so a typo is easy to spot.
func checkBackendVMs(w *world.World, backends map[string]string) error {
	keys := slices.Sorted(maps.Keys(backends))
	for _, key := range keys {
		p, z, n, _, err := cloud.ParseBackendKey(key)
		if err != nil {
			return fmt.Errorf("--backend %s=%s: %w", key, backends[key], err)
		}
		pi := slices.IndexFunc(w.Projects, func(wp world.Project) bool { return wp.ID == p })
		if pi < 0 {
			ids := make([]string, len(w.Projects))
			for i, wp := range w.Projects {
				ids[i] = wp.ID
			}
			return fmt.Errorf("--backend %s=%s: the world has no project %s (it has %s)", key, backends[key], p, strings.Join(ids, ", "))
		}
		var there []string
		found := false
		for _, in := range w.Projects[pi].Instances {
			found = found || in.Zone == z && in.Name == n
			there = append(there, in.Zone+"/"+in.Name)
		}
		if !found {
			return fmt.Errorf("--backend %s=%s: project %s has no VM %s in zone %s (its VMs: %s)", key, backends[key], p, n, z, strings.Join(there, ", "))
		}
	}
	return nil
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
	case f.opDelay < 0:
		return fmt.Errorf("--operation-delay must not be negative (0: operations are done at once)")
	}
	return nil
}

// options turns the flags into the emulator's options (without a logger).
func (f emulatorFlags) options() (emulator.Options, error) {
	if err := f.check(); err != nil {
		return emulator.Options{}, err
	}
	backends, err := parseBackendFlags(f.backends)
	if err != nil {
		return emulator.Options{}, err
	}
	keysFiles, err := parseAuthorizedKeysFlags(f.keysFiles)
	if err != nil {
		return emulator.Options{}, err
	}
	return emulator.Options{
		Listen: f.listen, TLS: f.tls, TokenTTL: f.tokenTTL, Backends: backends,
		DropEvery: f.dropEvery, InjectClose: f.injectClose, Window: f.window, Latency: f.latency,
		AgentDelay: f.agentDelay, DenyBeforeUpgrade: f.deny403,
		AuthorizedKeys: keysFiles, Transition: f.transition, OperationDelay: f.opDelay,
		ForbidUserSSHKeys: f.forbidKeys,
	}, nil
}

func runEmulator(cmd *cobra.Command, f emulatorFlags) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	w := world.Demo()
	if f.worldFile != "" {
		if w, err = world.Load(f.worldFile); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == f.worldFile {
				// Not read at all: nothing is invalid in it.
				return fmt.Errorf("--world %s: %w", f.worldFile, pe.Err)
			}
			return fmt.Errorf("invalid world file:\n%w", err)
		}
	}
	if err := checkBackendVMs(w, opts.Backends); err != nil {
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	opts.Logger = log
	s, err := emulator.Start(w, opts)
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
