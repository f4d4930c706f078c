package projects_test

import (
	"context"
	"fmt"
	"testing"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/projects"
)

// bigWorld has nProjects projects of nVMs instances each, spread over four
// zones, all visible to the default user.
func bigWorld(nProjects, nVMs int) *world.World {
	w := &world.World{Users: []world.User{{Email: "bench@example.com", Token: "bench-token"}}}
	zones := []string{"us-central1-a", "us-central1-b", "europe-west1-b", "asia-east1-a"}
	for p := range nProjects {
		pr := world.Project{
			ID:  fmt.Sprintf("bench-%03d", p),
			IAM: []world.Binding{{Role: "roles/compute.viewer", Members: []string{"user:bench@example.com"}}},
		}
		for i := range nVMs {
			os := "linux"
			if i%10 == 0 {
				os = "windows"
			}
			pr.Instances = append(pr.Instances, world.Instance{
				Name: fmt.Sprintf("vm-%04d", i), Zone: zones[i%len(zones)], OS: os,
				Labels: map[string]string{"env": "bench"}, Metadata: map[string]string{"k": "v"},
			})
		}
		w.Projects = append(w.Projects, pr)
	}
	return w
}

// BenchmarkInventory lists 100 projects x 100 VMs from the emulator over
// loopback HTTP. calls/op must equal projects x pages per project.
func BenchmarkInventory(b *testing.B) {
	const nProjects, nVMs = 100, 100
	for _, pageSize := range []int{500, 25} {
		b.Run(fmt.Sprintf("projects=%d/vms=%d/page=%d", nProjects, nVMs, pageSize), func(b *testing.B) {
			e := start(b, bigWorld(nProjects, nVMs), emulator.Options{AgentDelay: -1})
			e.c.PageSize = pageSize
			ps := make([]projects.Project, nProjects)
			for i := range ps {
				ps[i].ID = fmt.Sprintf("bench-%03d", i)
			}
			ctx := context.Background()
			start := e.c.Calls()
			for b.Loop() {
				inv, err := e.c.Inventory(ctx, ps)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for _, l := range inv.Instances {
					n += len(l)
				}
				if n != nProjects*nVMs || len(inv.Warnings) != 0 {
					b.Fatalf("listed %d instances, warnings %v", n, inv.Warnings)
				}
			}
			b.ReportMetric(float64(e.c.Calls()-start)/float64(b.N), "calls/op")
			b.ReportMetric(float64(nProjects*nVMs), "instances/op")
		})
	}
}
