package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"iapterm/emulator/agent"
	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

const testWorld = `
users:
  - email: alice@example.com
    name: Alice
    token: alice-token
  - email: bob@example.com
    token: bob-token
  - email: carol@example.com
    token: carol-token
    twoFactorCode: "123456"
  - email: Dave.Smith@example.com
    token: dave-token
    posixUsername: dave
projects:
  - id: proj-a
    name: Project Alpha
    number: 1111
    parent: organizations/42
    labels: {env: prod}
    metadata:
      team: blue
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
      - role: roles/compute.viewer
        members: [user:carol@example.com]
      - role: roles/compute.osLogin
        members: [user:carol@example.com, user:dave.smith@example.com]
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:carol@example.com]
        condition:
          title: ssh only
          expression: destination.port == 22
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed:
          - IPProtocol: tcp
            ports: ["22"]
      - name: web-only
        sourceRanges: [35.235.240.0/20]
        targetTags: [web]
        allowed:
          - IPProtocol: tcp
            ports: ["80"]
    zones: [us-central1-c, us-east1-b]
    unreachableZones: [us-east1-b]
    instances:
      - {name: vm-1, zone: us-central1-a, backends: {22: builtin-ssh}}
      - {name: vm-2, zone: us-central1-a}
      - {name: vm-3, zone: us-central1-b, status: TERMINATED}
      - {name: vm-4, zone: us-central1-b, serviceAccount: sa@proj-a.iam.gserviceaccount.com}
      - {name: vm-5, zone: europe-west1-b, serial: {1: "hello serial\n"}}
      - {name: win-1, zone: europe-west1-b, os: windows}
  - id: proj-b
    name: Beta Tools
    iam:
      - role: roles/viewer
        members: [user:alice@example.com]
  - id: other-thing
    name: Gamma
    state: DELETE_REQUESTED
    iam:
      - role: roles/viewer
        members: [user:alice@example.com]
`

