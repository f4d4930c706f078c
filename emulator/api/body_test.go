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
