package doctor

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/policy"
	"iapterm/projects"
	"iapterm/tunnel"
)

const (
	alice      = "alice@example.com"
	aliceToken = "tok-alice"
	proj       = "proj"
	zone       = "us-central1-a"
	vmSA       = "vm@proj.iam.gserviceaccount.com"
)

// backend is a loopback TCP server standing behind a VM port: it accepts
// connections and holds them until the test ends.
func backend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func prio(n int) *int { return &n }

// healthyWorld is a VM that passes every check on port 22 (and 3389).
func healthyWorld(t *testing.T) *world.World {
	addr := backend(t)
	return &world.World{
		Users: []world.User{{Email: alice, Token: aliceToken}},
		Projects: []world.Project{{
			ID:       proj,
			Metadata: map[string]string{"enable-oslogin": "TRUE"},
			IAM: []world.Binding{
				{Role: policy.RoleViewer, Members: []string{"user:" + alice}},
				{Role: policy.RoleOSAdminLogin, Members: []string{"user:" + alice}},
				{Role: policy.RoleServiceAccountUser, Members: []string{"user:" + alice}},
				{Role: policy.RoleTunnelResourceAccess, Members: []string{"user:" + alice}},
			},
			Firewalls: []world.Firewall{{
				Name: "allow-iap", SourceRanges: []string{policy.IAPSourceRange},
				Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22", "3389"}}},
			}},
			Instances: []world.Instance{{
				Name: "vm", Zone: zone, ServiceAccount: vmSA, Tags: []string{"web"},
				Backends: map[int]string{22: addr, 3389: addr},
			}},
		}},
	}
}

var closing sync.WaitGroup

func TestMain(m *testing.M) {
	code := m.Run()
	closing.Wait()
	os.Exit(code)
}

type emu struct {
	eps endpoint.Endpoints
}

// startEmulator serves w (control plane and relay) on loopback.
func startEmulator(t *testing.T, w *world.World, o emulator.Options) emu {
	t.Helper()
	s, err := emulator.Start(w, o)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	// Close waits up to 5 s for client connections that never sent a
	// request (the HTTP client's spare dials); close in the background and
	// let TestMain wait for all of them once.
	t.Cleanup(func() {
		closing.Add(1)
		go func() { defer closing.Done(); s.Close() }()
	})
	eps, err := endpoint.Parse(s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return emu{eps: eps}
}

func doctorFor(t *testing.T, e emu, email, token string) *Doctor {
	t.Helper()
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
	client, err := projects.NewClient(context.Background(), e.eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	return &Doctor{
		Cloud:    client,
		Identity: Identity{Email: email, Source: "test token", Tokens: ts},
		Prober:   &tunnel.Dialer{Endpoints: e.eps, Tokens: ts, ConnectTimeout: 20 * time.Second},
		Relay:    TCPRelayChecker{Relay: e.eps.Relay, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }},
		Timeout:  30 * time.Second,
	}
}

func run(t *testing.T, w *world.World, port int, mod func(*Doctor)) *Report {
	t.Helper()
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	if mod != nil {
		mod(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return d.Run(ctx, Target{Project: proj, Zone: zone, Instance: "vm", Port: port})
}

func dump(r *Report) string {
	var b strings.Builder
	r.Print(&b)
	return b.String()
}

func expect(t *testing.T, r *Report, id string, mark Mark, summary, fix string) {
	t.Helper()
	c := r.Check(id)
	if c == nil {
		t.Fatalf("no %s check:\n%s", id, dump(r))
	}
	if c.Mark != mark {
		t.Fatalf("%s is %s, want %s:\n%s", id, c.Mark, mark, dump(r))
	}
	if summary != "" && !strings.Contains(c.Summary, summary) {
		t.Fatalf("%s summary %q does not contain %q:\n%s", id, c.Summary, summary, dump(r))
	}
	if fix != "" && !strings.Contains(c.Fix, fix) {
		t.Fatalf("%s fix %q does not contain %q:\n%s", id, c.Fix, fix, dump(r))
	}
}

func TestHealthyVMPassesEveryCheck(t *testing.T) {
	r := run(t, healthyWorld(t), 22, nil)
	for _, c := range r.Checks {
		if c.Mark != OK {
			t.Fatalf("%s is %s:\n%s", c.ID, c.Mark, dump(r))
		}
	}
	if !r.CanConnect {
		t.Fatal("CanConnect false")
	}
	if len(r.Checks) != 6 {
		t.Fatalf("%d checks", len(r.Checks))
	}
}

func TestNoFirewallRule(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = nil
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, "implied deny",
		"gcloud compute firewall-rules create allow-ingress-from-iap --network=default --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20 --target-tags=web --project=proj")
	expect(t, r, CheckTransport, Failed, "4003", "firewall-rules create")
	if r.CanConnect {
		t.Fatal("CanConnect with no firewall rule")
	}
}

func TestFirewallRuleOnWrongPort(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls[0].Allowed = []world.Rule{{IPProtocol: "tcp", Ports: []string{"3389"}}}
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, "cannot reach tcp:22", "--rules=tcp:22")
	expect(t, r, CheckTransport, Failed, "4003", "")
}

// A rule for part of IAP's range lets some of IAP's addresses through and
// not others: the doctor says so, and the emulator refuses like the
// implied deny.
func TestFirewallRuleForPartOfIAPRange(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls[0].SourceRanges = []string{"35.235.240.0/24"}
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, "only part of 35.235.240.0/20", "--source-ranges=35.235.240.0/20")
	if c := r.Check(CheckFirewall); !strings.Contains(c.Summary, "blocked 35.235.241.0-35.235.255.255 (implied deny)") {
		t.Errorf("summary does not name the blocked part: %s", c.Summary)
	}
	expect(t, r, CheckTransport, Failed, "4003", "")
}

