package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/auth"
	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/policy"
	"iapterm/projects"
	"iapterm/tunnel"
)

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

func TestCredentialsCheck(t *testing.T) {
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		id   Identity
		mark Mark
		want string
	}{
		{"not signed in", Identity{}, Failed, "not signed in"},
		{"resolve error", Identity{Err: errors.New("no credentials found")}, Failed, "no credentials found"},
		{"token error", Identity{Email: "a@x.com", Source: "adc", Tokens: tokenFunc(func() (*oauth2.Token, error) { return nil, errors.New("invalid_grant") })}, Failed, "invalid_grant"},
		{"ok", Identity{Email: "a@x.com", Source: "adc", Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x", Expiry: future})}, OK, "a@x.com (adc)"},
		{"missing scope", Identity{Email: "a@x.com", Source: "adc", Tokens: oauth2.StaticTokenSource((&oauth2.Token{AccessToken: "x"}).WithExtra(map[string]any{"scope": "openid email"}))}, Failed, "lacks the cloud-platform scope"},
		{"unknown email", Identity{Source: "env", Tokens: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})}, Warning, "unknown account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := (&Doctor{Identity: tt.id}).checkCredentials(context.Background())
			if c.Mark != tt.mark || !strings.Contains(c.Summary+strings.Join(c.Details, " "), tt.want) {
				t.Fatalf("%+v", c)
			}
			if c.Mark == Failed && c.Fix == "" {
				t.Fatal("failed without a fix")
			}
		})
	}
}

func TestExplainProbe(t *testing.T) {
	target := Target{Project: "p", Zone: "z", Instance: "vm", Port: 22}
	tt := tunnel.Target{Project: "p", Zone: "z", Instance: "vm", Port: 22}
	rep := func(iap, fw Mark) *Report {
		return &Report{Checks: []Check{{ID: CheckIAP, Mark: iap, Fix: "grant-cmd"}, {ID: CheckFirewall, Mark: fw, Fix: "fw-cmd"}}}
	}
	tests := []struct {
		name      string
		err       error
		rep       *Report
		want, fix string
	}{
		{"403 with permission: proxy", &tunnel.HandshakeError{Status: 403, Target: tt}, rep(OK, OK), "proxy", "WebSocket"},
		{"403 without permission", &tunnel.HandshakeError{Status: 403, Target: tt}, rep(Failed, OK), "not authorized", "grant-cmd"},
		{"401", &tunnel.HandshakeError{Status: 401, Target: tt}, rep(OK, OK), "401", "iapterm auth login"},
		{"4003 firewall", &tunnel.CloseError{Code: 4003, Target: tt}, rep(OK, Failed), "firewall blocks", "fw-cmd"},
		{"4003 nothing listening", &tunnel.CloseError{Code: 4003, Target: tt}, rep(OK, OK), "nothing answers on port 22", "listens on port 22"},
		{"4003 nothing listening on Windows", &tunnel.CloseError{Code: 4003, Target: tt}, &Report{windows: true, Checks: []Check{{ID: CheckIAP, Mark: OK}, {ID: CheckFirewall, Mark: OK}}}, "nothing answers on port 22", "Get-NetTCPConnection -State Listen -LocalPort 22"},
		{"4033", &tunnel.CloseError{Code: 4033, Target: tt}, rep(Failed, OK), "4033", "grant-cmd"},
		{"4033 although the grant was seen", &tunnel.CloseError{Code: 4033, Target: tt}, &Report{Checks: []Check{{ID: CheckIAP, Mark: OK}}}, "4033", "roles/iap.tunnelResourceAccessor that covers port 22 of this VM"},
		{"4047", &tunnel.CloseError{Code: 4047, Target: tt}, rep(OK, OK), "did not find the instance", ""},
		{"timeout", tunnel.ErrConnectTimeout, rep(OK, OK), "timed out", "proxy"},
		{"other", errors.New("boom"), rep(OK, OK), "boom", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, f := explainProbe(tc.err, target, tc.rep)
			if !strings.Contains(s, tc.want) || !strings.Contains(f, tc.fix) {
				t.Fatalf("got %q / %q", s, f)
			}
		})
	}
}