type env struct {
	t   testing.TB
	c   *cloud.Cloud
	api *API
	srv *httptest.Server
	now *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t testing.TB, o Options) *env {
	t.Helper()
	w, err := world.Parse([]byte(testWorld), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	c, err := cloud.New(w, cloud.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if o.AgentDelay == 0 {
		o.AgentDelay = -1
	}
	if o.Transition == 0 {
		o.Transition = 50 * time.Millisecond
	}
	a, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &env{t: t, c: c, api: a, srv: srv, now: clk}
}

func (e *env) computeSvc(token string) *compute.Service {
	e.t.Helper()
	s, err := compute.NewService(context.Background(), option.WithEndpoint(e.srv.URL+"/compute/v1/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// raw does an HTTP request and decodes the JSON answer.
func (e *env) raw(method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("%s %s: not JSON: %q", method, path, b)
	}
	return resp.StatusCode, m
}

func apiCode(err error) (int, string) {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := ""
		if len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		return ge.Code, reason
	}
	return 0, fmt.Sprint(err)
}

func TestAggregatedListPagesWarningsAndUnreachables(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.computeSvc("alice-token")
	var names []string
	pages := 0
	call := s.Instances.AggregatedList("proj-a").MaxResults(2).Filter("")
	err := call.Pages(context.Background(), func(l *compute.InstanceAggregatedList) error {
		pages++
		if fmt.Sprint(l.Unreachables) != "[zones/us-east1-b]" {
			t.Errorf("unreachables = %v", l.Unreachables)
		}
		if w := l.Items["zones/us-central1-c"].Warning; w == nil || w.Code != "NO_RESULTS_ON_PAGE" || w.Data[0].Value != "zones/us-central1-c" {
			t.Errorf("page %d: no NO_RESULTS_ON_PAGE warning for the empty zone: %+v", pages, l.Items["zones/us-central1-c"])
		}
		if _, ok := l.Items["zones/us-east1-b"]; ok {
			t.Errorf("unreachable zone listed in items")
		}
		for _, sc := range l.Items {
			for _, in := range sc.Instances {
				names = append(names, in.Name)
				if in.Id == 0 || !strings.HasPrefix(in.Zone, "https://www.googleapis.com/compute/v1/projects/proj-a/zones/") {
					t.Errorf("instance %s: id %d zone %s", in.Name, in.Id, in.Zone)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 3 || len(names) != 6 {
		t.Fatalf("%d pages, instances %v; want 3 pages and 6 instances", pages, names)
	}
	// returnPartialSuccess left the discovery document; clients send it raw.
	if _, err := s.Instances.AggregatedList("proj-a").Do(googleapi.QueryParameter("returnPartialSuccess", "true")); err != nil {
		t.Fatal(err)
	}
	// maxResults above 500 is refused.
	if _, err := s.Instances.AggregatedList("proj-a").MaxResults(501).Do(); err == nil {
		t.Fatal("maxResults=501 accepted")
	}
	// int64 fields are strings on the wire.
	code, m := e.raw("GET", "/compute/v1/projects/proj-a/zones/us-central1-a/instances/vm-1?alt=json&prettyPrint=false", "alice-token", "")
	if code != 200 {
		t.Fatalf("get: %d %v", code, m)
	}
	if _, ok := m["id"].(string); !ok {
		t.Fatalf("id is %T, want a string", m["id"])
	}
}

func TestComputeErrors(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := e.computeSvc("alice-token").Instances.Get("proj-a", "us-central1-a", "nope").Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 404 || ge.Errors[0].Reason != "notFound" ||
		ge.Message != "The resource 'projects/proj-a/zones/us-central1-a/instances/nope' was not found" {
		t.Fatalf("missing instance: %v", err)
	}
	_, err = e.computeSvc("bob-token").Instances.Get("proj-a", "us-central1-a", "vm-1").Do()
	if c, r := apiCode(err); c != 403 || r != "forbidden" {
		t.Fatalf("user without roles: %d %s", c, r)
	}
	_, err = e.computeSvc("no-such-token").Projects.Get("proj-a").Do()
	if c, _ := apiCode(err); c != 401 {
		t.Fatalf("unknown token: %v", err)
	}
	tok, _ := e.c.IssueToken("alice@example.com", time.Minute)
	if _, err := e.computeSvc(tok.Value).Projects.Get("proj-a").Do(); err != nil {
		t.Fatal(err)
	}
	e.now.Add(2 * time.Minute)
	_, err = e.computeSvc(tok.Value).Projects.Get("proj-a").Do()
	if c, _ := apiCode(err); c != 401 {
		t.Fatalf("expired token: %v", err)
	}
	code, m := e.raw("GET", "/compute/v1/projects/proj-a", "", "")
	if code != 401 || m["error"].(map[string]any)["status"] != "UNAUTHENTICATED" {
		t.Fatalf("no token: %d %v", code, m)
	}
}

func TestMetadataFingerprintsAndOperations(t *testing.T) {
	e := newEnv(t, Options{OperationDelay: 20 * time.Millisecond})
	s := e.computeSvc("alice-token")
	p, err := s.Projects.Get("proj-a").Do()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "proj-a" || p.CommonInstanceMetadata.Fingerprint == "" || len(p.CommonInstanceMetadata.Items) != 1 {
		t.Fatalf("project %+v", p.CommonInstanceMetadata)
	}
	v := "x"
	stale := &compute.Metadata{Fingerprint: "c3RhbGU=", Items: []*compute.MetadataItems{{Key: "k", Value: &v}}}
	_, err = s.Projects.SetCommonInstanceMetadata("proj-a", stale).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 412 || ge.Errors[0].Reason != "conditionNotMet" ||
		ge.Message != "Supplied fingerprint does not match current metadata fingerprint." {
		t.Fatalf("stale fingerprint: %v", err)
	}
	stale.Fingerprint = p.CommonInstanceMetadata.Fingerprint
	op, err := s.Projects.SetCommonInstanceMetadata("proj-a", stale).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.Zone != "" || op.OperationType != "setMetadata" {
		t.Fatalf("operation %+v", op)
	}
	for op.Status != "DONE" {
		if op, err = s.GlobalOperations.Wait("proj-a", op.Name).Do(); err != nil {
			t.Fatal(err)
		}
	}
	if op.Progress != 100 {
		t.Fatalf("done operation progress %d", op.Progress)
	}
	p2, _ := s.Projects.Get("proj-a").Fields("commonInstanceMetadata", "name").Do()
	if p2.CommonInstanceMetadata.Fingerprint == p.CommonInstanceMetadata.Fingerprint || len(p2.CommonInstanceMetadata.Items) != 1 || p2.CommonInstanceMetadata.Items[0].Key != "k" {
		t.Fatalf("after write: %+v", p2.CommonInstanceMetadata)
	}

	// Instance metadata: zonal operation; bad keys refused.
	in, _ := s.Instances.Get("proj-a", "us-central1-a", "vm-2").Do()
	bad := &compute.Metadata{Fingerprint: in.Metadata.Fingerprint, Items: []*compute.MetadataItems{{Key: "bad key", Value: &v}}}
	if _, err := s.Instances.SetMetadata("proj-a", "us-central1-a", "vm-2", bad).Do(); err == nil {
		t.Fatal("bad key accepted")
	}
	op, err = s.Instances.SetMetadata("proj-a", "us-central1-a", "vm-2", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint, Items: []*compute.MetadataItems{{Key: "a", Value: &v}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ZoneOperations.Get("proj-a", "us-central1-a", op.Name).Do()
	if err != nil || !strings.HasSuffix(got.Zone, "/zones/us-central1-a") {
		t.Fatalf("zonal operation: %+v %v", got, err)
	}
	if _, err := s.ZoneOperations.Get("proj-a", "us-central1-a", "operation-none").Do(); err == nil {
		t.Fatal("unknown operation found")
	}

	// actAs is needed on a VM with a service account: carol lacks it
	// (and setMetadata); alice owns the project.
	in4, _ := s.Instances.Get("proj-a", "us-central1-b", "vm-4").Do()
	if _, err := s.Instances.SetMetadata("proj-a", "us-central1-b", "vm-4", &compute.Metadata{Fingerprint: in4.Metadata.Fingerprint}).Do(); err != nil {
		t.Fatalf("owner write to a VM with a service account: %v", err)
	}
}

func TestServiceAccountAccessDenied(t *testing.T) {
	w, _ := world.Parse([]byte(testWorld), "test.yaml")
	w.Projects[0].IAM = append(w.Projects[0].IAM, world.Binding{Role: "roles/compute.instanceAdmin.v1", Members: []string{"user:bob@example.com"}})
	c, err := cloud.New(w, cloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(c, Options{AgentDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e := &env{t: t, c: c, api: a, srv: srv}
	s := e.computeSvc("bob-token")
	in, err := s.Instances.Get("proj-a", "us-central1-b", "vm-4").Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Instances.SetMetadata("proj-a", "us-central1-b", "vm-4", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint}).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 400 || ge.Errors[0].Message != "SERVICE_ACCOUNT_ACCESS_DENIED" {
		t.Fatalf("write without actAs: %v", err)
	}
	in2, _ := s.Instances.Get("proj-a", "us-central1-a", "vm-2").Do()
	if _, err := s.Instances.SetMetadata("proj-a", "us-central1-a", "vm-2", &compute.Metadata{Fingerprint: in2.Metadata.Fingerprint}).Do(); err != nil {
		t.Fatalf("write to a VM without a service account: %v", err)
	}
}

func TestLifecycleWalks(t *testing.T) {
	e := newEnv(t, Options{})
	gate := make(chan struct{})
	e.api.transitionGate = gate
	s := e.computeSvc("alice-token")
	tests := []struct {
		method, name, zone, via, final string
	}{
		{"start", "vm-3", "us-central1-b", "STAGING", "RUNNING"},
		{"stop", "vm-1", "us-central1-a", "STOPPING", "TERMINATED"},
		{"suspend", "vm-2", "us-central1-a", "SUSPENDING", "SUSPENDED"},
		{"resume", "vm-2", "us-central1-a", "STAGING", "RUNNING"},
	}
	for _, tt := range tests {
		var op *compute.Operation
		var err error
		switch tt.method {
		case "start":
			op, err = s.Instances.Start("proj-a", tt.zone, tt.name).Do()
		case "stop":
			op, err = s.Instances.Stop("proj-a", tt.zone, tt.name).Do()
		case "suspend":
			op, err = s.Instances.Suspend("proj-a", tt.zone, tt.name).Do()
		case "resume":
			op, err = s.Instances.Resume("proj-a", tt.zone, tt.name).Do()
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		in, _ := s.Instances.Get("proj-a", tt.zone, tt.name).Do()
		if op.Status == "DONE" || in.Status != tt.via {
			t.Fatalf("%s: right after, operation %s and status %s; want RUNNING and %s", tt.method, op.Status, in.Status, tt.via)
		}
		if got, _ := s.ZoneOperations.Get("proj-a", tt.zone, op.Name).Do(); got.Status != "RUNNING" {
			t.Fatalf("%s: operation %s before the transition ended", tt.method, got.Status)
		}
		gate <- struct{}{}
		for op.Status != "DONE" {
			if op, err = s.ZoneOperations.Wait("proj-a", tt.zone, op.Name).Do(); err != nil {
				t.Fatal(err)
			}
		}
		in, _ = s.Instances.Get("proj-a", tt.zone, tt.name).Do()
		if in.Status != tt.final {
			t.Fatalf("%s: final status %s, want %s", tt.method, in.Status, tt.final)
		}
	}
	// resume of a running VM is refused.
	if _, err := s.Instances.Resume("proj-a", "us-central1-a", "vm-2").Do(); err == nil {
		t.Fatal("resume of a running VM accepted")
	}
	if _, err := e.computeSvc("carol-token").Instances.Stop("proj-a", "us-central1-a", "vm-2").Do(); err == nil {
		t.Fatal("viewer stopped a VM")
	}
}

func TestSerialPort(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.computeSvc("alice-token")
	out, err := s.Instances.GetSerialPortOutput("proj-a", "europe-west1-b", "vm-5").Port(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if out.Contents != "hello serial\n" || out.Start != 0 || out.Next != 13 {
		t.Fatalf("first read %+v", out)
	}
	e.api.serial.append("proj-a/europe-west1-b/vm-5", 1, "more")
	out, _ = s.Instances.GetSerialPortOutput("proj-a", "europe-west1-b", "vm-5").Port(1).Start(out.Next).Do()
	if out.Contents != "more" || out.Next != 17 {
		t.Fatalf("second read %+v", out)
	}
	out, _ = s.Instances.GetSerialPortOutput("proj-a", "europe-west1-b", "vm-5").Port(1).Start(out.Next).Do()
	if out.Contents != "" || out.Next != out.Start {
		t.Fatalf("read with no new data %+v", out)
	}
	boot, _ := s.Instances.GetSerialPortOutput("proj-a", "us-central1-a", "vm-1").Do()
	if !strings.Contains(boot.Contents, "vm-1 login:") {
		t.Fatalf("boot log %q", boot.Contents)
	}
	if _, err := s.Instances.GetSerialPortOutput("proj-a", "us-central1-a", "vm-1").Port(5).Do(); err == nil {
		t.Fatal("port 5 accepted")
	}
	code, m := e.raw("GET", "/compute/v1/projects/proj-a/zones/europe-west1-b/instances/vm-5/serialPort?port=1&start=4", "alice-token", "")
	if code != 200 || m["start"] != "4" || m["next"] != "17" {
		t.Fatalf("raw serial: %v", m)
	}
}

func TestFirewallsAndGuestAttributes(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.computeSvc("alice-token")
	l, err := s.Firewalls.List("proj-a").Do()
	if err != nil || len(l.Items) != 2 || l.Items[0].Priority != 1000 || l.Items[0].Allowed[0].IPProtocol != "tcp" {
		t.Fatalf("firewalls %+v %v", l, err)
	}
	if !strings.HasSuffix(l.Items[0].Network, "projects/proj-a/global/networks/default") {
		t.Fatalf("network %s", l.Items[0].Network)
	}
	eff, err := s.Instances.GetEffectiveFirewalls("proj-a", "us-central1-a", "vm-1", "nic0").Do()
	if err != nil || len(eff.Firewalls) != 1 || eff.Firewalls[0].Name != "allow-iap" {
		t.Fatalf("effective firewalls %+v %v", eff, err)
	}
	_, err = s.Firewalls.Insert("proj-a", &compute.Firewall{Name: "allow-rdp", SourceRanges: []string{"35.235.240.0/20"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"3389"}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Firewalls.List("proj-a").Do(); len(l.Items) != 3 {
		t.Fatalf("after insert: %d rules", len(l.Items))
	}
	if _, err := e.computeSvc("carol-token").Firewalls.Insert("proj-a", &compute.Firewall{Name: "x"}).Do(); err == nil {
		t.Fatal("viewer created a firewall")
	}

	ga, err := s.Instances.GetGuestAttributes("proj-a", "us-central1-a", "vm-1").QueryPath("hostkeys/").Do()
	if err != nil || len(ga.QueryValue.Items) != 1 || ga.QueryValue.Items[0].Key != "ssh-ed25519" {
		t.Fatalf("guest attributes %+v %v", ga, err)
	}
	hk, _ := e.api.ssh.HostKey("proj-a/us-central1-a/vm-1")
	if ga.QueryValue.Items[0].Value != strings.Fields(string(marshalAuthorized(hk)))[1] {
		t.Fatal("published host key differs from the server's")
	}
	_, err = s.Instances.GetGuestAttributes("proj-a", "us-central1-a", "vm-2").QueryPath("hostkeys/").Do()
	if c, _ := apiCode(err); c != 404 {
		t.Fatalf("VM without the built-in SSH server: %v", err)
	}
	perms, err := e.computeSvc("carol-token").Instances.TestIamPermissions("proj-a", "us-central1-a", "vm-1",
		&compute.TestPermissionsRequest{Permissions: []string{"compute.instances.get", "compute.instances.setMetadata", "compute.instances.osLogin"}}).Do()
	if err != nil || fmt.Sprint(perms.Permissions) != "[compute.instances.get compute.instances.osLogin]" {
		t.Fatalf("testIamPermissions %v %v", perms, err)
	}
}

func TestGuestAttributesOfARealSSHServer(t *testing.T) {
	e := newEnv(t, Options{})
	other, err := agent.NewSSHServer(e.api.agent)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	addr, _ := other.Addr("elsewhere")
	if err := e.c.SetBackend("proj-a/us-central1-a/vm-2:22", addr); err != nil {
		t.Fatal(err)
	}
	s := e.computeSvc("alice-token")
	ga, err := s.Instances.GetGuestAttributes("proj-a", "us-central1-a", "vm-2").QueryPath("hostkeys/").Do()
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := other.HostKey("elsewhere")
	if len(ga.QueryValue.Items) != 1 || ga.QueryValue.Items[0].Value != strings.Fields(string(marshalAuthorized(hk)))[1] {
		t.Fatalf("guest attributes %+v", ga.QueryValue.Items)
	}
	v, err := s.Instances.GetGuestAttributes("proj-a", "us-central1-a", "vm-2").VariableKey("hostkeys/ssh-ed25519").Do()
	if err != nil || v.VariableValue != ga.QueryValue.Items[0].Value {
		t.Fatalf("variableKey: %+v %v", v, err)
	}
}

func TestInstanceFilters(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.computeSvc("alice-token")
	tests := []struct {
		filter string
		want   int
	}{
		{"", 6},
		{"status = RUNNING", 5},
		{`status != "RUNNING"`, 1},
		{"(status = RUNNING) (name = vm-1)", 1},
		{"name eq vm-.*", 5},
		{"labels.whatever = x", 0}, // no instance has that label (it used to be ignored)
	}
	for _, tt := range tests {
		l, err := s.Instances.AggregatedList("proj-a").Filter(tt.filter).Do()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, sc := range l.Items {
			n += len(sc.Instances)
		}
		if n != tt.want {
			t.Errorf("filter %q: %d instances, want %d", tt.filter, n, tt.want)
		}
	}
	l, err := s.Instances.List("proj-a", "us-central1-b").Filter("status = TERMINATED").Do()
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "vm-3" {
		t.Fatalf("zonal list: %+v %v", l, err)
	}
	if _, err := s.Instances.List("proj-a", "nowhere").Do(); err == nil {
		t.Fatal("list of an unknown zone succeeded")
	}
}

func BenchmarkAggregatedList(b *testing.B) {
	w, _ := world.Parse([]byte(testWorld), "test.yaml")
	for i := range 500 {
		w.Projects[0].Instances = append(w.Projects[0].Instances, world.Instance{Name: fmt.Sprintf("bulk-%d", i), Zone: "us-west1-a"})
	}
	w.ApplyDefaults()
	c, err := cloud.New(w, cloud.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(c, Options{AgentDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s, _ := compute.NewService(context.Background(), option.WithEndpoint(srv.URL+"/compute/v1/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "alice-token"})))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Instances.AggregatedList("proj-a").MaxResults(500).Do(); err != nil {
			b.Fatal(err)
		}
	}
}
