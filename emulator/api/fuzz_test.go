package api

import (
	"testing"

	"iapterm/emulator/cloud"
)

func FuzzParseProjectFilter(f *testing.F) {
	f.Add(`name:"*web*" OR id:"*web*"`)
	f.Add(`lifecycleState:ACTIVE labels.env:prod (parent.id=42)`)
	f.Add(`name:"unterminated`)
	f.Add(`:::""""`)
	p := cloud.Project{ID: "p", Name: "P", State: "ACTIVE", Labels: map[string]string{"env": "prod"}, Parent: "organizations/1"}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := parseProjectFilter(s)
		if err != nil {
			return
		}
		matchProject(p, terms, v1Fields)
		matchProject(p, terms, v3Fields)
	})
}