func TestPlanFirewallFix(t *testing.T) {
	inst := &projects.Instance{Project: "svc", Zone: "z", Name: "vm",
		Network: "https://www.googleapis.com/compute/v1/projects/host/global/networks/shared", Tags: []string{"a", "b"}}
	fix := PlanFirewallFix(inst, 3389, []projects.Firewall{{Name: FirewallRuleName}}, &policy.FirewallRule{Name: "deny", Priority: 500})
	want := "gcloud compute firewall-rules create allow-ingress-from-iap-3389 --network=shared --direction=INGRESS --action=allow --rules=tcp:3389 --source-ranges=35.235.240.0/20 --target-tags=a,b --priority=499 --project=host"
	if fix.Command != want {
		t.Fatalf("command:\n%s\nwant:\n%s", fix.Command, want)
	}
	if fix.Project != "host" || fix.Rule.Priority != 499 || fix.Rule.Network != "projects/host/global/networks/shared" || fix.Rule.Allowed[0].Ports[0] != "3389" {
		t.Fatalf("rule: %+v", fix)
	}
	plain := PlanFirewallFix(&projects.Instance{Project: "p"}, 22, nil, nil)
	if plain.Command != "gcloud compute firewall-rules create allow-ingress-from-iap --network=default --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20 --project=p" {
		t.Fatalf("plain: %s", plain.Command)
	}
}

func TestMetaBool(t *testing.T) {
	tests := []struct {
		inst, proj map[string]string
		want, set  bool
	}{
		{nil, nil, false, false},
		{nil, map[string]string{"k": "TRUE"}, true, true},
		{map[string]string{"k": "false"}, map[string]string{"k": "TRUE"}, false, true},
		{map[string]string{"k": "1"}, nil, true, true},
		{map[string]string{"k": "yes"}, nil, false, true},
	}
	for _, tt := range tests {
		v, set := metaBool(tt.inst, tt.proj, "k")
		if v != tt.want || set != tt.set {
			t.Errorf("metaBool(%v, %v) = %v, %v", tt.inst, tt.proj, v, set)
		}
	}
}

func TestGroupBindingIsConfirmedByIAP(t *testing.T) {
	w := healthyWorld(t)
	w.Groups = map[string][]string{"admins@example.com": {alice}}
	w.Projects[0].IAM[3].Members = []string{"group:admins@example.com"}
	r := run(t, w, 22, nil)
	expect(t, r, CheckIAP, OK, "through a group", "")
	// Without IAP's confirmation the group cannot be told.
	w = healthyWorld(t)
	w.Groups = map[string][]string{"admins@example.com": {"bob@example.com"}}
	w.Projects[0].IAM[3].Members = []string{"group:admins@example.com"}
	r = run(t, w, 22, nil)
	expect(t, r, CheckIAP, Warning, "cannot tell", "")
	if c := r.Check(CheckIAP); !strings.Contains(strings.Join(c.Details, "\n"), "cannot tell whether user:alice@example.com is in group:admins@example.com") {
		t.Fatalf("details:\n%s", dump(r))
	}
}

func TestAccessLevelIsAnUnverifiableRequirement(t *testing.T) {
	level := "accessPolicies/1234/accessLevels/corp"
	w := healthyWorld(t)
	conditional(w, `"`+level+`" in request.auth.access_levels && destination.port == 22`)
	r := run(t, w, 22, nil)
	expect(t, r, CheckIAP, Warning, "only from a device that satisfies "+level, "")
	if c := r.Check(CheckIAP); !strings.Contains(strings.Join(c.Details, "\n"), "requires access level "+level) {
		t.Fatalf("details:\n%s", dump(r))
	}
	// Declared with --access-level: the local evaluation grants it.
	w = healthyWorld(t)
	conditional(w, `"`+level+`" in request.auth.access_levels && destination.port == 22`)
	r = run(t, w, 22, func(d *Doctor) { d.AccessLevels = []string{level} })
	expect(t, r, CheckIAP, OK, "", "")
}

