package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// OS Login takes an int64 as a JSON string or a number, as Google's JSON
// parser does; a wrong type is named by the client's field name, not Go's.
func TestImportKeyExpiryAsNumber(t *testing.T) {
	e := newEnv(t, Options{})
	_, line := newSigner(t)
	exp := time.Now().Add(time.Hour).UnixMicro()
	body := fmt.Sprintf(`{"key":%q,"expirationTimeUsec":%d}`, line+" carol", exp)
	code, m := e.raw("POST", "/v1/users/carol@example.com:importSshPublicKey?projectId=proj-a", "carol-token", body)
	if code != 200 {
		t.Fatalf("number expiry: %d %v", code, m)
	}
	keys := m["loginProfile"].(map[string]any)["sshPublicKeys"].(map[string]any)
	for _, k := range keys {
		if got := k.(map[string]any)["expirationTimeUsec"]; got != fmt.Sprint(exp) {
			t.Errorf("expirationTimeUsec = %v, want %q", got, fmt.Sprint(exp))
		}
	}
	code, m = e.raw("POST", "/v1/users/carol@example.com:importSshPublicKey", "carol-token", fmt.Sprintf(`{"key":%q,"expirationTimeUsec":true}`, line))
	msg := fmt.Sprint(m["error"])
	if code != 400 || strings.Contains(msg, "Go struct") || !strings.Contains(msg, "expirationTimeUsec") {
		t.Errorf("bool expiry: %d %s", code, msg)
	}
	code, m = e.raw("POST", "/v1/projects/proj-a:testIamPermissions", "carol-token", `{"permissions":"compute.instances.get"}`)
	msg = fmt.Sprint(m["error"])
	if code != 400 || strings.Contains(msg, "Go struct") || !strings.Contains(msg, "'permissions' (expected a list)") {
		t.Errorf("string permissions: %d %s", code, msg)
	}
}

// A body field the method does not have is refused as Google refuses it:
// ignored, a metadata write with "item" for "items" would wipe the set.
func TestStrictBodiesRefuseUnknownFields(t *testing.T) {
	e := newEnv(t, Options{})
	s := e.computeSvc("alice-token")
	p, err := s.Projects.Get("proj-a").Do()
	if err != nil {
		t.Fatal(err)
	}
	before := len(p.CommonInstanceMetadata.Items)
	body := fmt.Sprintf(`{"fingerprint":%q,"item":[{"key":"k","value":"v"}]}`, p.CommonInstanceMetadata.Fingerprint)
	code, m := e.raw("POST", "/compute/v1/projects/proj-a/setCommonInstanceMetadata", "alice-token", body)
	if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, `Unknown name "item": Cannot find field.`) {
		t.Fatalf("metadata with item: %d %s", code, msg)
	}
	if p, err = s.Projects.Get("proj-a").Do(); err != nil || len(p.CommonInstanceMetadata.Items) != before {
		t.Fatalf("metadata changed: %+v %v", p.CommonInstanceMetadata, err)
	}
	code, m = e.raw("POST", "/v1/projects/proj-a:testIamPermissions", "alice-token", `{"permission":["compute.instances.get"]}`)
	if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, `Unknown name "permission"`) {
		t.Fatalf("testIamPermissions with permission: %d %s", code, msg)
	}
	// What the API returns may be sent back.
	_, line := newSigner(t)
	code, m = e.raw("POST", "/v1/users/carol@example.com:importSshPublicKey", "carol-token", fmt.Sprintf(`{"key":%q,"fingerprint":"x","name":"y"}`, line))
	if code != 200 {
		t.Fatalf("import with output fields: %d %v", code, m)
	}
	code, m = e.raw("POST", "/v1/users/carol@example.com:importSshPublicKey", "carol-token", fmt.Sprintf(`{"key":%q,"expiration":"1"}`, line))
	if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, `Unknown name "expiration"`) {
		t.Fatalf("import with expiration: %d %s", code, msg)
	}
}

// IAP resource names the emulator does not serve say why, and what it
// serves.
func TestIAPResourceNames(t *testing.T) {
	e := newEnv(t, Options{})
	body := `{"permissions":["iap.tunnelDestGroups.accessViaIAP"]}`
	code, m := e.raw("POST", "/v1/projects/proj-a/iap_tunnel/locations/us-central1/destGroups/g:testIamPermissions", "alice-token", body)
	if msg := fmt.Sprint(m["error"]); code != 501 || !strings.Contains(msg, "not emulated") || !strings.Contains(msg, "UNIMPLEMENTED") {
		t.Errorf("destination group: %d %s", code, msg)
	}
	code, m = e.raw("POST", "/v1/projects/proj-a/iap_tunnel/zones/us-central1-a/instances:testIamPermissions", "alice-token", body)
	if msg := fmt.Sprint(m["error"]); code != 400 || !strings.Contains(msg, "expected projects/PROJECT/iap_tunnel[/zones/ZONE[/instances/INSTANCE]]") {
		t.Errorf("truncated name: %d %s", code, msg)
	}
}