// A rule whose only source is a service account admits other VMs, never
// IAP: the doctor and the emulator's relay both see no rule for IAP.
func TestFirewallRuleFromServiceAccountOnly(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls[0].SourceRanges = nil
	w.Projects[0].Firewalls[0].SourceServiceAccounts = []string{"app@proj.iam.gserviceaccount.com"}
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, "implied deny", "--source-ranges=35.235.240.0/20")
	expect(t, r, CheckTransport, Failed, "4003", "")
}

func TestDenyAtHigherPriority(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = append(w.Projects[0].Firewalls, world.Firewall{
		Name: "deny-ssh", Priority: prio(900), SourceRanges: []string{"0.0.0.0/0"},
		Denied: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22"}}},
	})
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, `"deny-ssh" (priority 900) denies`, "--priority=899")
}

func TestMissingTunnelRole(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].IAM = w.Projects[0].IAM[:3]
	r := run(t, w, 22, nil)
	expect(t, r, CheckIAP, Failed, "lacks iap.tunnelInstances.accessViaIAP",
		"gcloud projects add-iam-policy-binding proj --member=user:alice@example.com --role=roles/iap.tunnelResourceAccessor")
	expect(t, r, CheckTransport, Failed, "4033", "roles/iap.tunnelResourceAccessor")
}

func TestMissingTunnelRoleDeniedBeforeUpgrade(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].IAM = w.Projects[0].IAM[:3]
	e := startEmulator(t, w, emulator.Options{DenyBeforeUpgrade: true})
	r := doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckTransport, Failed, "HTTP 403", "roles/iap.tunnelResourceAccessor")
}

func conditional(w *world.World, expr string) {
	w.Projects[0].IAM[3].Condition = &world.Condition{Title: "cond", Expression: expr}
}

func TestConditionOnPort22OnlyWithPort3389(t *testing.T) {
	w := healthyWorld(t)
	conditional(w, "destination.port == 22")
	r := run(t, w, 3389, nil)
	expect(t, r, CheckIAP, Failed, "`destination.port == 22` is false for destination.port = 3389", "")
	expect(t, r, CheckSSH, Skipped, "", "")
	expect(t, r, CheckTransport, Failed, "4033", "")
	// The same world on port 22 is fine.
	w2 := healthyWorld(t)
	conditional(w2, "destination.port == 22")
	r = run(t, w2, 22, nil)
	expect(t, r, CheckIAP, OK, "", "")
}

