package explorer

import (
	"testing"

	"iapterm/projects"
)

func TestFilterMatch(t *testing.T) {
	inst := &projects.Instance{Name: "Web-Prod-1", Status: "RUNNING", OS: projects.Windows, Zone: "europe-west1-b",
		Labels: map[string]string{"env": "Prod", "team": "payments"}}
	ix := index(inst)
	tests := []struct {
		filter string
		want   bool
	}{
		{"", true},
		{"web", true},
		{"prod-1", true},
		{"db", false},
		{"running", true},
		{"run", true},
		{"ning", false}, // statuses match from the start
		{"windows", true},
		{"linux", false},
		{"os:win", true},
		{"os:linux", false},
		{"status:running", true},
		{"status:terminated", false},
		{"env:prod", true},
		{"env:staging", false},
		{"missing:x", false},
		{"team:pay", true},
		{"payments", true}, // a bare word also searches label values
		{"env:", true},     // the label exists
		{"zone:europe", true},
		{"name:prod", true},
		{"web   env:prod  windows", true},
		{"web env:dev", false},
		{":x", false}, // a colon with no key is a plain word
	}
	for _, tt := range tests {
		if got := ParseFilter(tt.filter).match(&ix); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "web", "env:prod status:running", "::", "a:b:c", " \t:\n", "é:ü"} {
		f.Add(s)
	}
	inst := &projects.Instance{Name: "vm", Status: "RUNNING", Labels: map[string]string{"k": "v", "": "x"}}
	ix := index(inst)
	f.Fuzz(func(t *testing.T, s string) {
		flt := ParseFilter(s)
		flt.match(&ix)
		if flt.Empty() && !flt.match(&ix) {
			t.Fatal("an empty filter must match everything")
		}
	})
}
