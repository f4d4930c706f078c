package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"strings"

	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

const (
	permProjectsGet    = "resourcemanager.projects.get"
	permProjectsGetIAM = "resourcemanager.projects.getIamPolicy"
)

// v1 routes Resource Manager v1, OS Login v1 and IAP v1, which share the
// /v1/ prefix.
func (a *API) v1(w http.ResponseWriter, r *http.Request, who caller) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/")
	name, verb, _ := strings.Cut(rest, ":")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case strings.HasPrefix(rest, "users/"):
		a.osLoginRoute(w, r, who, strings.TrimPrefix(name, "users/"), verb)
	case strings.Contains(name, "/iap_tunnel") && post && verb == "testIamPermissions":
		a.iapTest(w, r, who, name)
	case strings.Contains(name, "/iap_tunnel") && post && verb == "getIamPolicy":
		a.iapPolicy(w, r, who, name)
	case name == "projects" && verb == "" && get:
		a.listProjectsV1(w, r, who)
	case strings.HasPrefix(name, "projects/") && strings.Count(name, "/") == 1:
		id := strings.TrimPrefix(name, "projects/")
		switch {
		case verb == "" && get:
			a.getProjectV1(w, who, id)
		case verb == "testIamPermissions" && post:
			if _, err := a.c.Project(id); err != nil {
				writeError(w, crmDenied())
				return
			}
			a.testPermissions(w, r, who, "projects/"+id, true)
		case verb == "getIamPolicy" && post:
			p, err := a.c.Project(id)
			if err != nil || !a.allowed(who.email, "projects/"+id, permProjectsGetIAM) {
				writeError(w, crmDenied())
				return
			}
			writeJSON(w, 200, policyWire(p.IAM, requestedVersion(r)))
		default:
			writeError(w, newError(404, "notFound", "Method not found.", true))
		}
	default:
		writeError(w, newError(404, "notFound", "The requested URL /v1/"+rest+" was not found.", true))
	}
}

func (a *API) v3(w http.ResponseWriter, r *http.Request, who caller) {
	rest := strings.TrimPrefix(r.URL.Path, "/v3/")
	switch {
	case rest == "projects:search" && r.Method == http.MethodGet:
		a.searchProjectsV3(w, r, who)
	case strings.HasPrefix(rest, "projects/") && strings.HasSuffix(rest, ":testIamPermissions") && r.Method == http.MethodPost:
		p, err := a.c.Project(strings.TrimSuffix(strings.TrimPrefix(rest, "projects/"), ":testIamPermissions"))
		if err != nil {
			writeError(w, crmDenied())
			return
		}
		a.testPermissions(w, r, who, "projects/"+p.ID, true)
	case strings.HasPrefix(rest, "projects/") && strings.HasSuffix(rest, ":getIamPolicy") && r.Method == http.MethodPost:
		p, err := a.c.Project(strings.TrimSuffix(strings.TrimPrefix(rest, "projects/"), ":getIamPolicy"))
		if err != nil || !a.allowed(who.email, "projects/"+p.ID, permProjectsGetIAM) {
			writeError(w, crmDenied())
			return
		}
		writeJSON(w, 200, policyWire(p.IAM, requestedVersion(r)))
	case strings.HasPrefix(rest, "projects/") && !strings.Contains(rest, ":") && r.Method == http.MethodGet:
		p, err := a.c.Project(strings.TrimPrefix(rest, "projects/"))
		if err != nil || !a.allowed(who.email, "projects/"+p.ID, permProjectsGet) {
			writeError(w, permissionDenied(permProjectsGet, rest))
			return
		}
		writeJSON(w, 200, projectV3(p))
	default:
		writeError(w, newError(404, "notFound", "The requested URL /v3/"+rest+" was not found.", true))
	}
}

func crmDenied() *apiError {
	return newError(403, "forbidden", "The caller does not have permission", true)
}

type parentJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type projectV1JSON struct {
	ProjectNumber  string            `json:"projectNumber"`
	ProjectID      string            `json:"projectId"`
	LifecycleState string            `json:"lifecycleState"`
	Name           string            `json:"name"`
	Labels         map[string]string `json:"labels,omitempty"`
	CreateTime     string            `json:"createTime"`
	Parent         *parentJSON       `json:"parent,omitempty"`
}

