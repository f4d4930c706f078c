package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/oauth2"

	"iapterm/auth"
	"iapterm/doctor"
	"iapterm/endpoint"
	"iapterm/profiles"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui"
	"iapterm/ui/backend"
	"iapterm/ui/sessions"
)

func init() { register(newUICmd) }

// tuiOptions configure runTUI.
type tuiOptions struct {
	// Endpoint is the --endpoint value ("" reads IAPTERM_ENDPOINT, else Google).
	Endpoint string
	// Projects are added to the explorer when the state file lists none.
	Projects []string
	// AddAllProjects adds every project the account can see (at most 100)
	// when the state file lists none; the demo uses it.
	AddAllProjects bool
	// StatePath is the UI state file: "" for the default, "-" for none.
	StatePath string
	// NoCache skips the on-disk inventory cache.
	NoCache bool
	// NoMouse leaves the mouse to the terminal (text selection).
	NoMouse bool
	// ASCII draws plain ASCII glyphs.
	ASCII bool
	// Label replaces the endpoint description in the status bar (e.g. "demo emulator").
	Label string
	// Demo starts the emulator with the demo world in-process and uses it
	// (no Google account needed); the UI state file is a separate one.
	Demo bool
}

func newUICmd() *cobra.Command {
	var o tuiOptions
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the project explorer (the default when iapterm runs without a command)",
		Long: `Open the terminal UI: the project explorer with instance details, actions
(connect, tunnel to any port, start/stop/reset/suspend/resume, serial port
output, copy gcloud/iapterm command lines) and the panel of open tunnels.

Press ? inside for every key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Endpoint = global.endpoint
			return runTUI(cmd.Context(), o)
		},
	}
	tuiFlags(cmd.Flags(), &o)
	cmd.Flags().BoolVar(&o.Demo, "demo", false, "start the built-in emulator with the demo world and explore it (no Google account needed)")
	return cmd
}

// tuiFlags are the explorer's flags, on iapterm ui and on iapterm itself
// (which opens the explorer without a command: iapterm --demo --state -).
func tuiFlags(fl *pflag.FlagSet, o *tuiOptions) {
	fl.StringSliceVar(&o.Projects, "project", nil, "project to show when none has been added yet (repeatable)")
	fl.StringVar(&o.StatePath, "state", "", "UI state file (default: iapterm's config directory/ui-state.json; - for none)")
	fl.BoolVar(&o.NoCache, "no-cache", false, "do not read or write the inventory cache")
	fl.BoolVar(&o.NoMouse, "no-mouse", false, "do not capture the mouse (keeps the terminal's own text selection)")
	fl.BoolVar(&o.ASCII, "ascii", false, "draw with plain ASCII characters")
}

// runTUI resolves the endpoint and credentials, builds the backends and runs
// the UI until the user quits. Tunnels opened in the UI close on return.
func runTUI(ctx context.Context, o tuiOptions) error {
	// Logs go to a file: anything written to the terminal would tear the UI.
	restoreLog := logToFile()
	defer restoreLog()

	var (
		eps           endpoint.Endpoints
		ts            oauth2.TokenSource
		email, source string
		childEnv      func() []string // what `iapterm ssh` run from the UI needs
	)
	if o.Endpoint != "" {
		childEnv = func() []string { return []string{endpoint.EnvEndpoint + "=" + o.Endpoint} }
	}
	if o.Demo {
		s, err := startDemo(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		if eps, err = demoEndpoints(s); err != nil {
			return err
		}
		email = s.Cloud().DefaultUser().Email
		ts, source = demoTokens{s, email}, "demo"
		childEnv = func() []string {
			env := []string{endpoint.EnvEndpoint + "=" + s.Endpoint()}
			if tok, err := s.TokenFor(email); err == nil {
				env = append(env, auth.EnvAccessToken+"="+tok)
			}
			if s.CAFile() != "" {
				env = append(env, endpoint.EnvCAFile+"="+s.CAFile())
			}
			return env
		}
		o.NoCache, o.AddAllProjects = true, true
		if o.Label == "" {
			o.Label = "demo emulator " + s.Endpoint()
		}
		if o.StatePath == "" {
			p, err := ui.DefaultStatePath()
			if err != nil {
				return err
			}
			o.StatePath = filepath.Join(filepath.Dir(p), "ui-state-demo.json")
		}
	} else {
		var err error
		if eps, err = endpoint.FromEnv(o.Endpoint); err != nil {
			return err
		}
		store, err := auth.DefaultStore()
		if err != nil {
			return err
		}
		creds, err := auth.Resolve(ctx, eps, store)
		if err != nil {
			return err
		}
		ts, email, source = creds.TokenSource, creds.Email, creds.Source
	}
	client, err := projects.NewClient(ctx, eps, ts)
	if err != nil {
		return err
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: ts, UserAgent: "iapterm/" + version, Logger: slog.Default()}
	pool := tunnel.NewPool(d, tunnel.WithDefaultLocalPorts())
	// The cache holds Google's inventory only: an emulator's world is not
	// worth remembering and must not mix with the real one.
	be := backend.New(client, pool, d, !o.NoCache && !eps.IsEmulator())
	// The settings file (settings view, profiles, session restore); the
	// programs the UI starts read the same one.
	configPath := global.config
	if configPath == "" {
		configPath, _ = profiles.DefaultPath()
	}
	if configPath != "" {
		be.Config = backend.ConfigFile{Path: configPath}
	}
	doc := backend.Doctor{Cloud: client, Identity: doctor.Identity{Email: email, Source: source, Tokens: ts},
		Relay: doctor.TCPRelayChecker{Relay: eps.Relay}}
	if ts != nil {
		doc.Prober = d
		if fc, err := doctor.NewComputeFirewallCreator(ctx, eps, ts); err == nil {
			doc.Creator = fc
		}
	}
	be.Doctor = doc
	// RDP clients started from the UI run detached; when the UI ends their
	// tunnels close, so they are stopped too.
	rdpBE := &backend.RDP{Cloud: client, Pool: pool, Email: email, Config: be.Config}
	if ts != nil {
		rdpBE.Prober = d
	}
	be.RDP = rdpBE
	defer func() {
		if n := rdpBE.Close(); n > 0 {
			fmt.Fprintf(os.Stderr, "iapterm: stopped %d RDP client%s started from the explorer (their tunnels closed with it)\n", n, map[bool]string{true: "s"}[n > 1])
		}
	}()
	if self, err := os.Executable(); err == nil {
		be.Self = func(args ...string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, self, args...)
			cmd.Env = os.Environ()
			if childEnv != nil {
				cmd.Env = append(cmd.Env, childEnv()...)
			}
			if configPath != "" {
				cmd.Env = append(cmd.Env, profiles.EnvConfig+"="+configPath)
			}
			return cmd
		}
	}

	// SSH tabs share one connection per VM and settings; quitting closes
	// them all. Each tab reads the ssh.* settings as they are when it opens.
	var opener sessions.Opener
	if ssh, err := backend.NewSSH(client, d, email, be.Config); err == nil {
		defer ssh.Close()
		opener = ssh
	} else {
		slog.Warn("SSH tabs unavailable; enter keeps the full-screen session", "err", err)
	}

	label := o.Label
	if label == "" {
		label = eps.Describe()
	}
	initial := o.Projects
	if o.AddAllProjects && len(initial) == 0 {
		list, err := client.SearchProjects(ctx, "", 100)
		if err != nil {
			return fmt.Errorf("listing the projects to show: %w", err)
		}
		for _, p := range list {
			initial = append(initial, p.ID)
		}
	}
	if !o.ASCII && !utf8Locale() {
		o.ASCII = true
	}
	return ui.Run(ctx, ui.Options{
		Backend:       be,
		StatePath:     o.StatePath,
		Account:       email,
		AccountSource: source,
		Endpoint:      label,
		Projects:      initial,
		ASCII:         o.ASCII,
		Mouse:         !o.NoMouse,
		Sessions:      opener,
	})
}

// utf8Locale reports whether the locale promises UTF-8, so the tree can use
// its symbols; without one it draws ASCII. Windows terminals are UTF-8.
func utf8Locale() bool {
	if runtime.GOOS == "windows" {
		return true
	}
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := os.Getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}

// logToFile sends slog to iapterm's log file for the life of the UI.
func logToFile() (restore func()) {
	prev := slog.Default()
	var w io.Writer = io.Discard
	var f *os.File
	if dir, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(dir, "iapterm", "iapterm.log")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
			if lf, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
				f, w = lf, lf
			}
		}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})))
	return func() {
		slog.SetDefault(prev)
		if f != nil {
			f.Close()
		}
	}
}
