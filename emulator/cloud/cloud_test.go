package cloud

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"iapterm/emulator/world"
	"iapterm/policy"
)

func demo(t *testing.T, o Options) *Cloud {
	t.Helper()
	c, err := New(world.Demo(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const tunnelPerm = "iap.tunnelInstances.accessViaIAP"

func TestAllowedDemoWorld(t *testing.T) {
	c := demo(t, Options{})
	tests := []struct {
		name, member, resource string
		port                   int
		want                   bool
		wantRole               string
	}{
		{"group grant on prod", "user:demo@example.com", "projects/acme-prod/iap_tunnel/zones/us-central1-a/instances/web-1", 22, true, "roles/iap.tunnelResourceAccessor"},
		{"bare email is a user", "demo@example.com", "projects/acme-prod/iap_tunnel/zones/us-central1-a/instances/web-1", 22, true, "roles/iap.tunnelResourceAccessor"},
		{"owner on dev", "user:demo@example.com", "projects/acme-dev/iap_tunnel/zones/us-east1-b/instances/dev-alice", 22, true, "roles/owner"},
		{"condition allows 22", "user:demo@example.com", "projects/acme-analytics/iap_tunnel/zones/us-central1-a/instances/analytics-win", 22, true, "roles/iap.tunnelResourceAccessor"},
		{"condition denies 3389", "user:demo@example.com", "projects/acme-analytics/iap_tunnel/zones/us-central1-a/instances/analytics-win", 3389, false, ""},
		{"other user has no grant", "user:ops@example.com", "projects/acme-analytics/iap_tunnel/zones/us-central1-a/instances/etl-1", 22, false, ""},
		{"project number", "user:demo@example.com", "projects/" + itoa(mustProject(t, c, "acme-dev").Number) + "/iap_tunnel", 22, true, "roles/owner"},
		{"anonymous", "", "projects/acme-prod/iap_tunnel", 22, false, ""},
		{"case-insensitive email", "user:Demo@Example.com", "projects/acme-prod/iap_tunnel", 22, true, "roles/iap.tunnelResourceAccessor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := c.Allowed(tt.member, tt.resource, tunnelPerm, policy.Request{DestinationPort: tt.port, DestinationIP: "10.0.0.1", Time: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tt.want || d.Role != tt.wantRole || d.Reason == "" {
				t.Fatalf("decision = %+v", d)
			}
		})
	}
	d, _ := c.Allowed("user:demo@example.com", "projects/acme-analytics/iap_tunnel/zones/us-central1-a/instances/analytics-win", tunnelPerm, policy.Request{DestinationPort: 3389})
	if !strings.Contains(d.Reason, "SSH only") {
		t.Fatalf("denial does not name the condition: %s", d.Reason)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustProject(t *testing.T, c *Cloud, id string) Project {
	t.Helper()
	p, err := c.Project(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllowedMembersAndLevels(t *testing.T) {
	w := &world.World{
		Users:  []world.User{{Email: "a@example.com"}, {Email: "b@corp.example"}, {Email: "c@example.com"}},
		Groups: map[string][]string{"outer@example.com": {"inner@example.com"}, "inner@example.com": {"c@example.com"}},
		Projects: []world.Project{{
			ID: "pub", Number: 1,
			IAPTunnelIAM: []world.Binding{{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"allAuthenticatedUsers"}}},
		}, {
			ID: "priv", Number: 2,
			IAM: []world.Binding{
				{Role: "roles/viewer", Members: []string{"allUsers"}},
				{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"domain:corp.example"}},
			},
			Instances: []world.Instance{{Name: "vm", Zone: "us-east1-b", ID: 5, Status: "RUNNING", OS: "linux", MachineType: "e2-medium", Network: "default", InternalIP: "10.0.0.5",
				IAPTunnelIAM: []world.Binding{{Role: "roles/iap.tunnelResourceAccessor", Members: []string{"group:outer@example.com"},
					Condition: &world.Condition{Expression: `destination.ip == "10.0.0.5"`}}}}},
		}},
	}
	c, err := New(w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inst := "projects/priv/iap_tunnel/zones/us-east1-b/instances/vm"
	req := policy.Request{DestinationPort: 22, DestinationIP: "10.0.0.5"}
	tests := []struct {
		member, resource, perm string
		req                    policy.Request
		want                   bool
	}{
		{"user:a@example.com", "projects/pub/iap_tunnel", tunnelPerm, req, true},
		{"", "projects/pub/iap_tunnel", tunnelPerm, req, false},
		{"", "projects/priv", "compute.instances.list", req, true},
		{"user:b@corp.example", inst, tunnelPerm, req, true},
		{"user:a@example.com", inst, tunnelPerm, req, false},
		{"user:c@example.com", inst, tunnelPerm, req, true},
		{"user:c@example.com", inst, tunnelPerm, policy.Request{DestinationPort: 22, DestinationIP: "10.0.0.6"}, false},
		{"user:c@example.com", "projects/priv/iap_tunnel", tunnelPerm, req, false},
		{"serviceAccount:b@corp.example", inst, tunnelPerm, req, false},
		{"user:c@example.com", inst, "compute.instances.setMetadata", req, false},
	}
	for _, tt := range tests {
		d, err := c.Allowed(tt.member, tt.resource, tt.perm, tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tt.want {
			t.Errorf("Allowed(%q, %q, %q) = %+v, want %v", tt.member, tt.resource, tt.perm, d, tt.want)
		}
	}
	for _, bad := range []string{"projects/nope/iap_tunnel", "projects/priv/iap_tunnel/zones/us-east1-b/instances/nope"} {
		if _, err := c.Allowed("user:a@example.com", bad, tunnelPerm, req); !errors.Is(err, ErrNotFound) {
			t.Errorf("Allowed on %s: %v, want ErrNotFound", bad, err)
		}
	}
	if _, err := c.Allowed("user:a@example.com", "folders/1", tunnelPerm, req); err == nil {
		t.Error("Allowed on a folder: no error")
	}
	if g := c.Groups("C@example.com"); !slices.Equal(g, []string{"inner@example.com", "outer@example.com"}) {
		t.Errorf("Groups = %v", g)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTokens(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := world.Demo()
	w.Users[1].Token = "fixed-token"
	c, err := New(w, Options{Now: clk.now, TokenTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.IssueToken("demo@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Expiry.Equal(clk.now().Add(10*time.Minute)) || !strings.HasPrefix(tok.Value, "ya29.") {
		t.Fatalf("token = %+v", tok)
	}
	if got, err := c.Authenticate(tok.Value); err != nil || got.Email != "demo@example.com" {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	clk.add(10 * time.Minute)
	if _, err := c.Authenticate(tok.Value); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after TTL: %v", err)
	}
	if got, err := c.Authenticate("fixed-token"); err != nil || got.Email != "ops@example.com" {
		t.Fatalf("fixed token: %+v, %v", got, err)
	}
	clk.add(1000 * time.Hour)
	if _, err := c.Authenticate("fixed-token"); err != nil {
		t.Fatalf("fixed token expired: %v", err)
	}
	if _, err := c.Authenticate(""); !errors.Is(err, ErrTokenInvalid) {
		t.Fatal(err)
	}
	if _, err := c.Authenticate("nope"); !errors.Is(err, ErrTokenInvalid) {
		t.Fatal(err)
	}
	tok2, _ := c.IssueToken("ops@example.com", time.Minute)
	if !c.RevokeToken(tok2.Value) {
		t.Fatal("revoke reported missing")
	}
	if _, err := c.Authenticate(tok2.Value); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := c.IssueToken("stranger@example.com", 0); err == nil {
		t.Fatal("token for unknown user")
	}
	if strings.Contains(ErrTokenInvalid.Error(), tok.Value) {
		t.Fatal("error names the token")
	}
}

func TestMetadataFingerprints(t *testing.T) {
	c := demo(t, Options{})
	changes := 0
	c.OnChange(func() { changes++ })
	in, err := c.Instance("acme-prod", "us-central1-a", "legacy-app")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := in.Metadata.Get("enable-oslogin"); v != "FALSE" || in.Metadata.Fingerprint == "" {
		t.Fatalf("metadata = %+v", in.Metadata)
	}
	items := append(in.Metadata.Items, MetadataItem{"ssh-keys", "alice:ssh-ed25519 AAAA"})
	if _, err := c.SetInstanceMetadata("acme-prod", "us-central1-a", "legacy-app", "stale", items); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("stale fingerprint: %v", err)
	}
	md, err := c.SetInstanceMetadata("acme-prod", "us-central1-a", "legacy-app", in.Metadata.Fingerprint, items)
	if err != nil {
		t.Fatal(err)
	}
	if md.Fingerprint == in.Metadata.Fingerprint || md.Map()["ssh-keys"] == "" || md.Items[0].Key != "enable-oslogin" {
		t.Fatalf("after write: %+v", md)
	}
	if _, err := c.SetInstanceMetadata("acme-prod", "us-central1-a", "legacy-app", in.Metadata.Fingerprint, nil); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("reused fingerprint: %v", err)
	}
	// Writes do not alias the caller's slice.
	items[0].Value = "changed"
	again, _ := c.Instance("acme-prod", "us-central1-a", "legacy-app")
	if v, _ := again.Metadata.Get("enable-oslogin"); v != "FALSE" {
		t.Fatal("state aliases the caller's items")
	}
	p := mustProject(t, c, "acme-prod")
	pm, err := c.SetProjectMetadata("acme-prod", p.Metadata.Fingerprint, []MetadataItem{{"enable-oslogin", "FALSE"}})
	if err != nil || pm.Fingerprint == p.Metadata.Fingerprint {
		t.Fatalf("project metadata: %+v %v", pm, err)
	}
	if _, err := c.SetProjectMetadata("acme-prod", p.Metadata.Fingerprint, nil); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatal(err)
	}
	if _, err := c.SetProjectMetadata("nope", "", nil); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if changes != 2 {
		t.Fatalf("OnChange ran %d times, want 2", changes)
	}
}

func TestStatusAndListings(t *testing.T) {
	c := demo(t, Options{})
	all := c.AllInstances()
	if len(all) < 25 || !slices.IsSortedFunc(all, func(a, b Instance) int {
		return strings.Compare(a.Project+"/"+a.Zone+"/"+a.Name, b.Project+"/"+b.Zone+"/"+b.Name)
	}) {
		t.Fatalf("AllInstances: %d, sorted=%v", len(all), false)
	}
	ps := c.Projects()
	if len(ps) < 3 || ps[0].ID > ps[1].ID {
		t.Fatal("Projects not sorted")
	}
	zoneList, _ := c.InstancesInZone("acme-prod", "us-central1-a")
	for _, in := range zoneList {
		if in.Zone != "us-central1-a" {
			t.Fatal("InstancesInZone leaks other zones")
		}
	}
	prod := mustProject(t, c, "acme-prod")
	if !slices.Contains(prod.Zones, "us-central1-c") || !slices.Contains(prod.Zones, "us-central1-a") {
		t.Fatalf("zones = %v", prod.Zones)
	}
	in, err := c.SetStatus("acme-prod", "europe-west1-b", "batch-1", "RUNNING")
	if err != nil || in.Status != "RUNNING" || in.LastStart.IsZero() {
		t.Fatalf("SetStatus: %+v %v", in, err)
	}
	if _, err := c.SetStatus("acme-prod", "europe-west1-b", "batch-1", "NAPPING"); err == nil {
		t.Fatal("unknown status accepted")
	}
	if _, err := c.Instance("acme-prod", "europe-west1-b", "ghost"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "projects/acme-prod/zones/europe-west1-b/instances/ghost") {
		t.Fatalf("missing instance: %v", err)
	}
	etl, _ := c.Instance("acme-analytics", "us-central1-a", "etl-1")
	if etl.Network != "projects/acme-network/global/networks/shared-vpc" || etl.NetworkProject() != "acme-network" ||
		etl.Subnetwork != "projects/acme-network/regions/us-central1/subnetworks/shared-vpc" {
		t.Fatalf("shared VPC instance: %s %s", etl.Network, etl.Subnetwork)
	}
	// Snapshots are copies.
	etl.Labels["env"] = "changed"
	if again, _ := c.Instance("acme-analytics", "us-central1-a", "etl-1"); again.Labels["env"] != "prod" {
		t.Fatal("snapshot aliases state")
	}
}

func TestIAPFirewall(t *testing.T) {
	c := demo(t, Options{})
	tests := []struct {
		project, zone, name string
		port                int
		want                bool
	}{
		{"acme-prod", "us-central1-a", "web-1", 22, true},
		{"acme-prod", "us-central1-a", "web-1", 8080, true},
		{"acme-prod", "us-central1-b", "db-1", 8080, false},
		{"acme-dev", "us-east1-b", "dev-alice", 5432, true},
		{"acme-dev", "us-east1-b", "dev-alice", 23, false},
		{"acme-dev", "us-east1-b", "no-firewall", 22, false},
		{"acme-analytics", "us-central1-a", "etl-1", 22, true},
		{"acme-analytics", "us-central1-a", "analytics-win", 3389, true},
		{"acme-analytics", "us-central1-a", "etl-1", 80, false},
		{"acme-network", "us-central1-a", "nat-gateway", 22, true},
	}
	for _, tt := range tests {
		in, err := c.Instance(tt.project, tt.zone, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		v := c.IAPFirewall(in, tt.port)
		if v.Allowed != tt.want || v.Reason == "" {
			t.Errorf("%s port %d: %+v, want %v", in.Key(), tt.port, v, tt.want)
		}
	}
}

func TestBackends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c := demo(t, Options{Backends: map[string]string{"acme-dev/us-east1-b/dev-win:3389": ln.Addr().String()}})
	if _, err := New(world.Demo(), Options{Backends: map[string]string{"acme-dev/us-east1-b/ghost:22": "127.0.0.1:1"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("override of a missing instance: %v", err)
	}
	for _, bad := range []string{"acme-dev/us-east1-b:22", "acme-dev/us-east1-b/dev-win:0", "acme-dev/us-east1-b/dev-win"} {
		if err := c.SetBackend(bad, "127.0.0.1:1"); err == nil {
			t.Errorf("SetBackend(%q) accepted", bad)
		}
	}
	if err := c.SetBackend("acme-dev/us-east1-b/dev-win:3389", "nohost"); err == nil {
		t.Error("bad address accepted")
	}
	win, _ := c.Instance("acme-dev", "us-east1-b", "dev-win")
	conn, err := c.DialBackend(context.Background(), win, 3389)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q %v", buf, err)
	}
	conn.Close()
	if _, err := c.DialBackend(context.Background(), win, 5985); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("no backend: %v", err)
	}
	alice, _ := c.Instance("acme-dev", "us-east1-b", "dev-alice")
	if a, ok := c.Backend("acme-dev", "us-east1-b", "dev-alice", 22); !ok || a != world.BuiltinSSH {
		t.Fatalf("Backend = %q %v", a, ok)
	}
	if _, err := c.DialBackend(context.Background(), alice, 22); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("builtin without server: %v", err)
	}
	var gotKey string
	c.RegisterBuiltin(world.BuiltinSSH, func(ctx context.Context, inst Instance, port int) (net.Conn, error) {
		gotKey = inst.Key()
		a, b := net.Pipe()
		b.Close()
		return a, nil
	})
	conn, err = c.DialBackend(context.Background(), alice, 22)
	if err != nil || gotKey != "acme-dev/us-east1-b/dev-alice" {
		t.Fatalf("builtin dial: %v %q", err, gotKey)
	}
	conn.Close()
	if err := c.SetBackend("acme-dev/us-east1-b/dev-alice:22", ""); err != nil {
		t.Fatal(err)
	}
	if a, _ := c.Backend("acme-dev", "us-east1-b", "dev-alice", 22); a != world.BuiltinSSH {
		t.Fatal("removing an override removed the world's backend")
	}
}
