package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"FOO.com", "foo.com"},
		{"foo.com.", "foo.com"},
		{"foo.com..", "foo.com"},
		{"café.fr", "xn--caf-dma.fr"},
		{"CAFÉ.fr", "xn--caf-dma.fr"},
		{"app.example.com:443", "app.example.com"},
	}
	for _, tt := range tests {
		got, err := NormalizeHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := NormalizeHost("..."); err == nil {
		t.Error("NormalizeHost(\"...\") succeeded")
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/internal;some_param/admin", "/internal/admin"},
		{"/a/../b", "/b"},
		{"/bar;param1/baz;baz;param2", "/bar/baz"},
		{"/a/./b/", "/a/b/"},
		{"/a/b/..", "/a/"},
		{"/../../x", "/x"},
		{"/x?q=/../y", "/x"},
		{"", "/"},
		{"/", "/"},
	}
	for _, tt := range tests {
		got, err := NormalizePath(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"/..;bar/", "/bar/..;/"} {
		_, err := NormalizePath(bad)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 400 {
			t.Errorf("NormalizePath(%q) error = %v, want HTTP 400", bad, err)
		}
	}
}

func TestEvalWebCondition(t *testing.T) {
	tests := []struct {
		name, expr, host, path string
		want                   bool
		status                 int
	}{
		{"docs example", `request.path.startsWith("/")`, "app.example.com", "/x", true, 0},
		{"param hides admin from raw check", `!request.path.startsWith("/internal/admin")`, "h.com", "/internal;some_param/admin", false, 0},
		{"dotdot hides admin", `!request.path.startsWith("/admin")`, "h.com", "/public/../admin", false, 0},
		{"raw must pass too", `request.path == "/b"`, "h.com", "/a/../b", false, 0},
		{"plain allowed", `request.path.startsWith("/public")`, "h.com", "/public/x", true, 0},
		{"host normalised", `request.host == "foo.com"`, "FOO.com.", "/", true, 0},
		{"idna host", `request.host == "xn--caf-dma.fr"`, "café.fr", "/", true, 0},
		{"dotdot-semicolon rejected", `true`, "h.com", "/..;bar/", false, 400},
		{"dotdot-semicolon later rejected", `true`, "h.com", "/bar/..;/", false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EvalWebCondition(tt.expr, Request{Host: tt.host, Path: tt.path, Time: time.Now()})
			var he *HTTPError
			if tt.status != 0 {
				if !errors.As(err, &he) || he.Status != tt.status {
					t.Fatalf("error = %v, want HTTP %d", err, tt.status)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestLintCondition(t *testing.T) {
	w := LintCondition(`request.host.endsWith("google.com")`)
	if len(w) != 1 || !strings.Contains(w[0], "testgoogle.com") || !strings.Contains(w[0], `".google.com"`) || !strings.Contains(w[0], "no longer matches") {
		t.Fatalf("endsWith warning: %v", w)
	}
	if w := LintCondition(`request.host.endsWith(".google.com")`); len(w) != 0 {
		t.Fatalf("dotted suffix warned: %v", w)
	}
	w = LintCondition(`request.path.startsWith("/internal admin")`)
	if len(w) != 1 || !strings.Contains(w[0], "/internal%20admin") {
		t.Fatalf("space warning: %v", w)
	}
	if w := LintCondition(`request.path.startsWith("/internal")`); len(w) != 0 {
		t.Fatalf("plain path warned: %v", w)
	}
	if w := LintCondition(`request.host == "FOO.com"`); len(w) != 1 || !strings.Contains(w[0], `"foo.com"`) {
		t.Fatalf("uppercase host: %v", w)
	}
	// The bypass the warning describes is real.
	expr := `!request.path.startsWith("/internal admin")`
	if ok, _ := EvalWebCondition(expr, Request{Host: "h.com", Path: "/internal%20admin"}); !ok {
		t.Fatal("expected the encoded path to slip past the check")
	}
}

func TestMergeReauthWorkedExample(t *testing.T) {
	var levels []ReauthSettings
	for _, f := range []struct{ name, file string }{{"organization", "reauth-org.yaml"}, {"folder", "reauth-folder.json"}, {"service", "reauth-service.yaml"}} {
		data, err := os.ReadFile("testdata/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseReauth(data)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		s.Level = f.name
		levels = append(levels, s)
	}
	eff, err := MergeReauth(levels)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ method, age, typ string }{
		{ReauthEnrolledSecondFactors, "3600s", ReauthMinimum},
		{ReauthEnrolledSecondFactors, "1200s", ReauthMinimum},
		{ReauthSecureKey, "1200s", ReauthMinimum},
	}
	for i, w := range want {
		e := eff[i]
		if e.Method != w.method || e.MaxAgeText != w.age || e.PolicyType != w.typ {
			t.Errorf("%s = %s, want %s %s %s", e.Level, e, w.method, w.age, w.typ)
		}
	}
	if eff[2].MaxAge != 1200*time.Second {
		t.Errorf("MaxAge = %v", eff[2].MaxAge)
	}
}

func TestMergeReauth(t *testing.T) {
	def := func(m, age string) ReauthSettings {
		return ReauthSettings{Method: m, MaxAge: age, PolicyType: ReauthDefault}
	}
	tests := []struct {
		name   string
		levels []ReauthSettings
		want   string // last level: method age type
		err    string
	}{
		{"all default: service stands", []ReauthSettings{def("SECURE_KEY", "600s"), def("ENROLLED_SECOND_FACTORS", "1200s"), def("LOGIN", "7200s")}, "LOGIN 7200s DEFAULT", ""},
		{"service inherits when unset", []ReauthSettings{def("SECURE_KEY", "600s"), {}}, "SECURE_KEY 600s DEFAULT", ""},
		{"minimum keeps stronger parent method", []ReauthSettings{{Method: "SECURE_KEY", MaxAge: "3600s", PolicyType: "MINIMUM"}, def("LOGIN", "600s")}, "SECURE_KEY 600s MINIMUM", ""},
		{"no settings anywhere", []ReauthSettings{{}, {}}, "  ", ""},
		{"too short", []ReauthSettings{def("LOGIN", "299s")}, "", "300s"},
		{"bad method", []ReauthSettings{def("PASSWORD", "600s")}, "", "method"},
		{"bad type", []ReauthSettings{{Method: "LOGIN", MaxAge: "600s", PolicyType: "STRICT"}}, "", "policyType"},
		{"missing maxAge", []ReauthSettings{{Method: "LOGIN"}}, "", "maxAge"},
		{"bad maxAge", []ReauthSettings{def("LOGIN", "soon")}, "", "maxAge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eff, err := MergeReauth(tt.levels)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			last := eff[len(eff)-1]
			if got := last.Method + " " + last.MaxAgeText + " " + last.PolicyType; got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseReauthForms(t *testing.T) {
	for _, in := range []string{
		"reauthSettings:\n  method: LOGIN\n  maxAge: 600s\n",
		"method: LOGIN\nmaxAge: 600s\n",
		`{"method":"LOGIN","maxAge":"600s"}`,
	} {
		s, err := ParseReauth([]byte(in))
		if err != nil || s.Method != "LOGIN" || s.MaxAge != "600s" {
			t.Errorf("ParseReauth(%q) = %+v, %v", in, s, err)
		}
	}
	if _, err := ParseReauth([]byte(`{"method": LOGIN}`)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed JSON: %v", err)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/a/../b", "/internal;p/admin", "/..;x/", "//a//b/..", "/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, err := NormalizePath(p)
		if err != nil {
			return
		}
		if !strings.HasPrefix(n, "/") || strings.Contains(n, ";") {
			t.Fatalf("NormalizePath(%q) = %q", p, n)
		}
		for _, seg := range strings.Split(n, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("NormalizePath(%q) = %q keeps a relative segment", p, n)
			}
		}
	})
}

func TestSimulateWeb(t *testing.T) {
	p, err := ParsePolicy([]byte(`bindings:
- role: roles/iap.httpsResourceAccessor
  members: [user:alice@example.com]
  condition:
    title: not admin
    expression: '!request.path.startsWith("/admin") && request.host == "app.example.com"'
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, path string
		want             Verdict
		inSummary        string
	}{
		{"public", "APP.example.com.", "/public/x", Granted, "through binding 1"},
		{"admin", "app.example.com", "/admin", Denied, "no binding grants it"},
		{"dotdot reaches admin", "app.example.com", "/public/../admin", Denied, `normalised form "/admin" does not`},
		{"param reaches admin", "app.example.com", "/admin;x", Denied, "no binding grants it"},
		{"other host", "other.example.com", "/public", Denied, "no binding grants it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := SimulateWeb(p, "alice@example.com", PermWebAccess, Request{Host: tt.host, Path: tt.path}, SimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.want || !strings.Contains(res.Summary, tt.inSummary) {
				t.Fatalf("verdict %v, summary %q; want %v and %q", res.Verdict, res.Summary, tt.want, tt.inSummary)
			}
		})
	}
	var he *HTTPError
	if _, err := SimulateWeb(p, "alice@example.com", PermWebAccess, Request{Host: "app.example.com", Path: "/..;x/"}, SimOptions{}); !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("refused path: error %v, want HTTP 400", err)
	}
}

// IAP secures web apps: a URL of another scheme is refused, not simulated.
func TestParseURLSchemes(t *testing.T) {
	for _, ok := range []string{"https://app.example.com/a", "HTTP://app.example.com/"} {
		if _, _, err := ParseURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"ftp://app.example.com/x", "ssh://app.example.com"} {
		if _, _, err := ParseURL(bad); err == nil || !strings.Contains(err.Error(), "not an http or https URL") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
