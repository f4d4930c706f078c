package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"iapterm/projects"
	"iapterm/ui/common"
)

// bigInventory is 100 projects × 100 instances over 4 zones each.
func bigInventory() projects.Inventory {
	inv := projects.Inventory{Instances: map[string][]projects.Instance{}, Loaded: fixedNow}
	zones := []string{"us-central1-a", "us-central1-b", "europe-west1-b", "asia-east1-a"}
	statuses := []string{"RUNNING", "RUNNING", "RUNNING", "TERMINATED", "SUSPENDED"}
	envs := []string{"prod", "staging", "dev"}
	for p := 0; p < 100; p++ {
		id := fmt.Sprintf("project-%03d", p)
		inv.Projects = append(inv.Projects, projects.Project{ID: id, Name: "Project " + id, State: "ACTIVE"})
		var list []projects.Instance
		for i := 0; i < 100; i++ {
			os := projects.Linux
			if i%7 == 0 {
				os = projects.Windows
			}
			list = append(list, projects.Instance{
				Project: id, Zone: zones[i%len(zones)], Name: fmt.Sprintf("vm-%03d-%03d", p, i),
				ID: fmt.Sprint(p*1000 + i), Status: statuses[i%len(statuses)], OS: os,
				MachineType: "e2-standard-2", InternalIP: fmt.Sprintf("10.%d.%d.%d", p, i/250, i%250),
				Labels: map[string]string{"env": envs[i%len(envs)], "team": fmt.Sprintf("team-%d", i%10)},
				Tags:   []string{"iap-ssh"},
			})
		}
		inv.Instances[id] = list
	}
	return inv
}

type memCache struct{ data []byte }

func (c memCache) LoadCache() (projects.Inventory, error) {
	var inv projects.Inventory
	err := json.Unmarshal(c.data, &inv)
	return inv, err
}
func (memCache) SaveCache(projects.Inventory) error { return nil }

func benchModel(b *testing.B, be common.Backend, ids []string) *Model {
	m := New(context.Background(), Options{Backend: be, StatePath: "-", Projects: ids, Now: func() time.Time { return fixedNow }})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return m
}

func ids(inv projects.Inventory) []string {
	var out []string
	for _, p := range inv.Projects {
		out = append(out, p.ID)
	}
	return out
}

// BenchmarkFilterKeystroke is one key typed into the filter (Update) and
// the frame it produces (View), with 10,000 instances loaded.
func BenchmarkFilterKeystroke(b *testing.B) {
	inv := bigInventory()
	m := benchModel(b, common.Backend{}, ids(inv))
	m.Explorer().SetInventory(inv)
	m.Update(keyMsg("/"))
	for _, r := range "vm-0" {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	type_ := tea.KeyPressMsg{Code: '5', Text: "5"}
	back := keyMsg("backspace")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate typing and deleting so every keystroke changes the filter.
		if i%2 == 0 {
			m.Update(type_)
		} else {
			m.Update(back)
		}
		_ = m.View()
	}
}

// BenchmarkInitialFrameFromCache is the UI's part of start-up: build the
// model, apply the cached inventory (10,000 instances) and draw the first
// frame. Reading and decoding the cache file runs in a command beforehand;
// BenchmarkCacheDecode measures it.
func BenchmarkInitialFrameFromCache(b *testing.B) {
	inv := bigInventory()
	list := ids(inv)
	be := common.Backend{Inventory: blockingInventory{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := benchModel(b, be, list)
		m.Init() // marks the projects as loading; the loads themselves are not run
		m.Update(cacheLoadedMsg{inv: inv})
		_ = m.View()
		if total, _ := m.Explorer().Counts(); total != 10000 {
			b.Fatalf("%d instances drawn from the cache", total)
		}
	}
}

// BenchmarkCacheDecode decodes a 10,000-instance inventory cache (JSON),
// the part of start-up that happens before the first frame, off the UI loop.
func BenchmarkCacheDecode(b *testing.B) {
	data, err := json.Marshal(bigInventory())
	if err != nil {
		b.Fatal(err)
	}
	cache := memCache{data: data}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cache.LoadCache(); err != nil {
			b.Fatal(err)
		}
	}
}

// blockingInventory is never called: the benchmark only needs refresh to
// mark projects as loading.
type blockingInventory struct{}

func (blockingInventory) Load(ctx context.Context, ids []string) (projects.Inventory, error) {
	<-ctx.Done()
	return projects.Inventory{}, ctx.Err()
}
