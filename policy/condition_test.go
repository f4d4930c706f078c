package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEvalCondition(t *testing.T) {
	noon := time.Date(2026, 3, 4, 12, 30, 0, 0, time.UTC)
	base := Request{DestinationPort: 22, DestinationIP: "10.0.0.1", Time: noon,
		AccessLevels: []string{"accessPolicies/123/accessLevels/corp"}, Host: "app.example.com", Path: "/admin/x"}
	tests := []struct {
		name string
		expr string
		mod  func(*Request)
		want bool
	}{
		{"port 22 granted", `destination.port == 22`, nil, true},
		{"port 22 only, asked 3389", `destination.port == 22`, func(r *Request) { r.DestinationPort = 3389 }, false},
		{"ip and port", `destination.ip == "10.0.0.1" && destination.port == 22`, nil, true},
		{"ip differs", `destination.ip == "10.0.0.1" && destination.port == 22`, func(r *Request) { r.DestinationIP = "10.0.0.2" }, false},
		{"access level", `"accessPolicies/123/accessLevels/corp" in request.auth.access_levels && destination.port == 22`, nil, true},
		{"access level missing", `"accessPolicies/123/accessLevels/corp" in request.auth.access_levels`, func(r *Request) { r.AccessLevels = nil }, false},
		{"expiry in future", `request.time < timestamp("2027-01-01T00:00:00Z")`, nil, true},
		{"expired", `request.time < timestamp("2026-01-01T00:00:00Z")`, nil, false},
		{"office hours", `request.time.getHours("Europe/Berlin") >= 9 && request.time.getHours("Europe/Berlin") < 17`, nil, true},
		{"weekday", `request.time.getDayOfWeek() >= 1 && request.time.getDayOfWeek() <= 5`, nil, true},
		{"path prefix", `request.path.startsWith("/")`, nil, true},
		{"path admin", `request.path.startsWith("/admin")`, func(r *Request) { r.Path = "/public" }, false},
		{"host suffix", `request.host.endsWith(".example.com")`, nil, true},
		{"port range", `destination.port >= 8000 && destination.port <= 8100`, func(r *Request) { r.DestinationPort = 8080 }, true},
		{"in ip range", `inIpRange(destination.ip, "10.0.0.0/8")`, nil, true},
		{"outside ip range", `inIpRange(destination.ip, "192.168.0.0/16")`, nil, false},
		{"empty ip not in range", `inIpRange(destination.ip, "0.0.0.0/0")`, func(r *Request) { r.DestinationIP = "" }, false},
		{"extract", `"projects/p/zones/us-east1-b/instances/vm".extract("/zones/{z}/") == "us-east1-b"`, nil, true},
		{"matches", `destination.ip.matches("^10\\.")`, nil, true},
		{"or", `destination.port == 3389 || destination.port == 22`, nil, true},
		{"not", `!(destination.port == 22)`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			if tt.mod != nil {
				tt.mod(&r)
			}
			got, err := EvalCondition(tt.expr, r)
			if err != nil {
				t.Fatalf("EvalCondition(%q): %v", tt.expr, err)
			}
			if got != tt.want {
				t.Fatalf("EvalCondition(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvalConditionErrors(t *testing.T) {
	tests := []struct {
		name, expr   string
		compile      bool
		line, column int
		contains     string
	}{
		{"undeclared", `destination.prot == 22`, true, 1, 12, "undeclared"},
		{"syntax", `destination.port == `, true, 1, 21, ""},
		{"second line", "destination.port == 22 &&\n  foo", true, 2, 3, "undeclared"},
		{"not bool", `destination.port + 1`, true, 0, 0, "bool"},
		{"type mismatch", `destination.port == "22"`, true, 1, 18, "no matching overload"},
		{"empty", `   `, true, 0, 0, "empty"},
		{"bad timestamp", `request.time < timestamp("yesterday")`, false, 0, 0, "timestamp"},
		{"bad cidr", `inIpRange(destination.ip, "10.0.0.0/99")`, false, 0, 0, "IP range"},
		{"bad extract template", `"a".extract("x") == ""`, false, 0, 0, "placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := EvalCondition(tt.expr, Request{DestinationIP: "10.0.0.1"})
			if err == nil || ok {
				t.Fatalf("EvalCondition(%q) = %v, %v; want an error", tt.expr, ok, err)
			}
			var ce *CompileError
			if errors.As(err, &ce) != tt.compile {
				t.Fatalf("compile error = %v, want %v: %v", !tt.compile, tt.compile, err)
			}
			if tt.compile && tt.line > 0 && (ce.Line != tt.line || ce.Column != tt.column) {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ce.Line, ce.Column, tt.line, tt.column, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func TestEvalConditionCachesPrograms(t *testing.T) {
	expr := `destination.port == 4242`
	if _, err := EvalCondition(expr, Request{}); err != nil {
		t.Fatal(err)
	}
	cacheMu.Lock()
	_, ok := cache[expr]
	cacheMu.Unlock()
	if !ok {
		t.Fatal("compiled program not cached")
	}
}

func TestEvalConditionTooLong(t *testing.T) {
	expr := strings.Repeat("destination.port == 1 || ", MaxExpressionLength/20) + "true"
	if _, err := EvalCondition(expr, Request{}); err == nil {
		t.Fatal("an expression longer than IAM's limit compiled")
	}
}

func TestExtract(t *testing.T) {
	tests := []struct{ s, tmpl, want string }{
		{"projects/p/buckets/b/objects/dir/file", "/objects/{name}", "dir/file"},
		{"projects/p/zones/z1/instances/i", "/zones/{zone}/", "z1"},
		{"projects/p", "/zones/{zone}/", ""},
		{"projects/p/zones/z1", "/zones/{zone}/", ""},
	}
	for _, tt := range tests {
		got, err := Extract(tt.s, tt.tmpl)
		if err != nil || got != tt.want {
			t.Errorf("Extract(%q, %q) = %q, %v; want %q", tt.s, tt.tmpl, got, err, tt.want)
		}
	}
}

func FuzzEvalCondition(f *testing.F) {
	for _, s := range []string{
		`destination.port == 22`,
		`destination.ip == "10.0.0.1" && destination.port == 22`,
		`request.path.startsWith("/")`,
		`request.time < timestamp("2026-01-01T00:00:00Z")`,
		`"accessPolicies/1/accessLevels/x" in request.auth.access_levels`,
		`inIpRange(destination.ip, "10.0.0.0/8")`,
		`request.host.extract("{x}.example.com") == "a"`,
		`[1,2,3].all(x, x > 0)`,
		`((((`,
		"\x00",
	} {
		f.Add(s, 22, "10.0.0.1", "/a")
	}
	f.Fuzz(func(t *testing.T, expr string, port int, ip, path string) {
		r := Request{DestinationPort: port, DestinationIP: ip, Path: path, Host: ip,
			Time: time.Unix(1700000000, 0), AccessLevels: []string{ip}}
		ok, err := EvalCondition(expr, r)
		if err != nil && ok {
			t.Fatalf("granted with an error: %v", err)
		}
		_ = Explain(expr, r)
		_ = LintCondition(expr)
	})
}
