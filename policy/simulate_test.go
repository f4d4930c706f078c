package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func loadPolicy(t *testing.T, name string) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		t.Fatalf("ParsePolicy(%s): %v", name, err)
	}
	return p
}

func TestParsePolicyForms(t *testing.T) {
	bare := `{"version":3,"etag":"BwX=","bindings":[{"role":"roles/owner","members":["user:a@example.com"]}]}`
	wrapped := `{"policy":` + bare + `}`
	yamlBare := "bindings:\n- role: roles/owner\n  members:\n  - user:a@example.com\nversion: 3\n"
	yamlWrapped := "policy:\n  bindings:\n  - role: roles/owner\n    members: [user:a@example.com]\n"
	for name, in := range map[string]string{"bare json": bare, "wrapped json": wrapped, "bare yaml": yamlBare, "wrapped yaml": yamlWrapped} {
		p, err := ParsePolicy([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/owner" || p.Bindings[0].Members[0] != "user:a@example.com" {
			t.Fatalf("%s: parsed %+v", name, p)
		}
	}
	for _, f := range []string{"port22.json", "accesslevel.json", "web.yaml"} {
		loadPolicy(t, f)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, in   string
		line, col  int
		mentioning string
	}{
		{"unquoted group member (IAP docs example)", read("malformed-member.json"), 7, 18, `"group":EXAMPLE_GROUP`},
		{"doubled quotes (IAP docs example)", read("malformed-quotes.json"), 8, 27, "accessPolicies"},
		{"truncated", `{"bindings": [`, 1, 15, "ends early"},
		{"members not a list", `{"bindings": [{"role": "roles/owner", "members": "user:a@b.c"}]}`, 1, 61, "list"},
		{"trailing garbage", `{"bindings": []} x`, 1, 18, "after"},
		{"empty", ``, 0, 0, "empty"},
		{"yaml syntax", "bindings:\n- role: roles/owner\n  members: [user:a@b.c\n", 2, 0, "not a valid policy"},
		{"no role", `{"bindings": [{"members": ["user:a@b.c"]}]}`, 0, 0, `no "role"`},
		{"bare email member", `{"bindings": [{"role": "roles/owner", "members": ["a@b.c"]}]}`, 0, 0, "user:EMAIL"},
		{"condition without expression", `{"bindings": [{"role": "roles/owner", "members": ["user:a@b.c"], "condition": {"title": "x"}}]}`, 0, 0, "expression"},
		{"both forms", `{"policy": {"bindings": []}, "bindings": [{"role": "roles/owner", "members": ["user:a@b.c"]}]}`, 0, 0, "keep one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.in))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", p)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a ParseError: %v", err, err)
			}
			if pe.Line != tt.line || (tt.col > 0 && pe.Column != tt.col) {
				t.Errorf("position %d:%d, want %d:%d: %v", pe.Line, pe.Column, tt.line, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.mentioning) {
				t.Errorf("error %q does not mention %q", err, tt.mentioning)
			}
		})
	}
}

