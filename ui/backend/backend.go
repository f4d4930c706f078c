// Package backend adapts the projects client and the tunnel pool to the
// small interfaces the UI declares in ui/common.
package backend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui/common"
)

// New returns the UI's backend over a projects client and a tunnel pool.
// With cache, the inventory cache in the user's cache directory is used.
func New(c *projects.Client, pool *tunnel.Pool, d *tunnel.Dialer, cache bool) common.Backend {
	b := common.Backend{
		Inventory: Inventory{c},
		Searcher:  c,
		Actions:   Lifecycle{c},
		Serial:    Serial{c},
		Tunnels:   NewTunnels(pool, d),
		// Read lazily, once per project, when the details pane needs it.
		ProjectMetadata: c,
	}
	if cache {
		b.Cache = Cache{}
	}
	return b
}

// Inventory loads projects with their details and instances.
type Inventory struct{ C *projects.Client }

// Load implements common.Inventory.
func (a Inventory) Load(ctx context.Context, ids []string) (projects.Inventory, error) {
	var list []projects.Project
	for _, id := range ids {
		p, err := a.C.Project(ctx, id)
		if err != nil {
			return projects.Inventory{}, err
		}
		list = append(list, *p)
	}
	inv, err := a.C.Inventory(ctx, list)
	if err != nil {
		return projects.Inventory{}, err
	}
	return *inv, nil
}

// Lifecycle starts, stops, resets, suspends and resumes instances.
type Lifecycle struct{ C *projects.Client }

// Lifecycle implements common.InstanceActions.
func (a Lifecycle) Lifecycle(ctx context.Context, inst projects.Instance, op common.Lifecycle) error {
	f := map[common.Lifecycle]func(context.Context, string, string, string) error{
		common.OpStart:   a.C.Start,
		common.OpStop:    a.C.Stop,
		common.OpReset:   a.C.Reset,
		common.OpSuspend: a.C.Suspend,
		common.OpResume:  a.C.Resume,
	}[op]
	if f == nil {
		return fmt.Errorf("unknown instance operation %q", op)
	}
	return f(ctx, inst.Project, inst.Zone, inst.Name)
}

// Serial reads serial port output.
type Serial struct{ C *projects.Client }

// SerialPort implements common.SerialReader.
func (a Serial) SerialPort(ctx context.Context, inst projects.Instance, port int, start int64) (string, int64, error) {
	return a.C.SerialPort(ctx, inst.Project, inst.Zone, inst.Name, port, start)
}

// Cache is the inventory cache in the user's cache directory.
type Cache struct{}

// LoadCache implements common.InventoryCache.
func (Cache) LoadCache() (projects.Inventory, error) {
	inv, err := projects.LoadCache()
	if err != nil || inv == nil {
		return projects.Inventory{}, err
	}
	return *inv, nil
}

// SaveCache implements common.InventoryCache.
func (Cache) SaveCache(inv projects.Inventory) error { return projects.SaveCache(&inv) }

// ProbeTimeout bounds the connection test before a new tunnel is shown.
var ProbeTimeout = 30 * time.Second

// Tunnels holds one reference on each tunnel the UI opened, until the user
// closes it in the tunnels panel or quits.
type Tunnels struct {
	pool   *tunnel.Pool
	dialer *tunnel.Dialer
	mu     sync.Mutex
	held   map[string]*tunnel.Tunnel
}

// NewTunnels wraps a pool; d is used to test new tunnels (nil: no test).
func NewTunnels(pool *tunnel.Pool, d *tunnel.Dialer) *Tunnels {
	return &Tunnels{pool: pool, dialer: d, held: map[string]*tunnel.Tunnel{}}
}

// Open implements common.TunnelPool.
func (p *Tunnels) Open(ctx context.Context, t common.TunnelTarget, localPort int) (common.TunnelInfo, error) {
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
		if p.dialer != nil {
			pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
			err := p.dialer.Probe(pctx, target)
			cancel()
			if err != nil {
				p.Close(key)
				return common.TunnelInfo{}, err
			}
		}
	}
	for _, info := range p.List() {
		if info.Key == key {
			return info, nil
		}
	}
	return common.TunnelInfo{}, fmt.Errorf("the tunnel to %s closed as it opened", target)
}

// List implements common.TunnelPool.
func (p *Tunnels) List() []common.TunnelInfo {
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

// Close implements common.TunnelPool.
func (p *Tunnels) Close(key string) error {
	p.mu.Lock()
	delete(p.held, key)
	p.mu.Unlock()
	return p.pool.CloseTunnel(key)
}

// CloseAll implements common.TunnelPool.
func (p *Tunnels) CloseAll() error {
	p.mu.Lock()
	p.held = map[string]*tunnel.Tunnel{}
	p.mu.Unlock()
	return p.pool.Close()
}
