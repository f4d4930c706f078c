package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// FuzzRoutes sends arbitrary paths to every API prefix: answers are JSON
// errors or results, never a panic or a 500.
func FuzzRoutes(f *testing.F) {
	for _, s := range []string{
		"/compute/v1/projects/proj-a/zones/us-central1-a/instances/vm-1/serialPort?port=1&start=-5",
		"/compute/v1/projects/proj-a/zones//instances//",
		"/compute/v1/projects/proj-a/global/operations/x/wait",
		"/v1/projects/proj-a/iap_tunnel/zones/z/instances/:getIamPolicy",
		"/v1/users/alice@example.com/sshPublicKeys/../loginProfile",
		"/v1/projects?filter=name:%22",
		"/v3/projects:search?query=((",
	} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	e := newEnv(f, Options{})
	mux := http.NewServeMux()
	e.api.Register(mux)
	f.Fuzz(func(t *testing.T, method, target string) {
		if method != "GET" && method != "POST" && method != "DELETE" {
			return
		}
		u, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") || u.Host != "" || u.Scheme != "" {
			return
		}
		req, err := http.NewRequest(method, "http://emu"+u.RequestURI(), strings.NewReader("{}"))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer alice-token")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	})
}