func TestSimulatePort22Example(t *testing.T) {
	p := loadPolicy(t, "port22.json")
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ok := Simulate(p, "user:Alice@Example.com", PermTunnelAccess, Request{DestinationPort: 22, Time: now})
	if ok.Verdict != Granted {
		t.Fatalf("port 22: %v: %s", ok.Verdict, ok.Summary)
	}
	no := Simulate(p, "alice@example.com", PermTunnelAccess, Request{DestinationPort: 3389, Time: now})
	if no.Verdict != Denied {
		t.Fatalf("port 3389: %v", no.Verdict)
	}
	b := no.Bindings[0]
	if b.RoleGrants != Yes || b.MemberMatch != Yes || b.ConditionValue != "false" {
		t.Fatalf("binding: %+v", b)
	}
	if len(b.FailingClauses) != 1 || b.FailingClauses[0].String() != "`destination.port == 22` is false for destination.port = 3389" {
		t.Fatalf("failing clauses: %v", b.FailingClauses)
	}
	if !strings.Contains(b.Explanation, "destination.port == 22") {
		t.Errorf("explanation: %s", b.Explanation)
	}
	// A user only in the group: cannot tell without a resolver.
	bob := Simulate(p, "user:bob@example.com", PermTunnelAccess, Request{DestinationPort: 22, Time: now})
	if bob.Verdict != Unknown || bob.Bindings[0].MemberMatch != CannotTell {
		t.Fatalf("group member without resolver: %+v", bob)
	}
	groups := func(group, member string) (bool, bool) {
		return group == "admins@example.com" && member == "bob@example.com", true
	}
	bob = SimulateWith(p, "user:bob@example.com", PermTunnelAccess, Request{DestinationPort: 22, Time: now}, SimOptions{Groups: groups})
	if bob.Verdict != Granted {
		t.Fatalf("group member with resolver: %+v", bob)
	}
	carol := SimulateWith(p, "user:carol@example.com", PermTunnelAccess, Request{DestinationPort: 22, Time: now}, SimOptions{Groups: groups})
	if carol.Verdict != Denied {
		t.Fatalf("non member: %+v", carol)
	}
	// Asking by role.
	if r := Simulate(p, "alice@example.com", RoleTunnelResourceAccess, Request{DestinationPort: 22, Time: now}); r.Verdict != Granted {
		t.Fatalf("by role: %+v", r)
	}
	// By role, through a custom role: cannot tell.
	custom := &Policy{Bindings: []Binding{{Role: "projects/p/roles/tunnel", Members: []string{"user:alice@example.com"}}}}
	if r := Simulate(custom, "alice@example.com", RoleTunnelResourceAccess, Request{}); r.Verdict != Unknown {
		t.Fatalf("custom role by role: %+v", r)
	}
	// By role, through a broader role.
	owner := &Policy{Bindings: []Binding{{Role: RoleOwner, Members: []string{"user:alice@example.com"}}}}
	if r := Simulate(owner, "alice@example.com", RoleTunnelResourceAccess, Request{}); r.Verdict != Granted {
		t.Fatalf("owner by role: %+v", r)
	}
	// Wrong permission.
	if r := Simulate(p, "alice@example.com", PermSetMetadata, Request{DestinationPort: 22, Time: now}); r.Verdict != Denied || r.Bindings[0].RoleGrants != No {
		t.Fatalf("setMetadata: %+v", r)
	}
}

func TestSimulateAccessLevelExample(t *testing.T) {
	p := loadPolicy(t, "accesslevel.json")
	level := "accessPolicies/1234/accessLevels/corp_devices"
	r := Request{DestinationPort: 22, DestinationIP: "10.0.0.1", Time: time.Now()}
	res := Simulate(p, "user:alice@example.com", PermTunnelAccess, r)
	if res.Verdict != Unknown {
		t.Fatalf("without --access-level: %v (%s)", res.Verdict, res.Bindings[0].Explanation)
	}
	if len(res.Requirements) != 1 || res.Requirements[0] != level {
		t.Fatalf("requirements: %v", res.Requirements)
	}
	// Port 3389 fails whatever the device: denied, and the clause says why.
	r3389 := r
	r3389.DestinationPort = 3389
	res = Simulate(p, "user:alice@example.com", PermTunnelAccess, r3389)
	if res.Verdict != Denied {
		t.Fatalf("3389: %v", res.Verdict)
	}
	if cl := res.Bindings[0].FailingClauses; len(cl) != 1 || cl[0].Text != "destination.port == 22" {
		t.Fatalf("3389 clauses: %v", cl)
	}
	// Given the level: granted; given other levels only: denied on the level.
	withLevel := r
	withLevel.AccessLevels = []string{level}
	if res := SimulateWith(p, "user:alice@example.com", PermTunnelAccess, withLevel, SimOptions{AccessLevelsKnown: true}); res.Verdict != Granted {
		t.Fatalf("with level: %+v", res)
	}
	res = SimulateWith(p, "user:alice@example.com", PermTunnelAccess, r, SimOptions{AccessLevelsKnown: true})
	if res.Verdict != Denied {
		t.Fatalf("known without level: %v", res.Verdict)
	}
	if cl := res.Bindings[0].FailingClauses; len(cl) != 1 || !strings.Contains(cl[0].Text, "request.auth.access_levels") {
		t.Fatalf("level clause: %v", cl)
	}
	// Wrong IP.
	other := withLevel
	other.DestinationIP = "10.0.0.2"
	res = SimulateWith(p, "user:alice@example.com", PermTunnelAccess, other, SimOptions{AccessLevelsKnown: true})
	if cl := res.Bindings[0].FailingClauses; res.Verdict != Denied || len(cl) != 1 || cl[0].String() != "`destination.ip == \"10.0.0.1\"` is false for destination.ip = \"10.0.0.2\"" {
		t.Fatalf("ip: %v %v", res.Verdict, cl)
	}
}

func TestSimulateWebExample(t *testing.T) {
	p := loadPolicy(t, "web.yaml")
	res := Simulate(p, "user:alice@example.com", PermWebAccess, Request{Path: "/anything", Host: "app.example.com"})
	if res.Verdict != Granted {
		t.Fatalf("%+v", res)
	}
}

