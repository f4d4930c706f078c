package projects_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"iapterm/auth"
	"iapterm/emulator"
	"iapterm/emulator/emutest"
	"iapterm/emulator/world"
	"iapterm/endpoint"
	"iapterm/projects"
)

const testWorld = `
users:
  - email: alice@example.com
    token: alice-token
  - email: bob@example.com
    token: bob-token
projects:
  - id: alpha
    name: Alpha Project
    labels: {env: test}
    metadata:
      enable-oslogin: "FALSE"
      ssh-keys: "alice:ssh-ed25519 AAAA alice"
    iam:
      - role: roles/owner
        members: [user:alice@example.com]
    zones: [us-east1-b]
    unreachableZones: [asia-east1-a]
    instances:
      - {name: lin-1, zone: us-central1-a, labels: {role: web}, tags: [web]}
      - {name: win-1, zone: us-central1-a, os: windows}
      - {name: dup, zone: us-central1-a}
      - {name: dup, zone: europe-west1-b}
      - name: ext
        zone: europe-west1-b
        externalIP: 34.1.2.3
        internalIP: 10.9.8.7
        machineType: n2-standard-2
        metadata: {b: "2", a: "1", c: "3"}
  - id: beta
    name: Beta
    iam:
      - role: roles/compute.viewer
        members: [user:alice@example.com]
    instances:
      - {name: b-1, zone: us-central1-a}
  - id: secret
    name: Secret
    iam:
      - role: roles/owner
        members: [user:bob@example.com]
    instances:
      - {name: s-1, zone: us-central1-a}
`

type env struct {
	srv *emulator.Server
	eps endpoint.Endpoints
	c   *projects.Client
}

func start(t testing.TB, w *world.World, o emulator.Options) *env {
	t.Helper()
	srv, eps := emutest.Serve(t, w, o)
	c, err := projects.NewClient(context.Background(), eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token()}))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, eps: eps, c: c}
}

