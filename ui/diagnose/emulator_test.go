package diagnose

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/oauth2"

	"iapterm/doctor"
	"iapterm/emulator"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/projects"
	"iapterm/tunnel"
	"iapterm/ui/backend"
	"iapterm/ui/common"
	"iapterm/ui/panel/paneltest"
)

// demoDoctor is the real doctor against the demo world of an in-process
// emulator, as the explorer wires it.
func demoDoctor(t *testing.T) (*projects.Client, backend.Doctor) {
	t.Helper()
	srv, err := emulator.Start(world.Demo(), emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Shutdown waits for its grace period; nothing here depends on it.
	t.Cleanup(func() { go srv.Close() })
	eps, err := endpoint.Parse(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	email := srv.Cloud().DefaultUser().Email
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token(), TokenType: "Bearer"})
	client, err := projects.NewClient(ctx, eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	creator, err := doctor.NewComputeFirewallCreator(ctx, eps, ts)
	if err != nil {
		t.Fatal(err)
	}
	return client, backend.Doctor{Cloud: client, Identity: doctor.Identity{Email: email, Source: "test", Tokens: ts},
		Prober: &tunnel.Dialer{Endpoints: eps, Tokens: ts}, Creator: creator}
}

// A stopped VM's report in the panel names the panel's own key for
// starting it, not the doctor command to run in a shell.
func TestDiagnoseStoppedDemoVMNamesTheKey(t *testing.T) {
	client, run := demoDoctor(t)
	inst, err := client.Resolve(context.Background(), "acme-dev", "", "ci-runner-2")
	if err != nil {
		t.Fatal(err)
	}
	m := New(paneltest.Common(110, 40, fixedNow, common.Backend{}), run, *inst)
	m.Init()
	press(m, "enter")
	view := strings.Join(strings.Fields(ansi.Strip(m.View())), " ")
	if !strings.Contains(view, "press s here to start it") || strings.Contains(view, "iapterm doctor") {
		t.Fatalf("the report does not name the panel's key:\n%s", ansi.Strip(m.View()))
	}
}

// The demo world's no-firewall VM, diagnosed through the real doctor, the
// projects client and the relay of the in-process emulator; the panel's
// repair creates the rule and the next run passes the firewall check.
func TestDiagnoseDemoVMWithoutFirewallRule(t *testing.T) {
	client, run := demoDoctor(t)
	ctx := context.Background()
	inst, err := client.Resolve(ctx, "acme-dev", "", "no-firewall")
	if err != nil {
		t.Fatal(err)
	}
	m := New(paneltest.Common(110, 40, fixedNow, common.Backend{}), run, *inst)
	m.Init()
	press(m, "enter")
	rep := m.Report()
	if rep == nil {
		t.Fatal("no report")
	}
	if c := rep.Check(doctor.CheckFirewall); c == nil || c.Mark != doctor.Failed {
		t.Fatalf("firewall check: %+v", c)
	}
	view := ansi.Strip(m.View())
	for _, want := range []string{"[failed]", "fix: gcloud compute firewall-rules create", "--project=acme-dev", "f create the firewall rule"} {
		if !strings.Contains(view, want) {
			t.Fatalf("panel lacks %q:\n%s", want, view)
		}
	}
	press(m, "f", "y")
	if c := m.Report().Check(doctor.CheckFirewall); c == nil || c.Mark != doctor.OK || !strings.Contains(c.Summary, "created firewall rule") {
		t.Fatalf("after the fix: %+v", c)
	}
}