func projectV1(p cloud.Project) projectV1JSON {
	out := projectV1JSON{
		ProjectNumber: strconv.FormatInt(p.Number, 10), ProjectID: p.ID, LifecycleState: p.State,
		Name: p.Name, Labels: p.Labels, CreateTime: "2024-01-01T00:00:00.000Z",
	}
	if typ, id, ok := strings.Cut(p.Parent, "/"); ok {
		out.Parent = &parentJSON{Type: strings.TrimSuffix(typ, "s"), ID: id}
	}
	return out
}

type projectV3JSON struct {
	Name        string            `json:"name"`
	Parent      string            `json:"parent,omitempty"`
	ProjectID   string            `json:"projectId"`
	State       string            `json:"state"`
	DisplayName string            `json:"displayName"`
	CreateTime  string            `json:"createTime"`
	Etag        string            `json:"etag"`
	Labels      map[string]string `json:"labels,omitempty"`
}

func projectV3(p cloud.Project) projectV3JSON {
	return projectV3JSON{
		Name: "projects/" + strconv.FormatInt(p.Number, 10), Parent: p.Parent, ProjectID: p.ID, State: p.State,
		DisplayName: p.Name, CreateTime: "2024-01-01T00:00:00.000Z", Etag: etag(p.ID), Labels: p.Labels,
	}
}

func (a *API) getProjectV1(w http.ResponseWriter, who caller, id string) {
	p, err := a.c.Project(id)
	if err != nil || !a.allowed(who.email, "projects/"+p.ID, permProjectsGet) {
		writeError(w, crmDenied())
		return
	}
	writeJSON(w, 200, projectV1(p))
}

// visibleProjects are the projects the caller may get, filtered.
func (a *API) visibleProjects(who caller, filter string, fields map[string]func(cloud.Project) string) ([]cloud.Project, *apiError) {
	terms, err := parseProjectFilter(filter)
	if err != nil {
		return nil, newError(400, "badRequest", "Request contains an invalid argument: "+err.Error(), true)
	}
	var out []cloud.Project
	for _, p := range a.c.Projects() {
		if !a.allowed(who.email, "projects/"+p.ID, permProjectsGet) {
			continue
		}
		if matchProject(p, terms, fields) {
			out = append(out, p)
		}
	}
	return out, nil
}

func page(r *http.Request, n int) (off, end int, next string, e *apiError) {
	size := 500
	if s := r.URL.Query().Get("pageSize"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, 0, "", newError(400, "badRequest", "Request contains an invalid argument: pageSize", true)
		}
		if v > 0 {
			size = v
		}
	}
	off, ok := pageOffset(r.URL.Query().Get("pageToken"))
	if !ok {
		return 0, 0, "", newError(400, "badRequest", "Request contains an invalid argument: pageToken", true)
	}
	off = min(off, n)
	end = min(off+size, n)
	if end < n {
		next = pageToken(end)
	}
	return off, end, next, nil
}

var v1Fields = map[string]func(cloud.Project) string{
	"name":           func(p cloud.Project) string { return p.Name },
	"id":             func(p cloud.Project) string { return p.ID },
	"projectid":      func(p cloud.Project) string { return p.ID },
	"lifecyclestate": func(p cloud.Project) string { return p.State },
	"parent.type":    func(p cloud.Project) string { t, _, _ := strings.Cut(p.Parent, "/"); return strings.TrimSuffix(t, "s") },
	"parent.id":      func(p cloud.Project) string { _, id, _ := strings.Cut(p.Parent, "/"); return id },
}

var v3Fields = map[string]func(cloud.Project) string{
	"displayname": func(p cloud.Project) string { return p.Name },
	"name":        func(p cloud.Project) string { return p.Name },
	"projectid":   func(p cloud.Project) string { return p.ID },
	"id":          func(p cloud.Project) string { return p.ID },
	"state":       func(p cloud.Project) string { return p.State },
	"parent":      func(p cloud.Project) string { return p.Parent },
	"parent.type": func(p cloud.Project) string { t, _, _ := strings.Cut(p.Parent, "/"); return strings.TrimSuffix(t, "s") },
	"parent.id":   func(p cloud.Project) string { _, id, _ := strings.Cut(p.Parent, "/"); return id },
}

func (a *API) listProjectsV1(w http.ResponseWriter, r *http.Request, who caller) {
	writeProjectPage(w, r, a, who, r.URL.Query().Get("filter"), v1Fields, projectV1)
}

func (a *API) searchProjectsV3(w http.ResponseWriter, r *http.Request, who caller) {
	writeProjectPage(w, r, a, who, r.URL.Query().Get("query"), v3Fields, projectV3)
}