func TestConditionWithExpiredTime(t *testing.T) {
	w := healthyWorld(t)
	conditional(w, `request.time < timestamp("2020-01-01T00:00:00Z")`)
	r := run(t, w, 22, nil)
	expect(t, r, CheckIAP, Failed, "`request.time < timestamp(\"2020-01-01T00:00:00Z\")` is false", "")
	expect(t, r, CheckTransport, Failed, "4033", "")
}

func TestStoppedVM(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	r := run(t, w, 22, nil)
	expect(t, r, CheckInstance, Failed, "TERMINATED, not RUNNING", "gcloud compute instances start vm --zone=us-central1-a --project=proj")
	expect(t, r, CheckTransport, Skipped, "Instance check failed", "")
	// The alternative names the instance and port, ready to paste.
	w = healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	r = run(t, w, 3389, nil)
	expect(t, r, CheckInstance, Failed, "", "(or iapterm doctor proj/us-central1-a/vm --port 3389 --start)")
}

// The hint beside the start command depends on where the report is shown:
// the explorer from a shell, the panel's own key inside the explorer, and
// no place at all when the caller does not say.
func TestStoppedVMHintFollowsWhereShown(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	e := startEmulator(t, w, emulator.Options{})
	for _, tc := range []struct {
		shown     Surface
		want, not string
	}{
		{Anywhere, "", "explorer"},
		{CommandLine, "or start it from the explorer (iapterm ui)", "press s"},
		{Explorer, "or press s here to start it and check again", "iapterm ui"},
	} {
		d := doctorFor(t, e, alice, aliceToken)
		d.Shown = tc.shown
		r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
		expect(t, r, CheckInstance, Failed, "TERMINATED", "gcloud compute instances start vm")
		// Inside the explorer the fix is gcloud's alone: the panel's key
		// replaces iapterm doctor --start.
		if fix := r.Check(CheckInstance).Fix; strings.Contains(fix, "iapterm doctor") != (tc.shown != Explorer) {
			t.Errorf("shown %d: fix %q", tc.shown, fix)
		}
		details := strings.Join(r.Check(CheckInstance).Details, "\n")
		if !strings.Contains(details, tc.want) || strings.Contains(details, tc.not) {
			t.Errorf("shown %d: details want %q, not %q:\n%s", tc.shown, tc.want, tc.not, details)
		}
	}
}

func TestStartStartsAStoppedVM(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	w.Projects[0].IAM = append(w.Projects[0].IAM, world.Binding{Role: "roles/compute.instanceAdmin.v1", Members: []string{"user:" + alice}})
	r := run(t, w, 22, func(d *Doctor) { d.Starter, d.Start = d.Cloud.(*projects.Client), true })
	expect(t, r, CheckInstance, OK, "RUNNING", "")
	if c := r.Check(CheckInstance); !strings.Contains(strings.Join(c.Details, "\n"), "--start: started the instance (it was TERMINATED)") {
		t.Fatalf("details:\n%s", dump(r))
	}
	expect(t, r, CheckTransport, OK, "", "")
	// Without the permission the failure is explained and the command kept.
	w = healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	r = run(t, w, 22, func(d *Doctor) { d.Starter, d.Start = d.Cloud.(*projects.Client), true })
	expect(t, r, CheckInstance, Failed, "TERMINATED", "gcloud compute instances start vm")
	if c := r.Check(CheckInstance); !strings.Contains(strings.Join(c.Details, "\n"), "compute.instances.start") {
		t.Fatalf("details:\n%s", dump(r))
	}
}

