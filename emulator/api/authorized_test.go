package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"

	"iapterm/emulator/agent"
	"iapterm/emulator/cloud"
	"iapterm/emulator/world"
)

func TestAuthorizedKeysFileOptionsChecked(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	tests := []struct {
		name  string
		files []agent.AuthorizedKeysFile
		want  string
	}{
		{"unknown vm", []agent.AuthorizedKeysFile{{VM: "proj-a/us-central1-a/nope", Path: keys}}, "no such VM proj-a/us-central1-a/nope"},
		{"windows vm", []agent.AuthorizedKeysFile{{VM: "proj-a/europe-west1-b/win-1", Path: keys}}, "Windows VM"},
		{"twice", []agent.AuthorizedKeysFile{{VM: "proj-a/us-central1-a/vm-1", Path: keys}, {VM: "proj-a/us-central1-a/vm-2", Path: keys}}, "given twice"},
		{"missing directory", []agent.AuthorizedKeysFile{{VM: "proj-a/us-central1-a/vm-1", Path: filepath.Join(dir, "no", "keys")}}, "create it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := world.Parse([]byte(testWorld), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			c, err := cloud.New(w, cloud.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(c, Options{AuthorizedKeys: tt.files})
			if err == nil {
				a.Close()
				t.Fatal("New accepted the files")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestMetadataKeysReachTheAuthorizedKeysFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authorized_keys")
	e := newEnv(t, Options{AgentDelay: 20 * time.Millisecond, AuthorizedKeys: []agent.AuthorizedKeysFile{
		{VM: "proj-a/us-central1-a/vm-2", Path: path, User: "alice"}}})
	_, line := newSigner(t)
	_, other := newSigner(t)
	cs := e.computeSvc("alice-token")
	p, _ := cs.Projects.Get("proj-a").Do()
	if _, err := cs.Projects.SetCommonInstanceMetadata("proj-a", &compute.Metadata{Fingerprint: p.CommonInstanceMetadata.Fingerprint,
		Items: items("ssh-keys", "alice:"+line+"\nbob:"+other)}).Do(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), line) {
			if strings.Contains(string(data), other) {
				t.Fatalf("bob's key is in alice's file:\n%s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key never reached the file:\n%s", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
