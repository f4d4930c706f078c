package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"iapterm/projects"
	"iapterm/ui/common"
)

// fixedNow is the clock of every test, so views are reproducible.
var fixedNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

// loadFixture reads testdata/inventory.json.
func loadFixture(t testing.TB) projects.Inventory {
	t.Helper()
	data, err := os.ReadFile("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	var inv projects.Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		t.Fatal(err)
	}
	return inv
}

// fakeBackend implements every backend interface in memory.
type fakeBackend struct {
	mu       sync.Mutex
	inv      projects.Inventory
	all      []projects.Project // what search sees
	loadErr  map[string]error
	ops      []string
	tunnels  []common.TunnelInfo
	serial   map[int]string
	loads    int
	searches []string
	nextPort int
	// project metadata by project ID; an error in projMetaErr wins
	projMeta    map[string]map[string]string
	projMetaErr map[string]error
	projReads   []string
}

func newFake(inv projects.Inventory) *fakeBackend {
	f := &fakeBackend{inv: inv, loadErr: map[string]error{}, serial: map[int]string{1: "Booting...\nReady.\n"}, nextPort: 40000}
	f.projMeta = map[string]map[string]string{
		"acme-prod": {"enable-oslogin": "FALSE", "enable-oslogin-2fa": "TRUE", "serial-port-enable": "true", "ssh-keys": "alice:ssh-ed25519 AAAA alice"},
	}
	f.projMetaErr = map[string]error{}
	f.all = append(f.all, inv.Projects...)
	for i := 0; i < 5; i++ {
		f.all = append(f.all, projects.Project{ID: fmt.Sprintf("extra-%02d", i), Name: fmt.Sprintf("Extra %d", i), State: "ACTIVE"})
	}
	return f
}

func (f *fakeBackend) backend() common.Backend {
	return common.Backend{Inventory: f, Searcher: f, Actions: f, Serial: f, Tunnels: f, ProjectMetadata: f}
}

func (f *fakeBackend) ProjectMetadata(ctx context.Context, project string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.projReads = append(f.projReads, project)
	if err := f.projMetaErr[project]; err != nil {
		return nil, err
	}
	return maps.Clone(f.projMeta[project]), nil
}

func (f *fakeBackend) Load(ctx context.Context, ids []string) (projects.Inventory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	out := projects.Inventory{Instances: map[string][]projects.Instance{}, Loaded: fixedNow}
	for _, id := range ids {
		if err := f.loadErr[id]; err != nil {
			return projects.Inventory{}, err
		}
		found := false
		for _, p := range f.all {
			if p.ID == id {
				out.Projects = append(out.Projects, p)
				out.Instances[id] = f.inv.Instances[id]
				found = true
			}
		}
		if !found {
			return projects.Inventory{}, fmt.Errorf("project %q not found or you lack permission", id)
		}
	}
	return out, nil
}

func (f *fakeBackend) SearchProjects(ctx context.Context, q string, max int) ([]projects.Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, q)
	var out []projects.Project
	for _, p := range f.all {
		if strings.Contains(p.ID, q) || strings.Contains(strings.ToLower(p.Name), strings.ToLower(q)) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func (f *fakeBackend) Lifecycle(ctx context.Context, inst projects.Instance, op common.Lifecycle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, string(op)+" "+inst.Key())
	return nil
}

func (f *fakeBackend) SerialPort(ctx context.Context, inst projects.Instance, port int, start int64) (string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.serial[port]
	if start >= int64(len(s)) {
		return "", int64(len(s)), nil
	}
	return s[start:], int64(len(s)), nil
}

func (f *fakeBackend) Open(ctx context.Context, t common.TunnelTarget, local int) (common.TunnelInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Port == 9 {
		return common.TunnelInfo{}, errors.New("error 4003: failed to connect to backend")
	}
	k := fmt.Sprintf("%s/%s/%s:%d", t.Project, t.Zone, t.Instance, t.Port)
	for _, x := range f.tunnels {
		if x.Key == k {
			return x, nil
		}
	}
	if local == 0 {
		local = f.nextPort
		f.nextPort++
	}
	info := common.TunnelInfo{Key: k, Target: t, LocalAddr: fmt.Sprintf("127.0.0.1:%d", local), Opened: fixedNow.Add(-90 * time.Second), BytesIn: 123456, BytesOut: 7890, ActiveConns: 1, TotalConns: 3}
	f.tunnels = append(f.tunnels, info)
	return info, nil
}

func (f *fakeBackend) List() []common.TunnelInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]common.TunnelInfo(nil), f.tunnels...)
}

func (f *fakeBackend) Close(k string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.tunnels {
		if x.Key == k {
			f.tunnels = append(f.tunnels[:i], f.tunnels[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no tunnel %s", k)
}

func (f *fakeBackend) CloseAll() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tunnels = nil
	return nil
}