func TestPolicyUnreadableFallsBackToTestIamPermissions(t *testing.T) {
	w := healthyWorld(t)
	// The tunnel grant sits on the IAP tunnel resource, and alice cannot
	// read any policy.
	w.Projects[0].IAM = []world.Binding{
		{Role: policy.RoleOSAdminLogin, Members: []string{"user:" + alice}},
		{Role: policy.RoleServiceAccountUser, Members: []string{"user:" + alice}},
		{Role: "roles/compute.viewer", Members: []string{"user:" + alice}},
	}
	w.Projects[0].IAPTunnelIAM = []world.Binding{{Role: policy.RoleTunnelResourceAccess, Members: []string{"user:" + alice}}}
	r := run(t, w, 22, nil)
	expect(t, r, CheckIAP, OK, "holds iap.tunnelInstances.accessViaIAP", "")
	if c := r.Check(CheckIAP); !strings.Contains(strings.Join(c.Details, "\n"), "conditions") {
		t.Fatalf("no caveat about conditions:\n%s", dump(r))
	}
}

func TestHTTP403WithPermissionSuggestsProxy(t *testing.T) {
	// A relay that refuses the upgrade although IAM allows it behaves like
	// a proxy that blocks WebSockets.
	w := healthyWorld(t)
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	d.Prober = proberFunc(func(ctx context.Context, tt tunnel.Target) error {
		return &tunnel.HandshakeError{Status: 403, Target: tt}
	})
	r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckTransport, Failed, "proxy", "WebSocket")
}

type proberFunc func(ctx context.Context, t tunnel.Target) error

func (f proberFunc) Probe(ctx context.Context, t tunnel.Target) error { return f(ctx, t) }

func TestRelayUnreachable(t *testing.T) {
	w := healthyWorld(t)
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	d.Relay = TCPRelayChecker{Relay: "ws://127.0.0.1:1/v4/"}
	r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckTransport, Failed, "cannot reach the relay", "HTTPS_PROXY")
}

// A rejected IAPTERM_ACCESS_TOKEN is not fixed by signing in: the variable
// comes first, so the fix says to replace or unset it. Which source failed
// is the identity's Source, not words in the error's message.
func TestRejectedEnvTokenFix(t *testing.T) {
	rejected := fmt.Errorf("the token was rejected: %w", auth.ErrSignInExpired)
	c := (&Doctor{Identity: Identity{Err: rejected, Source: auth.SourceEnv}}).checkCredentials(context.Background())
	if c.Mark != Failed || !strings.Contains(c.Fix, "set IAPTERM_ACCESS_TOKEN to a fresh token") || !strings.Contains(c.Fix, "unset it") {
		t.Fatalf("%+v", c)
	}
	// A message that mentions the variable does not make it the source.
	mentions := fmt.Errorf("stored sign-in (%s is not set): %w", auth.EnvAccessToken, auth.ErrSignInExpired)
	c = (&Doctor{Identity: Identity{Err: mentions, Source: auth.SourceSignIn}}).checkCredentials(context.Background())
	if c.Fix != "iapterm auth login" {
		t.Fatalf("expired sign-in: %+v", c)
	}
}

// Every mark, [skipped] and [warning] included, leaves the titles and
// summaries in one column, and details and fixes start under the summary.
func TestPrintAlignsColumns(t *testing.T) {
	r := &Report{Instance: "vm", Project: "p", Zone: "z", Port: 22, Checks: []Check{
		{Title: "Credentials", Mark: OK, Summary: "a@x.com"},
		{Title: "Instance", Mark: Failed, Summary: "stopped", Details: []string{"detail"}, Fix: "fix-cmd"},
		{Title: "Firewall", Mark: Warning, Summary: "cannot read"},
		{Title: "SSH prerequisites", Mark: Skipped, Summary: "port 3389 is not SSH"},
	}}
	var b strings.Builder
	r.Print(&b)
	lines := strings.Split(b.String(), "\n")
	col := func(line, word string) int { return strings.Index(line, word) }
	title, summary := col(lines[1], "Credentials"), col(lines[1], "a@x.com")
	for _, l := range lines[1 : len(lines)-2] {
		switch {
		case strings.HasPrefix(l, "["):
			fields := strings.SplitN(l, "]", 2)
			rest := strings.TrimLeft(fields[1], " ")
			if at := len(l) - len(rest); at != title {
				t.Errorf("title at column %d, want %d: %q", at, title, l)
			}
		default:
			if at := len(l) - len(strings.TrimLeft(l, " ")); at != summary {
				t.Errorf("detail at column %d, want %d: %q", at, summary, l)
			}
		}
	}
	if !strings.Contains(b.String(), "[skipped] SSH prerequisites  port 3389") {
		t.Errorf("skipped line:\n%s", b.String())
	}
}
