package sshclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
)

// fakeCloud is an in-memory MetadataService, OSLoginService and
// ProjectPermissionTester.
type fakeCloud struct {
	mu             sync.Mutex
	project        map[string]string
	instance       map[string]string
	projectWrites  int
	instanceWrites int
	denyProject    bool // project metadata writes fail 403
	perms          []string
	permsCalled    bool
	profileKeys    []string
	dropImported   bool // organisation policy: the key is not kept
	posixUser      string
	onChange       func() // the "guest agent" noticing a change
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{project: map[string]string{}, instance: map[string]string{}, posixUser: "alice_example_com"}
}

func (f *fakeCloud) ProjectMetadata(_ context.Context, project string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.project {
		out[k] = v
	}
	return out, nil
}

func (f *fakeCloud) update(items map[string]string, fn func(map[string]string) (bool, error), writes *int) error {
	cp := map[string]string{}
	for k, v := range items {
		cp[k] = v
	}
	changed, err := fn(cp)
	if err != nil || !changed {
		return err
	}
	for k := range items {
		delete(items, k)
	}
	for k, v := range cp {
		items[k] = v
	}
	*writes++
	if f.onChange != nil {
		f.onChange()
	}
	return nil
}

func (f *fakeCloud) UpdateProjectMetadata(_ context.Context, project string, fn func(map[string]string) (bool, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denyProject {
		return &googleapi.Error{Code: http.StatusForbidden, Message: "Required 'compute.projects.setCommonInstanceMetadata' permission"}
	}
	return f.update(f.project, fn, &f.projectWrites)
}

func (f *fakeCloud) UpdateInstanceMetadata(_ context.Context, project, zone, name string, fn func(map[string]string) (bool, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(f.instance, fn, &f.instanceWrites)
}

func (f *fakeCloud) TestProjectPermissions(_ context.Context, project string, perms []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.permsCalled = true
	return f.perms, nil
}

func (f *fakeCloud) ImportSSHPublicKey(_ context.Context, email, project, key string, expiry time.Time) (LoginProfile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dropImported {
		f.profileKeys = append(f.profileKeys, key)
		if f.onChange != nil {
			f.onChange()
		}
	}
	return LoginProfile{
		PosixAccounts: []PosixAccount{
			{Primary: false, Username: "other", OperatingSystemType: "LINUX"},
			{Primary: true, Username: "win", OperatingSystemType: "WINDOWS"},
			{Primary: true, Username: f.posixUser, OperatingSystemType: "LINUX"},
		},
		SSHPublicKeys: append([]string(nil), f.profileKeys...),
	}, nil
}

func TestReadGuestSettings(t *testing.T) {
	tests := []struct {
		name              string
		instance, project map[string]string
		want              GuestSettings
	}{
		{"none", nil, nil, GuestSettings{}},
		{"project on", nil, map[string]string{"enable-oslogin": "TRUE"}, GuestSettings{OSLogin: true}},
		{"instance false overrides project true", map[string]string{"enable-oslogin": "false"}, map[string]string{"enable-oslogin": "true"}, GuestSettings{}},
		{"instance true overrides project false", map[string]string{"enable-oslogin": "1"}, map[string]string{"enable-oslogin": "false"}, GuestSettings{OSLogin: true}},
		{"unparseable instance falls to project", map[string]string{"enable-oslogin": "yes"}, map[string]string{"enable-oslogin": "t"}, GuestSettings{OSLogin: true}},
		{"2fa and sk", nil, map[string]string{"enable-oslogin": "true", "enable-oslogin-2fa": "True", "enable-oslogin-sk": "T"}, GuestSettings{OSLogin: true, OSLogin2FA: true, OSLoginSK: true}},
		{"block from project too", nil, map[string]string{"block-project-ssh-keys": "true"}, GuestSettings{BlockProjectKeys: true}},
		{"legacy sshKeys", map[string]string{"sshKeys": ""}, nil, GuestSettings{LegacySSHKeys: true}},
	}
	for _, tt := range tests {
		if got := ReadGuestSettings(tt.instance, tt.project); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	key := keyA + " iapterm"
	tests := []struct {
		name         string
		instanceMeta map[string]string
		projectMeta  map[string]string
		setup        func(f *fakeCloud, p *Publisher)
		want         Method
		wantUser     string
		wantErr      error
		errContains  string
	}{
		{name: "project metadata by default", want: MethodProjectMetadata, wantUser: "alice"},
		{name: "instance when blocked on instance", instanceMeta: map[string]string{"block-project-ssh-keys": "true"}, want: MethodInstanceMetadata, wantUser: "alice"},
		{name: "instance when blocked on project", projectMeta: map[string]string{"block-project-ssh-keys": "true"}, want: MethodInstanceMetadata, wantUser: "alice"},
		{name: "instance when project write is forbidden", setup: func(f *fakeCloud, _ *Publisher) { f.denyProject = true }, want: MethodInstanceMetadata, wantUser: "alice"},
		{name: "instance when permission is missing", setup: func(f *fakeCloud, p *Publisher) { p.Permissions = f; f.perms = nil }, want: MethodInstanceMetadata, wantUser: "alice"},
		{name: "project when permission is held", setup: func(f *fakeCloud, p *Publisher) { p.Permissions = f; f.perms = []string{permSetCommonMetadata} }, want: MethodProjectMetadata, wantUser: "alice"},
		{name: "os login from project", projectMeta: map[string]string{"enable-oslogin": "true"}, want: MethodOSLogin, wantUser: "alice_example_com"},
		{name: "os login from instance", instanceMeta: map[string]string{"enable-oslogin": "true"}, projectMeta: map[string]string{"enable-oslogin": "false"}, want: MethodOSLogin, wantUser: "alice_example_com"},
		{name: "instance false beats project os login", instanceMeta: map[string]string{"enable-oslogin": "false"}, projectMeta: map[string]string{"enable-oslogin": "true"}, want: MethodProjectMetadata, wantUser: "alice"},
		{name: "security keys", projectMeta: map[string]string{"enable-oslogin": "true", "enable-oslogin-sk": "true"}, wantErr: ErrSecurityKeysUnsupported},
		{name: "org policy drops key", projectMeta: map[string]string{"enable-oslogin": "true"}, setup: func(f *fakeCloud, _ *Publisher) { f.dropImported = true }, wantErr: ErrOSLoginKeyRejected},
		{name: "no linux account", projectMeta: map[string]string{"enable-oslogin": "true"}, setup: func(f *fakeCloud, _ *Publisher) { f.posixUser = "" }, errContains: "no primary Linux account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud()
			for k, v := range tt.projectMeta {
				f.project[k] = v
			}
			for k, v := range tt.instanceMeta {
				f.instance[k] = v
			}
			p := &Publisher{Metadata: f, OSLogin: f, Now: func() time.Time { return now }}
			if tt.setup != nil {
				tt.setup(f, p)
			}
			target := Target{Project: "p", Zone: "z", Instance: "vm", Metadata: tt.instanceMeta}
			pub, err := p.Publish(ctx, target, key, PublishOptions{Email: "Alice@example.com"})
			if tt.wantErr != nil || tt.errContains != "" {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.errContains) {
					t.Fatalf("err = %v, want %v %q", err, tt.wantErr, tt.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pub.Method != tt.want || pub.Username != tt.wantUser || !pub.Changed {
				t.Fatalf("publication %+v, want %s as %s", pub, tt.want, tt.wantUser)
			}
			if !pub.Expiry.Equal(now.Add(DefaultValidity)) {
				t.Errorf("expiry %v", pub.Expiry)
			}
			var where map[string]string
			switch tt.want {
			case MethodProjectMetadata:
				where = f.project
			case MethodInstanceMetadata:
				where = f.instance
			case MethodOSLogin:
				if len(f.profileKeys) != 1 || f.projectWrites+f.instanceWrites != 0 {
					t.Fatalf("os login: keys %v, metadata writes %d", f.profileKeys, f.projectWrites+f.instanceWrites)
				}
				return
			}
			if !strings.Contains(where["ssh-keys"], "alice:"+keyA+` google-ssh {"userName":"Alice@example.com"`) {
				t.Fatalf("ssh-keys = %q", where["ssh-keys"])
			}
			// Publishing again changes nothing.
			writes := f.projectWrites + f.instanceWrites
			target.Metadata = f.instance
			pub, err = p.Publish(ctx, target, key, PublishOptions{Email: "Alice@example.com"})
			if err != nil || pub.Changed || f.projectWrites+f.instanceWrites != writes {
				t.Fatalf("second publish wrote again: %+v %v", pub, err)
			}
		})
	}
}

func TestPublishUsernameAndValidity(t *testing.T) {
	f := newFakeCloud()
	p := &Publisher{Metadata: f, Now: func() time.Time { return now }}
	pub, err := p.Publish(context.Background(), Target{Project: "p", Zone: "z", Instance: "vm"}, keyA, PublishOptions{Email: "a@b.c", Username: "deploy", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Username != "deploy" || !pub.Expiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("%+v", pub)
	}
	if !strings.HasPrefix(f.project["ssh-keys"], "deploy:") || !strings.Contains(f.project["ssh-keys"], "2026-06-01T13:00:00+0000") {
		t.Fatalf("ssh-keys = %q", f.project["ssh-keys"])
	}
	if _, err := p.Publish(context.Background(), Target{Project: "p"}, keyA, PublishOptions{Email: "a@b.c", Username: "bad user"}); err == nil {
		t.Fatal("invalid username accepted")
	}
	if _, err := p.Publish(context.Background(), Target{Project: "p"}, keyA, PublishOptions{Email: "a@b.c", Mode: "carrier-pigeon"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
	p.OSLogin = f
	if pub, err := p.Publish(context.Background(), Target{Project: "p"}, keyA, PublishOptions{Email: "a@b.c", Mode: "oslogin"}); err != nil || pub.Method != MethodOSLogin {
		t.Fatalf("forced OS Login: %+v %v", pub, err)
	}
	f.project["enable-oslogin"] = "true"
	if pub, err := p.Publish(context.Background(), Target{Project: "p"}, keyA, PublishOptions{Email: "a@b.c", Mode: "metadata"}); err != nil || pub.Method != MethodProjectMetadata {
		t.Fatalf("forced metadata: %+v %v", pub, err)
	}
	if _, err := p.Publish(context.Background(), Target{Project: "p"}, keyA, PublishOptions{}); err == nil {
		t.Fatal("no email accepted")
	}
}