func TestOSLoginWithoutRoles(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].IAM = []world.Binding{
		{Role: policy.RoleViewer, Members: []string{"user:" + alice}},
		{Role: policy.RoleTunnelResourceAccess, Members: []string{"user:" + alice}},
	}
	r := run(t, w, 22, nil)
	expect(t, r, CheckSSH, Failed, "OS Login is on but alice@example.com holds neither", "--role=roles/compute.osLogin")
	if c := r.Check(CheckSSH); !strings.Contains(c.Fix, "gcloud iam service-accounts add-iam-policy-binding "+vmSA) {
		t.Fatalf("no actAs fix for the VM's service account:\n%s", dump(r))
	}
}

func TestSecurityKeyOSLoginUnsupported(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Instances[0].Metadata = map[string]string{"enable-oslogin-sk": "true"}
	r := run(t, w, 22, nil)
	expect(t, r, CheckSSH, Failed, "does not support", "gcloud compute ssh vm")
}

func TestMetadataKeysWithoutPermission(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Metadata = nil
	r := run(t, w, 22, nil)
	expect(t, r, CheckSSH, Failed, "OS Login is off", "roles/compute.instanceAdmin.v1")
}

func sharedVPCWorld(t *testing.T, hostRule bool) *world.World {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = nil
	w.Projects[0].Instances[0].Network = "projects/host/global/networks/shared"
	host := world.Project{ID: "host", IAM: []world.Binding{{Role: policy.RoleViewer, Members: []string{"user:" + alice}}}}
	host.Instances = nil
	if hostRule {
		host.Firewalls = []world.Firewall{{Name: "iap", Network: "shared", SourceRanges: []string{policy.IAPSourceRange},
			Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22"}}}}}
	}
	w.Projects = append(w.Projects, host)
	return w
}

func TestSharedVPCNetworkInAnotherProject(t *testing.T) {
	r := run(t, sharedVPCWorld(t, false), 22, nil)
	expect(t, r, CheckFirewall, Failed, "", "--network=shared")
	expect(t, r, CheckFirewall, Failed, "", "--project=host")
	if c := r.Check(CheckFirewall); !strings.Contains(strings.Join(c.Details, "\n"), "host project host") {
		t.Fatalf("no shared-VPC note:\n%s", dump(r))
	}
	r = run(t, sharedVPCWorld(t, true), 22, nil)
	expect(t, r, CheckFirewall, OK, "", "")
	expect(t, r, CheckTransport, OK, "", "")
}

func TestSharedVPCFallsBackToTheHostProjectsRules(t *testing.T) {
	// The user may not call getEffectiveFirewalls on the VM, but may list
	// the host project's rules.
	w := sharedVPCWorld(t, false)
	w.Projects[0].IAM[0].Role = policy.RoleOSLogin
	w.Projects[1].IAM[0].Role = "roles/compute.securityAdmin"
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, "projects/host/global/networks/shared", "--network=shared --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20 --target-tags=web --project=host")
	if c := r.Check(CheckFirewall); !strings.Contains(strings.Join(c.Details, "\n"), "firewall rules of project host") {
		t.Fatalf("did not fall back to the host project's rules:\n%s", dump(r))
	}
	w = sharedVPCWorld(t, true)
	w.Projects[0].IAM[0].Role = policy.RoleOSLogin
	w.Projects[1].IAM[0].Role = "roles/compute.securityAdmin"
	r = run(t, w, 22, nil)
	expect(t, r, CheckFirewall, OK, `"iap"`, "")
}

func TestFixCreatesTheFirewallRule(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = nil
	w.Projects[0].IAM = append(w.Projects[0].IAM, world.Binding{Role: "roles/compute.securityAdmin", Members: []string{"user:" + alice}})
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: aliceToken})
	fc, err := NewComputeFirewallCreator(context.Background(), e.eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	d.Creator, d.Fix = fc, true
	r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckFirewall, OK, "created firewall rule allow-ingress-from-iap", "")
	expect(t, r, CheckTransport, OK, "", "")
	// A second run finds the rule in place.
	r = d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckFirewall, OK, `"allow-ingress-from-iap"`, "")
}

