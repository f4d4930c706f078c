package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"iapterm/auth"
	"iapterm/endpoint"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui"
	"iapterm/ui/common"
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
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Projects, "project", nil, "project to show when none has been added yet (repeatable)")
	fl.StringVar(&o.StatePath, "state", "", "UI state file (default: iapterm's config directory/ui-state.json; - for none)")
	fl.BoolVar(&o.NoCache, "no-cache", false, "do not read or write the inventory cache")
	fl.BoolVar(&o.NoMouse, "no-mouse", false, "do not capture the mouse (keeps the terminal's own text selection)")
	fl.BoolVar(&o.ASCII, "ascii", false, "draw with plain ASCII characters")
	return cmd
}

// runTUI resolves the endpoint and credentials, builds the backends and runs
// the UI until the user quits. Tunnels opened in the UI close on return.
func runTUI(ctx context.Context, o tuiOptions) error {
	eps, err := endpoint.FromEnv(o.Endpoint)
	if err != nil {
		return err
	}
	// Logs go to a file: anything written to the terminal would tear the UI.
	restoreLog := logToFile()
	defer restoreLog()

	store, err := auth.DefaultStore()
	if err != nil {
		return err
	}
	creds, err := auth.Resolve(ctx, eps, store)
	if err != nil {
		return err
	}
	client, err := projects.NewClient(ctx, eps, creds.TokenSource)
	if err != nil {
		return err
	}
	d := &tunnel.Dialer{Endpoints: eps, Tokens: creds.TokenSource, UserAgent: "iapterm/" + version, Logger: slog.Default()}
	pool := tunnel.NewPool(d, tunnel.WithDefaultLocalPorts())

	be := common.Backend{
		Inventory: inventoryAdapter{client},
		Searcher:  client,
		Actions:   lifecycleAdapter{client},
		Serial:    serialAdapter{client},
		Tunnels:   &poolAdapter{pool: pool, dialer: d, held: map[string]*tunnel.Tunnel{}},
	}
	// The cache holds Google's inventory only: an emulator's world is not
	// worth remembering and must not mix with the real one.
	if !o.NoCache && !eps.IsEmulator() {
		be.Cache = cacheAdapter{}
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
	return ui.Run(ctx, ui.Options{
		Backend:       be,
		StatePath:     o.StatePath,
		Account:       creds.Email,
		AccountSource: creds.Source,
		Endpoint:      label,
		Projects:      initial,
		ASCII:         o.ASCII,
		Mouse:         !o.NoMouse,
	})
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

// inventoryAdapter loads projects with their details and instances.
type inventoryAdapter struct{ c *projects.Client }

func (a inventoryAdapter) Load(ctx context.Context, ids []string) (projects.Inventory, error) {
	var list []projects.Project
	for _, id := range ids {
		p, err := a.c.Project(ctx, id)
		if err != nil {
			return projects.Inventory{}, err
		}
		list = append(list, *p)
	}
	inv, err := a.c.Inventory(ctx, list)
	if err != nil {
		return projects.Inventory{}, err
	}
	return *inv, nil
}

type lifecycleAdapter struct{ c *projects.Client }

func (a lifecycleAdapter) Lifecycle(ctx context.Context, inst projects.Instance, op common.Lifecycle) error {
	f := map[common.Lifecycle]func(context.Context, string, string, string) error{
		common.OpStart:   a.c.Start,
		common.OpStop:    a.c.Stop,
		common.OpReset:   a.c.Reset,
		common.OpSuspend: a.c.Suspend,
		common.OpResume:  a.c.Resume,
	}[op]
	if f == nil {
		return fmt.Errorf("unknown instance operation %q", op)
	}
	return f(ctx, inst.Project, inst.Zone, inst.Name)
}

type serialAdapter struct{ c *projects.Client }

func (a serialAdapter) SerialPort(ctx context.Context, inst projects.Instance, port int, start int64) (string, int64, error) {
	return a.c.SerialPort(ctx, inst.Project, inst.Zone, inst.Name, port, start)
}

type cacheAdapter struct{}

func (cacheAdapter) LoadCache() (projects.Inventory, error) {
	inv, err := projects.LoadCache()
	if err != nil || inv == nil {
		return projects.Inventory{}, err
	}
	return *inv, nil
}

func (cacheAdapter) SaveCache(inv projects.Inventory) error { return projects.SaveCache(&inv) }

// poolAdapter holds one reference on each tunnel the UI opened, until the
// user closes it in the tunnels panel or quits.
type poolAdapter struct {
	pool   *tunnel.Pool
	dialer *tunnel.Dialer
	mu     sync.Mutex
	held   map[string]*tunnel.Tunnel
}

// probeTimeout bounds the connection test before a new tunnel is shown.
const probeTimeout = 30 * time.Second

func (p *poolAdapter) Open(ctx context.Context, t common.TunnelTarget, localPort int) (common.TunnelInfo, error) {
	target := tunnel.Target{Project: t.Project, Zone: t.Zone, Instance: t.Instance, Port: t.Port}
	tn, err := p.pool.Acquire(ctx, target, localPort)
	if err != nil {
		return common.TunnelInfo{}, err
	}
	key := target.Key()
	p.mu.Lock()
	_, had := p.held[key]
	if had {
		p.mu.Unlock()
		tn.Release() // already held once: one reference is enough
	} else {
		p.held[key] = tn
		p.mu.Unlock()
		// Test the path before showing an address that would not work, so
		// a missing role or firewall rule shows up now with its fix.
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := p.dialer.Probe(pctx, target)
		cancel()
		if err != nil {
			p.Close(key)
			return common.TunnelInfo{}, err
		}
	}
	for _, info := range p.List() {
		if info.Key == key {
			return info, nil
		}
	}
	return common.TunnelInfo{}, fmt.Errorf("the tunnel to %s closed as it opened", target)
}

func (p *poolAdapter) List() []common.TunnelInfo {
	list := p.pool.List()
	out := make([]common.TunnelInfo, 0, len(list))
	for _, t := range list {
		out = append(out, common.TunnelInfo{
			Key:         t.Key,
			Target:      common.TunnelTarget{Project: t.Target.Project, Zone: t.Target.Zone, Instance: t.Target.Instance, Port: t.Target.Port},
			LocalAddr:   t.LocalAddr,
			BytesIn:     t.BytesIn,
			BytesOut:    t.BytesOut,
			ActiveConns: int(t.ActiveConns),
			TotalConns:  int(t.TotalConns),
			Opened:      t.Opened,
		})
	}
	return out
}

func (p *poolAdapter) Close(key string) error {
	p.mu.Lock()
	delete(p.held, key)
	p.mu.Unlock()
	return p.pool.CloseTunnel(key)
}

func (p *poolAdapter) CloseAll() error {
	p.mu.Lock()
	p.held = map[string]*tunnel.Tunnel{}
	p.mu.Unlock()
	return p.pool.Close()
}
