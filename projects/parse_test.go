package projects

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"iapterm/auth"
)

func TestDetectOS(t *testing.T) {
	lic := func(l ...string) []*compute.AttachedDisk { return []*compute.AttachedDisk{{Boot: true, Licenses: l}} }
	tests := []struct {
		name  string
		disks []*compute.AttachedDisk
		want  OS
	}{
		{"none", nil, Linux},
		{"debian", lic("https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm"), Linux},
		{"windows license", lic("https://www.googleapis.com/compute/v1/projects/windows-cloud/global/licenses/windows-server-2022-dc"), Windows},
		{"byol", lic("https://www.googleapis.com/compute/v1/projects/windows-cloud/global/licenses/windows-server-2019-byol"), Windows},
		{"relative license", lic("projects/windows-cloud/global/licenses/x"), Windows},
		{"lookalike project", lic("https://www.googleapis.com/compute/v1/projects/my-windows-cloud/global/licenses/x"), Linux},
		{"guest os feature", []*compute.AttachedDisk{{GuestOsFeatures: []*compute.GuestOsFeature{{Type: "VIRTIO_SCSI_MULTIQUEUE"}, {Type: "WINDOWS"}}}}, Windows},
		{"feature on data disk", []*compute.AttachedDisk{{Boot: true}, nil, {GuestOsFeatures: []*compute.GuestOsFeature{{Type: "WINDOWS"}}}}, Windows},
		{"linux features", []*compute.AttachedDisk{{GuestOsFeatures: []*compute.GuestOsFeature{{Type: "UEFI_COMPATIBLE"}, nil}}}, Linux},
	}
	for _, tt := range tests {
		if got := DetectOS(tt.disks); got != tt.want {
			t.Errorf("%s: DetectOS = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestParseInstance(t *testing.T) {
	ci := &compute.Instance{
		Id:          1234567890123456789,
		Name:        "web-1",
		Zone:        "https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b",
		MachineType: "https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b/machineTypes/e2-small",
		Status:      "RUNNING",
		NetworkInterfaces: []*compute.NetworkInterface{
			{Name: "nic1", NetworkIP: "10.1.0.9", AccessConfigs: []*compute.AccessConfig{{Type: "ONE_TO_ONE_NAT", NatIP: "34.1.1.1"}}},
			{Name: "nic0", NetworkIP: "10.0.0.5", Network: "https://www.googleapis.com/compute/v1/projects/host/global/networks/shared",
				AccessConfigs: []*compute.AccessConfig{{Type: "DIRECT_IPV6"}, {Type: "ONE_TO_ONE_NAT"}}},
		},
		Metadata:               &compute.Metadata{Items: []*compute.MetadataItems{{Key: "enable-oslogin", Value: googleapi.String("TRUE")}, {Key: "empty"}}},
		Labels:                 map[string]string{"env": "prod"},
		Tags:                   &compute.Tags{Items: []string{"ssh"}},
		ServiceAccounts:        []*compute.ServiceAccount{{Email: "sa@p.iam.gserviceaccount.com", Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}},
		ShieldedInstanceConfig: &compute.ShieldedInstanceConfig{EnableSecureBoot: true, EnableVtpm: true},
	}
	in := ParseInstance("p", ci)
	want := map[string]string{
		"ID": "1234567890123456789", "Zone": "europe-west1-b", "MachineType": "e2-small",
		"InternalIP": "10.0.0.5", "ExternalIP": "34.1.1.1", "ServiceAccount": "sa@p.iam.gserviceaccount.com",
		"Network": "https://www.googleapis.com/compute/v1/projects/host/global/networks/shared", "OS": "linux",
	}
	got := map[string]string{
		"ID": in.ID, "Zone": in.Zone, "MachineType": in.MachineType, "InternalIP": in.InternalIP,
		"ExternalIP": in.ExternalIP, "ServiceAccount": in.ServiceAccount, "Network": in.Network, "OS": string(in.OS),
	}
	if !maps.Equal(got, want) {
		t.Errorf("parsed %v\nwant   %v", got, want)
	}
	if in.Metadata["enable-oslogin"] != "TRUE" || in.Metadata["empty"] != "" || len(in.Metadata) != 2 {
		t.Errorf("metadata %v", in.Metadata)
	}
	if !in.ShieldedVM["secureBoot"] || !in.ShieldedVM["vTPM"] || in.ShieldedVM["integrityMonitoring"] {
		t.Errorf("shielded %v", in.ShieldedVM)
	}
	if in.Key() != "p/europe-west1-b/web-1" || len(in.Tags) != 1 || in.Labels["env"] != "prod" || len(in.Scopes) != 1 {
		t.Errorf("instance %+v", in)
	}
	// Nothing optional set must not panic.
	empty := ParseInstance("p", &compute.Instance{Name: "bare"})
	if empty.ID != "" || empty.InternalIP != "" || empty.OS != Linux {
		t.Errorf("bare instance %+v", empty)
	}
}

func TestProjectFilter(t *testing.T) {
	tests := map[string]string{
		"":        "",
		"  ":      "",
		"prod":    `name:"*prod*" OR id:"*prod*"`,
		`a"b\c`:   `name:"*abc*" OR id:"*abc*"`,
		" shop  ": `name:"*shop*" OR id:"*shop*"`,
	}
	for in, want := range tests {
		if got := projectFilter(in); got != want {
			t.Errorf("projectFilter(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestApplyMutation(t *testing.T) {
	md := &compute.Metadata{Fingerprint: "fp1", Items: []*compute.MetadataItems{
		{Key: "b", Value: googleapi.String("1")},
		{Key: "a", Value: googleapi.String("2")},
		{Key: "c", Value: googleapi.String("3")},
	}}
	tests := []struct {
		name        string
		mutate      MutateFunc
		wantChanged bool
		wantKeys    string
	}{
		{"no-op says unchanged", func(m map[string]string) (bool, error) { return false, nil }, false, ""},
		{"claims change but equal", func(m map[string]string) (bool, error) { m["a"] = "2"; return true, nil }, false, ""},
		{"update keeps order", func(m map[string]string) (bool, error) { m["a"] = "x"; return true, nil }, true, "b=1 a=x c=3"},
		{"add appends sorted", func(m map[string]string) (bool, error) { m["z"] = "9"; m["d"] = "8"; return true, nil }, true, "b=1 a=2 c=3 d=8 z=9"},
		{"delete", func(m map[string]string) (bool, error) { delete(m, "a"); return true, nil }, true, "b=1 c=3"},
		{"delete all", func(m map[string]string) (bool, error) { clear(m); return true, nil }, true, ""},
	}
	for _, tt := range tests {
		out, changed, err := applyMutation(md, tt.mutate)
		if err != nil || changed != tt.wantChanged {
			t.Errorf("%s: changed=%v err=%v", tt.name, changed, err)
			continue
		}
		if !changed {
			continue
		}
		var kv []string
		for _, it := range out.Items {
			kv = append(kv, it.Key+"="+*it.Value)
		}
		if strings.Join(kv, " ") != tt.wantKeys || out.Fingerprint != "fp1" {
			t.Errorf("%s: items %v fingerprint %q", tt.name, kv, out.Fingerprint)
		}
	}
	for name, mutate := range map[string]MutateFunc{
		"bad key":   func(m map[string]string) (bool, error) { m["bad key"] = "x"; return true, nil },
		"long key":  func(m map[string]string) (bool, error) { m[strings.Repeat("k", 129)] = "x"; return true, nil },
		"big value": func(m map[string]string) (bool, error) { m["k"] = strings.Repeat("v", 256<<10+1); return true, nil },
		"big total": func(m map[string]string) (bool, error) {
			for i := range 3 {
				m[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 200<<10)
			}
			return true, nil
		},
	} {
		if _, _, err := applyMutation(md, mutate); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	boom := errors.New("boom")
	if _, _, err := applyMutation(nil, func(map[string]string) (bool, error) { return true, boom }); !errors.Is(err, boom) {
		t.Errorf("mutate error lost: %v", err)
	}
	if md.Items[1].Key != "a" || *md.Items[1].Value != "2" {
		t.Error("applyMutation modified its input")
	}
}

func TestTranslate(t *testing.T) {
	o := instanceOp("p", "z", "vm", "compute.instances.get", "roles/compute.viewer")
	tests := []struct {
		err  error
		want string
		is   error
	}{
		{&googleapi.Error{Code: 404, Message: "The resource was not found"}, "instance vm not found in project p zone z", ErrNotFound},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "forbidden"}}}, "you lack permission compute.instances.get on instance vm in project p zone z; ask for role roles/compute.viewer", ErrPermissionDenied},
		{&googleapi.Error{Code: 403, Message: "Compute Engine API has not been used in project 1 before or it is disabled.", Errors: []googleapi.ErrorItem{{Reason: "accessNotConfigured"}}}, "is not enabled", ErrPermissionDenied},
		{&googleapi.Error{Code: 401}, "sign in again", auth.ErrSignInExpired},
		{&googleapi.Error{Code: 412}, "try again", ErrConflict},
		{&googleapi.Error{Code: 400, Message: "SERVICE_ACCOUNT_ACCESS_DENIED"}, "roles/iam.serviceAccountUser", ErrPermissionDenied},
		{&googleapi.Error{Code: 500, Message: "backend error"}, "backend error (HTTP 500)", nil},
	}
	for _, tt := range tests {
		got := o.translate(fmt.Errorf("wrapped: %w", tt.err))
		if !strings.Contains(got.Error(), tt.want) {
			t.Errorf("translate(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if tt.is != nil && !errors.Is(got, tt.is) {
			t.Errorf("translate(%v) is not %v", tt.err, tt.is)
		}
		var ge *googleapi.Error
		if !errors.As(got, &ge) {
			t.Errorf("translate(%v) lost the API error", tt.err)
		}
	}
	if o.translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
	if got := o.translate(&googleapi.Error{Code: http.StatusForbidden}); errors.Is(got, ErrNotFound) {
		t.Error("403 matched ErrNotFound")
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "iapterm", "inventory.json")
	if inv, err := LoadCacheFrom(path); inv != nil || err != nil {
		t.Fatalf("missing cache: %v, %v", inv, err)
	}
	inv := &Inventory{
		Projects:  []Project{{ID: "p", Name: "P"}},
		Instances: map[string][]Instance{"p": {{Project: "p", Zone: "z", Name: "vm", OS: Windows}}},
		Loaded:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if err := SaveCacheTo(path, inv); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", st, err)
	}
	got, err := LoadCacheFrom(path)
	if err != nil || got.Instances["p"][0].OS != Windows || !got.Loaded.Equal(inv.Loaded) || got.Projects[0].Name != "P" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "{", "[1,2]", `{"instances":{"p":"x"}}`, "\x00\xff"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadCacheFrom(path)
		if got != nil || err == nil || !strings.Contains(err.Error(), "ignoring") {
			t.Errorf("corrupt cache %q: %v, %v", bad, got, err)
		}
	}
}

func FuzzLoadCache(f *testing.F) {
	f.Add([]byte(`{"projects":[{"id":"p"}],"instances":{"p":[{"name":"a"}]}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "inventory.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		inv, err := LoadCacheFrom(path)
		if err == nil && inv != nil && inv.Instances == nil {
			t.Fatal("loaded inventory without an instance map")
		}
	})
}