func TestFixWithoutPermissionKeepsTheCommand(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = nil
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	fc, err := NewComputeFirewallCreator(context.Background(), e.eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: aliceToken}))
	if err != nil {
		t.Fatal(err)
	}
	d.Creator, d.Fix = fc, true
	r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckFirewall, Failed, "", "gcloud compute firewall-rules create")
	if c := r.Check(CheckFirewall); !strings.Contains(strings.Join(c.Details, "\n"), "compute.firewalls.create") {
		t.Fatalf("no explanation of the failed --fix:\n%s", dump(r))
	}
}

func TestInstanceNotFound(t *testing.T) {
	e := startEmulator(t, healthyWorld(t), emulator.Options{})
	r := doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: proj, Instance: "nope", Port: 22})
	expect(t, r, CheckInstance, Failed, "not found", "gcloud compute instances list --project=proj")
	expect(t, r, CheckFirewall, Skipped, "", "")
	// A project that does not exist: the fix is about the project.
	r = doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: "no-such-project", Instance: "vm", Port: 22})
	expect(t, r, CheckInstance, Failed, "project no-such-project not found", `check the project ID "no-such-project": iapterm projects search lists`)
	// With the zone given too: the lookup of the instance answers 404, and
	// it is still the project that is missing.
	r = doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: "no-such-project", Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckInstance, Failed, "project no-such-project not found", `check the project ID "no-such-project"`)
	r = doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "nope", Port: 22})
	expect(t, r, CheckInstance, Failed, "instance nope not found", "gcloud compute instances list --project=proj")
}

func TestZoneIsFoundWhenOmitted(t *testing.T) {
	e := startEmulator(t, healthyWorld(t), emulator.Options{})
	r := doctorFor(t, e, alice, aliceToken).Run(context.Background(), Target{Project: proj, Instance: "vm", Port: 22})
	if r.Zone != zone || !r.CanConnect {
		t.Fatalf("zone %q:\n%s", r.Zone, dump(r))
	}
}

func TestFirewallsUnreadable(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].IAM[0].Role = policy.RoleOSLogin // no firewall or policy reads
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Warning, "cannot read the firewall rules", "")
	if c := r.Check(CheckFirewall); !strings.Contains(strings.Join(c.Details, "\n"), "gcloud compute firewall-rules create") {
		t.Fatalf("no command for an unreadable firewall:\n%s", dump(r))
	}
}

// A grant on the IAP tunnel resource with a condition on the port, which
// alice cannot read: testIamPermissions does not count it, but IAP lets
// the tunnel through, so the IAP check must not fail the report.
func TestUnreadableConditionalGrantAcceptedByIAP(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].IAM = []world.Binding{
		{Role: policy.RoleOSAdminLogin, Members: []string{"user:" + alice}},
		{Role: policy.RoleServiceAccountUser, Members: []string{"user:" + alice}},
		{Role: "roles/compute.viewer", Members: []string{"user:" + alice}},
	}
	w.Projects[0].IAPTunnelIAM = []world.Binding{{
		Role: policy.RoleTunnelResourceAccess, Members: []string{"user:" + alice},
		Condition: &world.Condition{Title: "ssh only", Expression: "destination.port == 22"},
	}}
	r := run(t, w, 22, nil)
	expect(t, r, CheckTransport, OK, "opened and closed a tunnel", "")
	expect(t, r, CheckIAP, Warning, "IAP accepted a tunnel to port 22", "")
	if c := r.Check(CheckIAP); c.Fix != "" {
		t.Fatalf("a fix for a permission that works: %q", c.Fix)
	}
	if !r.CanConnect {
		t.Fatalf("CanConnect false although the tunnel opened:\n%s", dump(r))
	}
	// The VM was found, so its project exists: an unreadable policy is a
	// missing permission, not possibly a mistyped project ID.
	details := strings.Join(r.Check(CheckIAP).Details, "\n")
	if !strings.Contains(details, "you lack permission resourcemanager.projects.getIamPolicy") || strings.Contains(details, "project ID is wrong") {
		t.Fatalf("IAP check details:\n%s", details)
	}
	// Port 3389 is refused by IAP: the check still fails.
	w2 := healthyWorld(t)
	w2.Projects[0].IAM = w.Projects[0].IAM
	w2.Projects[0].IAPTunnelIAM = w.Projects[0].IAPTunnelIAM
	r = run(t, w2, 3389, nil)
	expect(t, r, CheckIAP, Failed, "lacks iap.tunnelInstances.accessViaIAP", "roles/iap.tunnelResourceAccessor")
	expect(t, r, CheckTransport, Failed, "4033", "")
}

