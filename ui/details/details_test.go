package details

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
)

func TestEffective(t *testing.T) {
	loaded := func(items map[string]string) ProjectMetadata { return ProjectMetadata{Loaded: true, Items: items} }
	denied := ProjectMetadata{Err: fmt.Errorf("reading project metadata: %w", &projects.Error{Code: http.StatusForbidden})}
	broken := ProjectMetadata{Err: errors.New("connection reset")}
	const key = "enable-oslogin"
	tests := []struct {
		name string
		inst map[string]string
		proj ProjectMetadata
		key  string
		want string
	}{
		{"instance on", map[string]string{key: "TRUE"}, loaded(nil), key, "on (instance)"},
		{"instance off beats project on", map[string]string{key: "false"}, loaded(map[string]string{key: "true"}), key, "off (instance)"},
		{"instance on beats project off", map[string]string{key: "1"}, loaded(map[string]string{key: "0"}), key, "on (instance)"},
		{"project on", nil, loaded(map[string]string{key: "True"}), key, "on (project)"},
		{"project off", map[string]string{}, loaded(map[string]string{key: "F"}), key, "off (project)"},
		{"default", nil, loaded(map[string]string{}), key, "off (default)"},
		{"spaces trimmed", map[string]string{key: " true\n"}, loaded(nil), key, "on (instance)"},
		{"unparseable instance value is unset", map[string]string{key: "yes please"}, loaded(map[string]string{key: "TRUE"}), key, "on (project)"},
		{"unparseable project value is unset", nil, loaded(map[string]string{key: "enabled"}), key, "off (default)"},
		{"instance value needs no project", map[string]string{key: "TRUE"}, ProjectMetadata{}, key, "on (instance)"},
		{"instance value hides a 403", map[string]string{key: "false"}, denied, key, "off (instance)"},
		{"loading", nil, ProjectMetadata{}, key, "…"},
		{"403", nil, denied, key, "unknown (no permission to read project metadata)"},
		{"other error", nil, broken, key, "unknown (could not read project metadata)"},
		{"no reader", nil, ProjectMetadata{Loaded: true, Err: ErrNoProjectMetadata}, key, "unknown (project metadata not available)"},
		{"project blocks keys", nil, loaded(map[string]string{"block-project-ssh-keys": "true"}), "block-project-ssh-keys", "on (project)"},
		{"legacy sshKeys blocks", map[string]string{"sshKeys": "a:ssh-rsa AAAA a"}, loaded(nil), "block-project-ssh-keys", "on (instance has the legacy sshKeys key)"},
		{"legacy sshKeys beats false", map[string]string{"sshKeys": "", "block-project-ssh-keys": "false"}, loaded(nil), "block-project-ssh-keys", "on (instance has the legacy sshKeys key)"},
		{"legacy sshKeys is about keys only", map[string]string{"sshKeys": ""}, loaded(nil), key, "off (default)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Effective(tc.inst, tc.proj, tc.key); got != tc.want {
				t.Errorf("Effective = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPaneShowsProjectMetadataError(t *testing.T) {
	c := &common.Common{Styles: common.DefaultStyles(), Now: time.Now, Width: 80, Height: 60}
	m := New(c)
	inst := projects.Instance{Name: "vm", Project: "p", Zone: "z", Status: "RUNNING", Metadata: map[string]string{"enable-oslogin": "true"}}
	m.SetInstance(inst, nil)
	m.SetProjectMetadata(ProjectMetadata{Err: errors.New("dial tcp: i/o timeout")})
	if v := m.View(); !strings.Contains(v, "i/o timeout") {
		t.Errorf("the reason is not shown:\n%s", v)
	}
	// A permission error says so in each flag; no extra line.
	m.SetProjectMetadata(ProjectMetadata{Err: &projects.Error{Code: http.StatusForbidden}})
	if v := m.View(); strings.Contains(v, "Project meta") || !strings.Contains(v, "no permission") {
		t.Errorf("403:\n%s", v)
	}
	// When the instance sets every flag the project does not matter.
	inst.Metadata = map[string]string{"enable-oslogin": "true", "enable-oslogin-2fa": "false", "block-project-ssh-keys": "0", "serial-port-enable": "1"}
	m.SetInstance(inst, nil)
	m.SetProjectMetadata(ProjectMetadata{Err: errors.New("dial tcp: i/o timeout")})
	if v := m.View(); strings.Contains(v, "timeout") || strings.Contains(v, "unknown") {
		t.Errorf("project error shown though no flag needs it:\n%s", v)
	}
}

// A project's load warning (why a zone is missing) wraps in the pane, so
// its reason is not cut at the pane's edge.
func TestProjectWarningWraps(t *testing.T) {
	c := &common.Common{Styles: common.DefaultStyles(), Now: time.Now, Width: 40, Height: 20}
	m := New(c)
	warn := "asia-northeast1-a is unreachable: its instances could not be listed (HTTP 503); they are missing until a refresh (r) succeeds"
	m.SetProject(projects.Project{ID: "acme-analytics", Name: "Acme Analytics"}, []string{warn})
	view := ansi.Strip(m.View())
	for _, l := range strings.Split(view, "\n") {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line %d wide: %q", w, l)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(view), " "), "! "+warn) {
		t.Errorf("the warning is not shown whole:\n%s", view)
	}
}