func startTest(t *testing.T) *env {
	t.Helper()
	w, err := world.Parse([]byte(testWorld), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return start(t, w, emulator.Options{AgentDelay: -1})
}

func TestInventory(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	e.c.PageSize = 2 // alpha's 5 instances arrive on 3 pages
	before := e.c.Calls()
	inv, err := e.c.Inventory(ctx, []projects.Project{{ID: "alpha"}, {ID: "beta"}, {ID: "secret"}, {ID: "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if calls := e.c.Calls() - before; calls != 3+1+1+1 {
		t.Errorf("inventory made %d calls, want 6 (3 pages for alpha, 1 per other project)", calls)
	}
	var names []string
	for _, in := range inv.Instances["alpha"] {
		names = append(names, in.Name+"@"+in.Zone)
	}
	if got := strings.Join(names, " "); got != "dup@europe-west1-b dup@us-central1-a ext@europe-west1-b lin-1@us-central1-a win-1@us-central1-a" {
		t.Errorf("alpha instances: %s", got)
	}
	if len(inv.Instances["beta"]) != 1 {
		t.Errorf("beta: %+v", inv.Instances["beta"])
	}
	if w := strings.Join(inv.Warnings["alpha"], "\n"); !strings.Contains(w, "asia-east1-a") || !strings.Contains(w, "unreachable") {
		t.Errorf("alpha warnings %q lack the unreachable zone", w)
	}
	if w := strings.Join(inv.Warnings["secret"], "\n"); !strings.Contains(w, "you lack permission compute.instances.list on project secret") || !strings.Contains(w, "roles/compute.viewer") ||
		!strings.Contains(w, "or the project ID is wrong") {
		t.Errorf("secret warnings: %q", w)
	}
	if w := strings.Join(inv.Warnings["missing"], "\n"); !strings.Contains(w, "missing") {
		t.Errorf("missing warnings: %q", w)
	}
	// alpha lost a zone, not the project: only whole projects are failed.
	if !slices.Equal(inv.Failed, []string{"missing", "secret"}) {
		t.Errorf("failed projects %v, want [missing secret]", inv.Failed)
	}
	if len(inv.Warnings["beta"]) != 0 {
		t.Errorf("beta warnings: %v", inv.Warnings["beta"])
	}

	byName := map[string]projects.Instance{}
	for _, in := range inv.Instances["alpha"] {
		byName[in.Name] = in
	}
	if byName["win-1"].OS != projects.Windows || byName["lin-1"].OS != projects.Linux {
		t.Errorf("OS detection: win-1=%s lin-1=%s", byName["win-1"].OS, byName["lin-1"].OS)
	}
	ext := byName["ext"]
	if ext.ExternalIP != "34.1.2.3" || ext.InternalIP != "10.9.8.7" || ext.MachineType != "n2-standard-2" || ext.Metadata["a"] != "1" || ext.ID == "" {
		t.Errorf("ext parsed as %+v", ext)
	}
	if lin := byName["lin-1"]; lin.Labels["role"] != "web" || len(lin.Tags) != 1 || lin.Status != "RUNNING" || lin.InternalIP == "" {
		t.Errorf("lin-1 parsed as %+v", lin)
	}
}

func TestSearchProjects(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	e.c.PageSize = 1
	ps, err := e.c.SearchProjects(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "alpha,beta" {
		t.Errorf("visible projects %v, want alpha,beta", ids)
	}
	ps, err = e.c.SearchProjects(ctx, "ALPHA", 10)
	if err != nil || len(ps) != 1 || ps[0].Name != "Alpha Project" || ps[0].Number == "" {
		t.Errorf("search ALPHA: %+v, %v", ps, err)
	}
	if ps, err := e.c.SearchProjects(ctx, "", 1); err != nil || len(ps) != 1 {
		t.Errorf("limit 1: %+v, %v", ps, err)
	}
}

func TestResolveAndInstance(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	in, err := e.c.Resolve(ctx, "alpha", "", "lin-1")
	if err != nil || in.Zone != "us-central1-a" {
		t.Fatalf("Resolve lin-1 without zone: %+v, %v", in, err)
	}
	_, err = e.c.Resolve(ctx, "alpha", "", "dup")
	if err == nil || !strings.Contains(err.Error(), "europe-west1-b, us-central1-a") {
		t.Errorf("ambiguous name: %v", err)
	}
	_, err = e.c.Resolve(ctx, "alpha", "", "nope")
	if !errors.Is(err, projects.ErrNotFound) || !strings.Contains(err.Error(), "instance nope not found in project alpha") {
		t.Errorf("unknown name: %v", err)
	}
	_, err = e.c.Instance(ctx, "alpha", "us-central1-a", "nope")
	if !errors.Is(err, projects.ErrNotFound) || err.Error() != "instance nope not found in project alpha zone us-central1-a" {
		t.Errorf("404: %v", err)
	}
	_, err = e.c.Instance(ctx, "secret", "us-central1-a", "s-1")
	if !errors.Is(err, projects.ErrPermissionDenied) || !strings.Contains(err.Error(), "compute.instances.get") {
		t.Errorf("403: %v", err)
	}
	if in, err := e.c.Resolve(ctx, "alpha", "us-central1-a", "win-1"); err != nil || in.OS != projects.Windows {
		t.Errorf("Resolve with zone: %+v, %v", in, err)
	}
}

func TestUpdateMetadata(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()

	// A mutation that changes nothing writes nothing.
	before := e.c.Calls()
	err := e.c.UpdateInstanceMetadata(ctx, "alpha", "europe-west1-b", "ext", func(m map[string]string) (bool, error) {
		m["a"] = "1"
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls := e.c.Calls() - before; calls != 1 {
		t.Errorf("no-op update made %d calls, want 1 (the read)", calls)
	}

	// Order and other keys are preserved; new keys are appended.
	err = e.c.UpdateInstanceMetadata(ctx, "alpha", "europe-west1-b", "ext", func(m map[string]string) (bool, error) {
		m["a"] = "one"
		m["new"] = "x"
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.c.Instance(ctx, "alpha", "europe-west1-b", "ext")
	if err != nil || in.Metadata["a"] != "one" || in.Metadata["b"] != "2" || in.Metadata["new"] != "x" {
		t.Fatalf("after update: %v, %v", in.Metadata, err)
	}

	// Concurrent writers race on the fingerprint; 412s are retried and no
	// write is lost.
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.c.UpdateProjectMetadata(ctx, "alpha", func(m map[string]string) (bool, error) {
				m[fmt.Sprintf("writer-%d", i)] = "done"
				return true, nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	md, err := e.c.ProjectMetadata(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		if md[fmt.Sprintf("writer-%d", i)] != "done" {
			t.Errorf("writer-%d lost: %v", i, md)
		}
	}
	if md["ssh-keys"] != "alice:ssh-ed25519 AAAA alice" {
		t.Errorf("other project keys not preserved: %v", md)
	}

	// The mutation's error aborts without writing.
	boom := errors.New("boom")
	if err := e.c.UpdateProjectMetadata(ctx, "alpha", func(map[string]string) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("mutate error: %v", err)
	}
	// No permission to write: bob cannot touch alpha.
	bob := e.clientFor(t, "bob@example.com")
	err = bob.UpdateInstanceMetadata(ctx, "alpha", "europe-west1-b", "ext", func(m map[string]string) (bool, error) { m["x"] = "y"; return true, nil })
	if !errors.Is(err, projects.ErrPermissionDenied) && !errors.Is(err, projects.ErrNotFound) {
		t.Errorf("bob's write: %v", err)
	}
}

// TestMetadataConflictRetried forces a 412 on the first attempt: the
// mutation itself races a concurrent write.
func TestMetadataConflictRetried(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	attempts := 0
	err := e.c.UpdateInstanceMetadata(ctx, "alpha", "us-central1-a", "lin-1", func(m map[string]string) (bool, error) {
		attempts++
		if attempts == 1 {
			// Another writer gets in between our read and our write.
			if err := e.c.UpdateInstanceMetadata(ctx, "alpha", "us-central1-a", "lin-1", func(m map[string]string) (bool, error) {
				m["other"] = "1"
				return true, nil
			}); err != nil {
				return false, err
			}
		}
		m["mine"] = "1"
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2 (one 412, one retry)", attempts)
	}
	in, _ := e.c.Instance(ctx, "alpha", "us-central1-a", "lin-1")
	if in.Metadata["mine"] != "1" || in.Metadata["other"] != "1" {
		t.Errorf("metadata after the race: %v", in.Metadata)
	}
}

func (e *env) clientFor(t *testing.T, email string) *projects.Client {
	t.Helper()
	tok, err := e.srv.TokenFor(email)
	if err != nil {
		t.Fatal(err)
	}
	c, err := projects.NewClient(context.Background(), e.eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExpiredToken(t *testing.T) {
	w, err := world.Parse([]byte(testWorld), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Issued tokens live a millisecond: alice's fixed token still works,
	// every other token is expired by the time it is used.
	e := start(t, w, emulator.Options{TokenTTL: time.Millisecond, AgentDelay: -1})
	ctx := context.Background()
	tok, err := e.srv.TokenFor("bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if tok == "bob-token" {
		t.Fatal("TokenFor returned the fixed token; cannot test expiry")
	}
	time.Sleep(5 * time.Millisecond)
	c, err := projects.NewClient(ctx, e.eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Instance(ctx, "secret", "us-central1-a", "s-1")
	if !errors.Is(err, auth.ErrSignInExpired) || !strings.Contains(err.Error(), "sign in again") {
		t.Errorf("expired token: %v", err)
	}
	// Inventory stops at the first rejected credential instead of
	// reporting every project as a warning.
	if _, err := c.Inventory(ctx, []projects.Project{{ID: "alpha"}, {ID: "beta"}}); !errors.Is(err, auth.ErrSignInExpired) {
		t.Errorf("inventory with an expired token: %v", err)
	}
}

func TestOSLoginAndIAM(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	p, err := e.c.LoginProfile(ctx, "alice@example.com", "alpha")
	if err != nil {
		t.Fatal(err)
	}
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1Xd0r9b0VNaYp7tvY0kC6dNnL7Qn0Iq1VfBvJz3aF test"
	if p.HasKey(key) {
		t.Fatalf("profile has the key before it was imported: %+v", p)
	}
	p, err = e.c.ImportSSHPublicKey(ctx, "alice@example.com", "alpha", key, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasKey(key) || p.Username() == "" {
		t.Errorf("profile after import: %+v", p)
	}
	perms, err := e.c.TestInstancePermissions(ctx, "alpha", "us-central1-a", "lin-1", []string{"compute.instances.get", "compute.instances.setMetadata"})
	if err != nil || len(perms) != 2 {
		t.Errorf("instance permissions: %v, %v", perms, err)
	}
	perms, err = e.c.TestIAPTunnelPermissions(ctx, "alpha", "us-central1-a", "lin-1", []string{"iap.tunnelInstances.accessViaIAP"})
	if err != nil || len(perms) != 1 {
		t.Errorf("IAP permissions for an owner: %v, %v", perms, err)
	}
	if pol, err := e.c.ProjectPolicy(ctx, "alpha"); err != nil || len(pol.Bindings) == 0 {
		t.Errorf("project policy: %+v, %v", pol, err)
	}
	if _, err := e.c.IAPTunnelPolicy(ctx, "alpha", "", ""); err != nil {
		t.Errorf("IAP policy for an owner: %v", err)
	}
	if _, err := e.c.Firewalls(ctx, "alpha"); err != nil {
		t.Errorf("firewalls: %v", err)
	}
	if _, _, err := e.c.SerialPort(ctx, "alpha", "us-central1-a", "lin-1", 1, 0); err != nil {
		t.Errorf("serial port: %v", err)
	}
	if _, err := e.c.GuestHostKeys(ctx, "alpha", "us-central1-a", "lin-1"); err != nil {
		t.Errorf("guest host keys: %v", err)
	}
	if _, err := e.c.GuestHostKeys(ctx, "alpha", "us-central1-a", "nope"); !errors.Is(err, projects.ErrNotFound) {
		t.Errorf("guest host keys of a missing VM: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	w, err := world.Parse([]byte(testWorld), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, w, emulator.Options{AgentDelay: -1})
	ctx := context.Background()
	if err := e.c.Stop(ctx, "alpha", "us-central1-a", "lin-1"); err != nil {
		t.Fatal(err)
	}
	in, err := e.c.Instance(ctx, "alpha", "us-central1-a", "lin-1")
	if err != nil || in.Running() {
		t.Fatalf("after Stop: %s, %v", in.Status, err)
	}
	if err := e.c.Start(ctx, "alpha", "us-central1-a", "lin-1"); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.c.Instance(ctx, "alpha", "us-central1-a", "lin-1"); !in.Running() {
		t.Errorf("after Start: %s", in.Status)
	}
	if err := e.c.Stop(ctx, "secret", "us-central1-a", "s-1"); !errors.Is(err, projects.ErrPermissionDenied) {
		t.Errorf("stop without permission: %v", err)
	}
}

// TestUnreachableEndpoint: a server that cannot be reached is named by its
// address, with what to check, not by the whole request URL.
func TestUnreachableEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	eps, err := endpoint.Parse("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := projects.NewClient(ctx, eps, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Instance(ctx, "p", "us-central1-a", "vm")
	want := "cannot reach http://" + addr + " (check the network, any proxy in HTTPS_PROXY, and --endpoint or IAPTERM_ENDPOINT): "
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "/compute/") {
		t.Fatalf("error %v, want it to contain %q and no request path", err, want)
	}
}

// unreachableTokenSource fails as a refresh fails when the token server
// cannot be reached.
type unreachableTokenSource struct{ tokenURL string }

func (s unreachableTokenSource) Token() (*oauth2.Token, error) {
	_, err := http.Post(s.tokenURL, "application/x-www-form-urlencoded", nil)
	if err == nil {
		return nil, errors.New("the token server answered: want it unreachable")
	}
	return nil, fmt.Errorf("refreshing the access token: %w", err)
}

// TestUnreachableTokenServerIsNamed: when the token server is what cannot be
// reached, the message names it, not the API server that was never asked.
func TestUnreachableTokenServerIsNamed(t *testing.T) {
	e := startTest(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tokenAddr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx := context.Background()
	c, err := projects.NewClient(ctx, e.eps, unreachableTokenSource{"http://" + tokenAddr + "/token"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Instance(ctx, "acme-prod", "us-central1-a", "web-1")
	want := "cannot reach http://" + tokenAddr + " ("
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "cannot reach "+strings.TrimSuffix(e.eps.Compute, "/compute/v1/")) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}

type failingTokenSource struct{}

func (failingTokenSource) Token() (*oauth2.Token, error) {
	return nil, errors.New("refreshing the access token failed (HTTP 500)")
}

// TestTokenFailureIsNotUnreachable: a token that cannot be had is not a
// network problem, and is not reported as one.
func TestTokenFailureIsNotUnreachable(t *testing.T) {
	e := startTest(t)
	ctx := context.Background()
	c, err := projects.NewClient(ctx, e.eps, failingTokenSource{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Instance(ctx, "acme-prod", "us-central1-a", "web-1")
	if err == nil || strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "refreshing the access token failed") {
		t.Fatalf("error %v", err)
	}
}
