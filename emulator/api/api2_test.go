package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv3 "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	iap "google.golang.org/api/iap/v1"
	"google.golang.org/api/option"
	oslogin "google.golang.org/api/oslogin/v1"

	"iapterm/emulator/cloud"
)

func marshalAuthorized(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }

func (e *env) opts(token string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.srv.URL + "/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))}
}

func TestResourceManager(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	v1, err := crmv1.NewService(ctx, e.opts("alice-token")...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		want   string
	}{
		{"", "[other-thing proj-a proj-b]"},
		{`name:"*alpha*" OR id:"*alpha*"`, "[proj-a]"},
		{`name:*BETA* OR id:*BETA*`, "[proj-b]"},
		{`id:proj-*`, "[proj-a proj-b]"},
		{`lifecycleState:DELETE_REQUESTED`, "[other-thing]"},
		{`labels.env:prod`, "[proj-a]"},
		{`parent.id:42`, "[proj-a]"},
	}
	for _, tt := range tests {
		var ids []string
		err := v1.Projects.List().Filter(tt.filter).PageSize(1).Pages(ctx, func(r *crmv1.ListProjectsResponse) error {
			for _, p := range r.Projects {
				ids = append(ids, p.ProjectId)
			}
			return nil
		})
		if err != nil || fmt.Sprint(ids) != tt.want {
			t.Errorf("filter %q: %v %v, want %s", tt.filter, ids, err, tt.want)
		}
	}
	p, err := v1.Projects.Get("proj-a").Do()
	if err != nil || p.ProjectNumber != 1111 || p.Name != "Project Alpha" || p.Parent.Type != "organization" {
		t.Fatalf("get %+v %v", p, err)
	}
	held, err := v1.Projects.TestIamPermissions("proj-b", &crmv1.TestIamPermissionsRequest{Permissions: []string{"resourcemanager.projects.get", "compute.instances.setMetadata"}}).Do()
	if err != nil || fmt.Sprint(held.Permissions) != "[resourcemanager.projects.get]" {
		t.Fatalf("testIamPermissions %v %v", held, err)
	}
	pol, err := v1.Projects.GetIamPolicy("proj-a", &crmv1.GetIamPolicyRequest{Options: &crmv1.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil || len(pol.Bindings) != 3 || pol.Etag == "" {
		t.Fatalf("getIamPolicy %+v %v", pol, err)
	}
	bob, _ := crmv1.NewService(ctx, e.opts("bob-token")...)
	if r, err := bob.Projects.List().Do(); err != nil || len(r.Projects) != 0 {
		t.Fatalf("bob sees %v %v", r, err)
	}
	_, err = bob.Projects.Get("proj-a").Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 {
		t.Fatalf("bob get: %v", err)
	}
	if _, err := bob.Projects.GetIamPolicy("proj-a", &crmv1.GetIamPolicyRequest{}).Do(); err == nil {
		t.Fatal("bob read the IAM policy")
	}
	code, m := e.raw("GET", "/v1/projects/proj-a", "bob-token", "")
	if code != 403 || m["error"].(map[string]any)["status"] != "PERMISSION_DENIED" {
		t.Fatalf("raw 403: %v", m)
	}
	code, m = e.raw("GET", "/v1/projects?filter=id:proj-a", "alice-token", "")
	if code != 200 || m["projects"].([]any)[0].(map[string]any)["projectNumber"] != "1111" {
		t.Fatalf("projectNumber is not a string: %v", m)
	}

	v3, _ := crmv3.NewService(ctx, e.opts("alice-token")...)
	held3, err := v3.Projects.TestIamPermissions("projects/1111", &crmv3.TestIamPermissionsRequest{Permissions: []string{"resourcemanager.projects.get"}}).Do()
	if err != nil || len(held3.Permissions) != 1 {
		t.Fatalf("v3 testIamPermissions %v %v", held3, err)
	}
	pol3, err := v3.Projects.GetIamPolicy("projects/proj-a", &crmv3.GetIamPolicyRequest{}).Do()
	if err != nil || len(pol3.Bindings) != 3 {
		t.Fatalf("v3 getIamPolicy %v %v", pol3, err)
	}
	r3, err := v3.Projects.Search().Query("displayName:beta*").Do()
	if err != nil || len(r3.Projects) != 1 || r3.Projects[0].ProjectId != "proj-b" || !strings.HasPrefix(r3.Projects[0].Name, "projects/") {
		t.Fatalf("v3 search %+v %v", r3, err)
	}
}

func TestIAP(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	carol, _ := iap.NewService(ctx, e.opts("carol-token")...)
	alice, _ := iap.NewService(ctx, e.opts("alice-token")...)
	req := &iap.TestIamPermissionsRequest{Permissions: []string{"iap.tunnelInstances.accessViaIAP"}}
	res := "projects/proj-a/iap_tunnel/zones/us-central1-a/instances/vm-1"
	// carol's grant has a condition on destination.port, which
	// testIamPermissions cannot evaluate: not held.
	r, err := carol.V1.TestIamPermissions(res, req).Do()
	if err != nil || len(r.Permissions) != 0 {
		t.Fatalf("carol: %v %v", r, err)
	}
	r, err = alice.V1.TestIamPermissions(res, req).Do()
	if err != nil || len(r.Permissions) != 1 {
		t.Fatalf("alice: %v %v", r, err)
	}
	r, err = alice.V1.TestIamPermissions("projects/proj-a/iap_tunnel", req).Do()
	if err != nil || len(r.Permissions) != 1 {
		t.Fatalf("alice on the project: %v %v", r, err)
	}
	pol, err := alice.V1.GetIamPolicy("projects/proj-a/iap_tunnel", &iap.GetIamPolicyRequest{Options: &iap.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil || pol.Version != 3 || len(pol.Bindings) != 1 || pol.Bindings[0].Condition.Expression != "destination.port == 22" || pol.Etag == "" {
		t.Fatalf("policy %+v %v", pol, err)
	}
	_, err = carol.V1.GetIamPolicy("projects/proj-a/iap_tunnel", &iap.GetIamPolicyRequest{}).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 {
		t.Fatalf("carol read the policy: %v", err)
	}
	code, m := e.raw("POST", "/v1/projects/proj-a/iap_tunnel:getIamPolicy", "carol-token", "{}")
	if code != 403 || m["error"].(map[string]any)["status"] != "PERMISSION_DENIED" {
		t.Fatalf("raw %d %v", code, m)
	}
}

func newSigner(t *testing.T) (ssh.Signer, string) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(priv)
	return s, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestOSLoginAndBuiltinSSH(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	svc, _ := oslogin.NewService(ctx, e.opts("carol-token")...)
	signer, line := newSigner(t)
	prof, err := svc.Users.GetLoginProfile("users/carol@example.com").ProjectId("proj-a").Do()
	if err != nil || prof.PosixAccounts[0].Username != "carol_example_com" || !prof.PosixAccounts[0].Primary || prof.PosixAccounts[0].OperatingSystemType != "LINUX" {
		t.Fatalf("profile %+v %v", prof, err)
	}
	exp := time.Now().Add(time.Hour).UnixMicro()
	imp, err := svc.Users.ImportSshPublicKey("users/carol@example.com", &oslogin.SshPublicKey{Key: line + " carol", ExpirationTimeUsec: exp}).ProjectId("proj-a").Do()
	if err != nil || len(imp.LoginProfile.SshPublicKeys) != 1 {
		t.Fatalf("import %+v %v", imp, err)
	}
	var fp string
	for k, v := range imp.LoginProfile.SshPublicKeys {
		fp = k
		if v.ExpirationTimeUsec != exp {
			t.Fatalf("expiry %d, want %d", v.ExpirationTimeUsec, exp)
		}
	}
	// %40 and @ both name the user.
	code, m := e.raw("GET", "/v1/users/carol%40example.com/loginProfile?projectId=proj-a", "carol-token", "")
	if code != 200 || m["posixAccounts"].([]any)[0].(map[string]any)["uid"] == nil {
		t.Fatalf("raw profile %d %v", code, m)
	}
	if _, ok := m["posixAccounts"].([]any)[0].(map[string]any)["uid"].(string); !ok {
		t.Fatal("uid is not a string")
	}
	// Another user's profile is not readable.
	if _, err := svc.Users.GetLoginProfile("users/alice@example.com").Do(); err == nil {
		t.Fatal("read another user's profile")
	}
	dave, _ := oslogin.NewService(ctx, e.opts("dave-token")...)
	if p, err := dave.Users.GetLoginProfile("users/Dave.Smith@example.com").Do(); err != nil || p.PosixAccounts[0].Username != "dave" {
		t.Fatalf("posixUsername override: %+v %v", p, err)
	}

	// Turn OS Login on for vm-1 and log in to its built-in SSH server.
	cs := e.computeSvc("alice-token")
	in, _ := cs.Instances.Get("proj-a", "us-central1-a", "vm-1").Do()
	on := "TRUE"
	if _, err := cs.Instances.SetMetadata("proj-a", "us-central1-a", "vm-1", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint, Items: items("enable-oslogin", on)}).Do(); err != nil {
		t.Fatal(err)
	}
	conn, err := e.c.DialBackend(ctx, mustInstance(t, e, "vm-1"), 22)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := e.api.ssh.HostKey("proj-a/us-central1-a/vm-1")
	client := sshClient(t, conn, "carol_example_com", hk, ssh.PublicKeys(signer))
	sess, _ := client.NewSession()
	out, err := sess.Output("echo hi from $USER")
	if err != nil || string(out) != "hi from carol_example_com\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	client.Close()

	// 2-step verification for carol, who has a code.
	in, _ = cs.Instances.Get("proj-a", "us-central1-a", "vm-1").Do()
	if _, err := cs.Instances.SetMetadata("proj-a", "us-central1-a", "vm-1", &compute.Metadata{Fingerprint: in.Metadata.Fingerprint, Items: items("enable-oslogin", on, "enable-oslogin-2fa", on)}).Do(); err != nil {
		t.Fatal(err)
	}
	conn, _ = e.c.DialBackend(ctx, mustInstance(t, e, "vm-1"), 22)
	ki := ssh.KeyboardInteractive(func(_, _ string, q []string, _ []bool) ([]string, error) {
		if len(q) != 1 || !strings.Contains(q[0], "one-time code") {
			return nil, fmt.Errorf("unexpected prompts %q", q)
		}
		return []string{"123456"}, nil
	})
	client = sshClient(t, conn, "carol_example_com", hk, ssh.PublicKeys(signer), ki)
	client.Close()

	// Deleting the key removes access.
	if _, err := svc.Users.SshPublicKeys.Delete("users/carol@example.com/sshPublicKeys/" + fp).Do(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.api.agent.Authorize("proj-a/us-central1-a/vm-1", "carol_example_com", signer.PublicKey()); ok {
		t.Fatal("deleted key still accepted")
	}
}

func TestOSLoginForbiddenKeys(t *testing.T) {
	e := newEnv(t, Options{ForbidUserSSHKeys: true})
	svc, _ := oslogin.NewService(context.Background(), e.opts("carol-token")...)
	_, line := newSigner(t)
	imp, err := svc.Users.ImportSshPublicKey("users/carol@example.com", &oslogin.SshPublicKey{Key: line}).Do()
	if err != nil || len(imp.LoginProfile.SshPublicKeys) != 0 {
		t.Fatalf("import under the policy: %+v %v", imp, err)
	}
}

func TestMetadataKeysReachTheBuiltinSSHServer(t *testing.T) {
	e := newEnv(t, Options{AgentDelay: 30 * time.Millisecond})
	signer, line := newSigner(t)
	cs := e.computeSvc("alice-token")
	p, _ := cs.Projects.Get("proj-a").Do()
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05-0700")
	if _, err := cs.Projects.SetCommonInstanceMetadata("proj-a", &compute.Metadata{Fingerprint: p.CommonInstanceMetadata.Fingerprint,
		Items: items("ssh-keys", "alice:"+line+` google-ssh {"userName":"alice@example.com","expireOn":"`+exp+`"}`)}).Do(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _ := e.api.agent.Authorize("proj-a/us-central1-a/vm-1", "alice", signer.PublicKey())
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key never reached the VM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	conn, err := e.c.DialBackend(context.Background(), mustInstance(t, e, "vm-1"), 22)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := e.api.ssh.HostKey("proj-a/us-central1-a/vm-1")
	client := sshClient(t, conn, "alice", hk, ssh.PublicKeys(signer))
	sess, _ := client.NewSession()
	err = sess.Run("exit 3")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("exit status: %v", err)
	}
	client.Close()
}

func mustInstance(t *testing.T, e *env, name string) cloud.Instance {
	for _, in := range e.c.AllInstances() {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s", name)
	return cloud.Instance{}
}

func sshClient(t *testing.T, conn net.Conn, user string, hk ssh.PublicKey, auth ...ssh.AuthMethod) *ssh.Client {
	t.Helper()
	c, chans, reqs, err := ssh.NewClientConn(conn, "vm", &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.FixedHostKey(hk)})
	if err != nil {
		t.Fatalf("ssh login as %s: %v", user, err)
	}
	return ssh.NewClient(c, chans, reqs)
}

func TestOAuthCodeFlow(t *testing.T) {
	e := newEnv(t, Options{})
	redirect := "http://127.0.0.1:4242/cb"
	conf := &oauth2.Config{ClientID: "cid", ClientSecret: "sec", RedirectURL: redirect,
		Scopes:   []string{"openid", "https://www.googleapis.com/auth/cloud-platform"},
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/o/oauth2/v2/auth", TokenURL: e.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// consent returns a code for alice.
	consent := func(verifier, state string) string {
		t.Helper()
		authURL := conf.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier))
		resp, err := http.Get(authURL)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("consent page: %v %v", resp, err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"alice@example.com", "bob@example.com", `value="allow"`, "cloud-platform"} {
			if !strings.Contains(string(page), want) {
				t.Fatalf("consent page lacks %q", want)
			}
		}
		u, _ := url.Parse(authURL)
		form := u.Query()
		form.Set("login", "alice@example.com")
		form.Set("action", "allow")
		resp, err = noRedirect.PostForm(e.srv.URL+"/o/oauth2/v2/auth", form)
		if err != nil || resp.StatusCode != 302 {
			t.Fatalf("consent: %v %v", resp, err)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != state {
			t.Fatalf("redirect %s", loc)
		}
		return loc.Query().Get("code")
	}
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()

	code := consent(verifier, "st&ate=1")
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isInvalidGrant(err) {
		t.Fatalf("wrong verifier: %v", err)
	}
	code = consent(verifier, "s2")
	other := *conf
	other.RedirectURL = "http://127.0.0.1:4243/cb"
	if _, err := other.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("redirect mismatch accepted")
	}
	code = consent(verifier, "s3")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" || tok.Extra("id_token") == nil || tok.Expiry.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("exchange: %+v %v", tok, err)
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isInvalidGrant(err) {
		t.Fatalf("reused code: %v", err)
	}
	code2, m := e.raw("GET", "/oauth2/v2/userinfo", tok.AccessToken, "")
	if code2 != 200 || m["email"] != "alice@example.com" || m["verified_email"] != true {
		t.Fatalf("userinfo %v", m)
	}
	code2, m = e.raw("GET", "/tokeninfo?access_token="+url.QueryEscape(tok.AccessToken), "", "")
	if code2 != 200 || m["scope"] != "openid https://www.googleapis.com/auth/cloud-platform" || m["email"] != "alice@example.com" {
		t.Fatalf("tokeninfo %d %v", code2, m)
	}
	if code2, _ = e.raw("GET", "/tokeninfo?access_token=nope", "", ""); code2 != 400 {
		t.Fatalf("tokeninfo of an unknown token: %d", code2)
	}
	// refresh
	tok.Expiry = time.Now().Add(-time.Second)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	// revoke the refresh token: it and its access tokens stop working.
	resp, err := http.PostForm(e.srv.URL+"/revoke", url.Values{"token": {tok.RefreshToken}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke %v %v", resp, err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isInvalidGrant(err) {
		t.Fatalf("revoked refresh: %v", err)
	}
	if c, _ := e.raw("GET", "/oauth2/v2/userinfo", fresh.AccessToken, ""); c != 401 {
		t.Fatalf("access token of a revoked grant still works: %d", c)
	}

	// Bad authorization requests are refused on the page.
	bad := []url.Values{
		{"redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"x"}, "code_challenge_method": {"S256"}},
		{"client_id": {"c"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"x"}, "code_challenge_method": {"S256"}},
		{"client_id": {"c"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}},
		{"client_id": {"c"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {"x"}, "code_challenge_method": {"plain"}},
		{"client_id": {"c"}, "redirect_uri": {redirect}, "response_type": {"token"}, "scope": {"openid"}, "code_challenge": {"x"}, "code_challenge_method": {"S256"}},
	}
	for _, q := range bad {
		resp, err := noRedirect.Get(e.srv.URL + "/o/oauth2/v2/auth?" + q.Encode())
		if err != nil || resp.StatusCode != 400 {
			t.Errorf("%v: %v %v", q, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

// items builds metadata items from key, value pairs.
func items(kv ...string) []*compute.MetadataItems {
	var out []*compute.MetadataItems
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		out = append(out, &compute.MetadataItems{Key: kv[i], Value: &v})
	}
	return out
}

func TestOAuthUntickedScope(t *testing.T) {
	e := newEnv(t, Options{})
	verifier := oauth2.GenerateVerifier()
	conf := &oauth2.Config{ClientID: "cid", RedirectURL: "http://localhost:5555/",
		Scopes:   []string{"openid", "https://www.googleapis.com/auth/cloud-platform"},
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/o/oauth2/v2/auth", TokenURL: e.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	u, _ := url.Parse(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	form := u.Query()
	form.Set("login", "bob@example.com")
	form.Set("action", "allow")
	form.Set("scopes_form", "1")
	form["grant_scope"] = []string{"openid"}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(e.srv.URL+"/o/oauth2/v2/auth", form)
	if err != nil || resp.StatusCode != 302 {
		t.Fatalf("consent: %v %v", resp, err)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.Extra("scope") != "openid" {
		t.Fatalf("granted scope %v, err %v", tok.Extra("scope"), err)
	}
	_, m := e.raw("GET", "/oauth2/v2/userinfo", tok.AccessToken, "")
	if m["email"] != "bob@example.com" {
		t.Fatalf("userinfo %v", m)
	}
}