// writeProjectPage answers a v1 list or a v3 search: one page of the
// projects the caller may see that match filter, each rendered by render.
func writeProjectPage[T any](w http.ResponseWriter, r *http.Request, a *API, who caller, filter string, fields map[string]func(cloud.Project) string, render func(cloud.Project) T) {
	ps, e := a.visibleProjects(who, filter, fields)
	if e != nil {
		writeError(w, e)
		return
	}
	off, end, next, e := page(r, len(ps))
	if e != nil {
		writeError(w, e)
		return
	}
	out := struct {
		Projects      []T    `json:"projects,omitempty"`
		NextPageToken string `json:"nextPageToken,omitempty"`
	}{NextPageToken: next}
	for _, p := range ps[off:end] {
		out.Projects = append(out.Projects, render(p))
	}
	writeJSON(w, 200, out)
}

// filterTerm is one "field:value" of a project filter.
type filterTerm struct {
	field, value string
	exact        bool // "=" rather than ":"
}

// parseProjectFilter reads filters such as `name:"*web*" OR id:web*` and
// `lifecycleState:ACTIVE labels.env:prod`. Terms are OR-ed, as Resource
// Manager documents for several fields; AND and OR words are skipped.
func parseProjectFilter(s string) ([]filterTerm, error) {
	var terms []filterTerm
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '(' || s[i] == ')') {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		for j < len(s) && s[j] != ':' && s[j] != '=' && s[j] != ' ' {
			j++
		}
		field := s[i:j]
		if j >= len(s) || s[j] == ' ' {
			if up := strings.ToUpper(field); up == "OR" || up == "AND" {
				i = j
				continue
			}
			// A bare word matches the name or ID.
			terms = append(terms, filterTerm{field: "", value: field})
			i = j
			continue
		}
		exact := s[j] == '='
		j++
		var val string
		if j < len(s) && s[j] == '"' {
			k := strings.IndexByte(s[j+1:], '"')
			if k < 0 {
				return nil, errString("unterminated quote in filter")
			}
			val = s[j+1 : j+1+k]
			j += k + 2
		} else {
			k := j
			for k < len(s) && s[k] != ' ' && s[k] != ')' {
				k++
			}
			val = s[j:k]
			j = k
		}
		terms = append(terms, filterTerm{field: strings.ToLower(field), value: val, exact: exact})
		i = j
	}
	return terms, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func matchProject(p cloud.Project, terms []filterTerm, fields map[string]func(cloud.Project) string) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		var values []string
		switch {
		case t.field == "":
			values = []string{p.ID, p.Name}
		case strings.HasPrefix(t.field, "labels."):
			key := t.field[len("labels."):]
			for k, v := range p.Labels {
				if strings.EqualFold(k, key) {
					values = append(values, v)
				}
			}
		default:
			f, ok := fields[t.field]
			if !ok {
				continue
			}
			values = []string{f(p)}
		}
		for _, v := range values {
			if wildcardMatch(strings.ToLower(t.value), strings.ToLower(v)) {
				return true
			}
		}
	}
	return false
}

// wildcardMatch matches pattern, where * is any run of characters.
func wildcardMatch(pattern, s string) bool {
	ok, err := path.Match(strings.NewReplacer("?", `\?`, "[", `\[`, `\`, `\\`).Replace(pattern), s)
	return err == nil && ok
}

type bindingJSON struct {
	Role      string         `json:"role"`
	Members   []string       `json:"members"`
	Condition *conditionJSON `json:"condition,omitempty"`
}

type conditionJSON struct {
	Expression  string `json:"expression"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

type policyJSON struct {
	Version  int           `json:"version"`
	Etag     string        `json:"etag"`
	Bindings []bindingJSON `json:"bindings,omitempty"`
}

func policyWire(bs []world.Binding, requested int) policyJSON {
	out := policyJSON{Version: 1}
	conditional := false
	for _, b := range bs {
		bj := bindingJSON{Role: b.Role, Members: b.Members}
		if b.Condition != nil {
			conditional = true
			bj.Condition = &conditionJSON{Expression: b.Condition.Expression, Title: b.Condition.Title, Description: b.Condition.Description}
		}
		out.Bindings = append(out.Bindings, bj)
	}
	if conditional || requested == 3 {
		out.Version = 3
	}
	raw, _ := json.Marshal(out.Bindings)
	out.Etag = etag(string(raw))
	return out
}

func etag(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

func requestedVersion(r *http.Request) int {
	var body struct {
		Options struct {
			RequestedPolicyVersion int `json:"requestedPolicyVersion"`
		} `json:"options"`
	}
	decodeBody(r, &body)
	return body.Options.RequestedPolicyVersion
}
