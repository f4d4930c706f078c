package rdpdialog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"iapterm/projects"
	"iapterm/ui/common"
)

func TestValidateDomain(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"CORP", true}, {"corp.example.com", true},
		{"CORP\\x", false}, {"a b", false}, {"a/b", false}, {"a:b", false}, {"a|b", false},
	} {
		if err := ValidateDomain(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateDomain(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestUserPanelShowsPlaceholdersAndLongValues(t *testing.T) {
	c := &common.Common{Ctx: context.Background(), Styles: common.DefaultStyles(), Now: time.Now}
	p := NewUserPanel(c, projects.Instance{Name: "win-1", Project: "p", Zone: "z"})
	p.SetSize(100, 30)
	p.Init()
	view := ansi.Strip(p.View())
	if !strings.Contains(view, "none (local account)") {
		t.Errorf("the empty domain field does not show its whole placeholder:\n%s", view)
	}
	p.user.SetValue("administrator-longer")
	p.domain.SetValue("corp.subsidiary.example.com")
	view = ansi.Strip(p.View())
	for _, want := range []string{"administrator-longer", "corp.subsidiary.example.com"} {
		if !strings.Contains(view, want) {
			t.Errorf("the form does not show %q whole:\n%s", want, view)
		}
	}
}