// A rule for part of the range and a DENY for another part: the proposed
// rule must come before the DENY, or it leaves that part blocked.
func TestPartialRangeWithDenyProposesAPriorityBeforeIt(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls[0].SourceRanges = []string{"35.235.240.0/21"}
	w.Projects[0].Firewalls = append(w.Projects[0].Firewalls, world.Firewall{
		Name: "deny-part", Priority: prio(900), SourceRanges: []string{"35.235.250.0/24"},
		Denied: []world.Rule{{IPProtocol: "all"}},
	})
	r := run(t, w, 22, nil)
	expect(t, r, CheckFirewall, Failed, `35.235.250.0-35.235.250.255 (rule "deny-part")`, "--priority=899")
}

// A rule named like the proposed one that targets other instances is not
// among the instance's effective rules, but its name is taken in the
// project: the proposal (and --fix) picks another name.
func TestFixNameAvoidsRulesOfOtherInstances(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = []world.Firewall{
		{Name: FirewallRuleName, SourceRanges: []string{policy.IAPSourceRange}, TargetTags: []string{"other"},
			Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22"}}}},
		{Name: FirewallRuleName + "-22", SourceRanges: []string{policy.IAPSourceRange}, TargetTags: []string{"other"},
			Allowed: []world.Rule{{IPProtocol: "tcp", Ports: []string{"22"}}}},
	}
	w.Projects[0].IAM = append(w.Projects[0].IAM, world.Binding{Role: "roles/compute.securityAdmin", Members: []string{"user:" + alice}})
	e := startEmulator(t, w, emulator.Options{})
	d := doctorFor(t, e, alice, aliceToken)
	r := d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckFirewall, Failed, "", "gcloud compute firewall-rules create "+FirewallRuleName+"-22-2 ")
	fc, err := NewComputeFirewallCreator(context.Background(), e.eps, d.Identity.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	d.Creator, d.Fix = fc, true
	r = d.Run(context.Background(), Target{Project: proj, Zone: zone, Instance: "vm", Port: 22})
	expect(t, r, CheckFirewall, OK, "created firewall rule "+FirewallRuleName+"-22-2", "")
	expect(t, r, CheckTransport, OK, "", "")
}

// Windows guests take SSH keys from metadata only and apply them when
// enable-windows-ssh is TRUE; OS Login does not apply to them.
func TestSSHToWindows(t *testing.T) {
	windows := func(meta map[string]string) *world.World {
		w := healthyWorld(t)
		w.Projects[0].IAM = append(w.Projects[0].IAM, world.Binding{Role: "roles/compute.instanceAdmin.v1", Members: []string{"user:" + alice}})
		w.Projects[0].Instances[0].OS = "windows"
		w.Projects[0].Instances[0].Metadata = meta
		return w
	}
	r := run(t, windows(nil), 22, nil)
	expect(t, r, CheckSSH, Warning, "enable-windows-ssh is not TRUE", "--metadata=enable-windows-ssh=TRUE")
	if c := r.Check(CheckSSH); strings.Contains(c.Summary, "OS Login") {
		t.Fatalf("OS Login judged for a Windows VM:\n%s", dump(r))
	}
	r = run(t, windows(map[string]string{"enable-windows-ssh": "TRUE"}), 22, nil)
	expect(t, r, CheckSSH, OK, "Windows, metadata SSH keys: alice@example.com has what SSH needs", "")
	// Without the right to publish a key, the reason is Windows, not OS Login.
	w := windows(map[string]string{"enable-windows-ssh": "TRUE"})
	w.Projects[0].IAM = w.Projects[0].IAM[:4]
	r = run(t, w, 22, nil)
	expect(t, r, CheckSSH, Failed, "Windows takes SSH keys from metadata only", "roles/compute.instanceAdmin.v1")
	if c := r.Check(CheckSSH); strings.Contains(c.Fix, "OS Login") {
		t.Fatalf("fix suggests OS Login for Windows:\n%s", dump(r))
	}
}

// --fix that cannot act says so instead of leaving the failure unexplained.
func TestFixThatCannotActSaysSo(t *testing.T) {
	w := healthyWorld(t)
	w.Projects[0].Firewalls = append(w.Projects[0].Firewalls, world.Firewall{
		Name: "deny-all", Priority: prio(0), SourceRanges: []string{"0.0.0.0/0"},
		Denied: []world.Rule{{IPProtocol: "tcp"}},
	})
	r := run(t, w, 22, func(d *Doctor) {
		d.Fix, d.Creator = true, firewallCreatorFunc(func() error { t.Fatal("created a rule that cannot work"); return nil })
	})
	if c := r.Check(CheckFirewall); c.Mark != Failed || !strings.Contains(strings.Join(c.Details, "\n"), `--fix did not create a rule: it could not come before "deny-all"`) {
		t.Fatalf("priority 0:\n%s", dump(r))
	}
	w = healthyWorld(t)
	w.Projects[0].Firewalls = nil
	r = run(t, w, 22, func(d *Doctor) { d.Fix = true })
	if c := r.Check(CheckFirewall); c.Mark != Failed || !strings.Contains(strings.Join(c.Details, "\n"), "--fix could not create the rule") {
		t.Fatalf("no creator:\n%s", dump(r))
	}
}

type firewallCreatorFunc func() error

func (f firewallCreatorFunc) CreateFirewall(context.Context, string, projects.Firewall) error {
	return f()
}

// A failed check says, as data, which repair the doctor can make (for the
// explorer's offers, which otherwise read the fix command's words): start
// or resume with the instance's project, a firewall rule with the
// network's project (the host project of a shared VPC); none when no
// repair can work (a DENY at priority 0) or once it is done.
func TestFailedChecksNameTheirRepair(t *testing.T) {
	repair := func(r *Report, id string) string {
		if c := r.Check(id); c != nil && c.Repair != nil {
			return c.Repair.Kind + " in " + c.Repair.Project
		}
		return ""
	}
	w := healthyWorld(t)
	w.Projects[0].Instances[0].Status = "TERMINATED"
	r := run(t, w, 22, nil)
	if got := repair(r, CheckInstance); got != "start in proj" {
		t.Errorf("stopped: %q", got)
	}
	w = healthyWorld(t)
	w.Projects[0].Instances[0].Status = "SUSPENDED"
	r = run(t, w, 22, nil)
	if got := repair(r, CheckInstance); got != "resume in proj" {
		t.Errorf("suspended: %q", got)
	}
	if got := repair(r, CheckFirewall); got != "" {
		t.Errorf("firewall in order: %q", got)
	}
	r = run(t, sharedVPCWorld(t, false), 22, nil)
	if got := repair(r, CheckFirewall); got != "create-firewall-rule in host" {
		t.Errorf("shared VPC: %q", got)
	}
	w = healthyWorld(t)
	w.Projects[0].Firewalls = append(w.Projects[0].Firewalls, world.Firewall{
		Name: "deny-all", Priority: prio(0), SourceRanges: []string{"0.0.0.0/0"},
		Denied: []world.Rule{{IPProtocol: "tcp"}},
	})
	r = run(t, w, 22, nil)
	if got := repair(r, CheckFirewall); got != "" {
		t.Errorf("deny at priority 0: %q", got)
	}
	w = healthyWorld(t)
	w.Projects[0].Firewalls = nil
	r = run(t, w, 22, func(d *Doctor) { d.Fix, d.Creator = true, firewallCreatorFunc(func() error { return nil }) })
	if c := r.Check(CheckFirewall); c.Mark != OK || c.Repair != nil {
		t.Errorf("after --fix: %+v", c)
	}
}