func TestSimulateConditionShapes(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	mk := func(role, member, expr string) *Policy {
		b := Binding{Role: role, Members: []string{member}}
		if expr != "" {
			b.Condition = &Condition{Expression: expr}
		}
		return &Policy{Bindings: []Binding{b}}
	}
	tests := []struct {
		name    string
		p       *Policy
		member  string
		want    Verdict
		clauses []string
	}{
		{"expired", mk(RoleTunnelResourceAccess, "user:a@x.com", `request.time < timestamp("2026-01-01T00:00:00Z")`), "a@x.com", Denied,
			[]string{"`request.time < timestamp(\"2026-01-01T00:00:00Z\")` is false for request.time = 2026-05-01T10:00:00Z"}},
		{"or all false", mk(RoleTunnelResourceAccess, "user:a@x.com", `destination.port == 3389 || destination.port == 5432`), "a@x.com", Denied,
			[]string{"`destination.port == 3389` is false for destination.port = 22", "`destination.port == 5432` is false for destination.port = 22"}},
		{"negation", mk(RoleTunnelResourceAccess, "user:a@x.com", `!(destination.port == 22 || destination.port == 23)`), "a@x.com", Denied,
			[]string{"`destination.port == 22` is true for destination.port = 22"}},
		{"nested and", mk(RoleTunnelResourceAccess, "user:a@x.com", `destination.port == 22 && (destination.ip == "1.2.3.4" && request.time > timestamp("2020-01-01T00:00:00Z"))`), "a@x.com", Denied,
			[]string{"`destination.ip == \"1.2.3.4\"` is false for destination.ip = \"10.0.0.9\""}},
		{"condition error", mk(RoleTunnelResourceAccess, "user:a@x.com", `destination.bogus == 1`), "a@x.com", Denied, nil},
		{"owner", mk(RoleOwner, "user:a@x.com", ""), "a@x.com", Granted, nil},
		{"editor lacks tunnel", mk(RoleEditor, "user:a@x.com", ""), "a@x.com", Denied, nil},
		{"custom role", mk("projects/p/roles/tunnel", "user:a@x.com", ""), "a@x.com", Unknown, nil},
		{"allUsers", mk(RoleTunnelResourceAccess, "allUsers", ""), "z@y.com", Granted, nil},
		{"allAuthenticatedUsers", mk(RoleTunnelResourceAccess, "allAuthenticatedUsers", ""), "z@y.com", Granted, nil},
		{"domain", mk(RoleTunnelResourceAccess, "domain:X.com", ""), "z@x.com", Granted, nil},
		{"other domain", mk(RoleTunnelResourceAccess, "domain:x.com", ""), "z@y.com", Denied, nil},
		{"service account", mk(RoleTunnelResourceAccess, "serviceAccount:ci@p.iam.gserviceaccount.com", ""), "serviceAccount:ci@p.iam.gserviceaccount.com", Granted, nil},
		{"user is not service account", mk(RoleTunnelResourceAccess, "serviceAccount:ci@p.iam.gserviceaccount.com", ""), "ci@p.iam.gserviceaccount.com", Denied, nil},
		{"empty policy", &Policy{}, "a@x.com", Denied, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Simulate(tt.p, tt.member, PermTunnelAccess, Request{DestinationPort: 22, DestinationIP: "10.0.0.9", Time: now})
			if res.Verdict != tt.want {
				t.Fatalf("verdict %v, want %v: %s / %+v", res.Verdict, tt.want, res.Summary, res.Bindings)
			}
			if tt.clauses != nil {
				var got []string
				for _, c := range res.Bindings[0].FailingClauses {
					got = append(got, c.String())
				}
				if strings.Join(got, "\n") != strings.Join(tt.clauses, "\n") {
					t.Fatalf("clauses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.clauses, "\n"))
				}
			}
			if res.Summary == "" {
				t.Error("no summary")
			}
			for _, b := range res.Bindings {
				if b.Explanation == "" {
					t.Errorf("binding %d has no explanation", b.Index)
				}
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, name := range []string{"port22.json", "accesslevel.json", "web.yaml", "malformed-member.json", "malformed-quotes.json"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		res := Simulate(p, "user:a@example.com", PermTunnelAccess, Request{DestinationPort: 22})
		if res.Verdict == Granted {
			granted := false
			for _, b := range res.Bindings {
				granted = granted || b.Verdict == Granted
			}
			if !granted {
				t.Fatal("granted without a granting binding")
			}
		}
	})
}
