package explorer

import (
	"testing"

	"iapterm/projects"
	"iapterm/ui/common"
)

func testExplorer(t *testing.T) *Model {
	t.Helper()
	m := New(&common.Common{Styles: common.DefaultStyles()})
	m.SetSize(80, 30)
	m.SetProjects([]string{"p"})
	inst := func(zone, name string) projects.Instance {
		return projects.Instance{Project: "p", Zone: zone, Name: name, Status: "RUNNING", OS: projects.Linux}
	}
	m.SetInventory(projects.Inventory{
		Projects: []projects.Project{{ID: "p"}},
		Instances: map[string][]projects.Instance{"p": {
			inst("us-central1-a", "alpha"), inst("us-central1-a", "beta"), inst("us-east1-b", "gamma"),
		}},
	})
	return m
}

// The row the cursor shows is the selection, also when a filter hid the
// VM selected before: clearing the filter keeps the VM found through it.
func TestFilterSelectionSurvivesClearing(t *testing.T) {
	m := testExplorer(t)
	m.SetFilter("alpha")
	if r, _ := m.Selected(); r.Key() != "i:p/us-central1-a/alpha" {
		t.Fatalf("filter alpha selected %s", r.Key())
	}
	// gamma's rows: project, zone, gamma; the cursor stays on the third
	// row, where alpha was.
	m.SetFilter("gamma")
	if r, _ := m.Selected(); r.Key() != "i:p/us-east1-b/gamma" {
		t.Fatalf("filter gamma selected %s", r.Key())
	}
	m.SetFilter("")
	if r, _ := m.Selected(); r.Key() != "i:p/us-east1-b/gamma" {
		t.Fatalf("after clearing the filter: selected %s", r.Key())
	}
}
