package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// readKeys returns the key lines of an authorized keys file (comments
// dropped), failing unless the file is 0600.
func readKeys(t *testing.T, path string) []string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestAuthorizedKeysFileContents(t *testing.T) {
	_, ka := newKey(t)
	_, kb := newKey(t)
	_, kp := newKey(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expiring := ` google-ssh {"userName":"a@example.com","expireOn":"2026-01-02T03:04:05+0000"}`
	expired := ` google-ssh {"userName":"a@example.com","expireOn":"2025-01-02T03:04:05+0000"}`
	inst := map[string]string{"ssh-keys": "alice:" + ka + expiring + "\nbob:" + kb + "\nalice:" + kb + expired}
	proj := map[string]string{"ssh-keys": "carol:" + kp}
	tests := []struct {
		name  string
		file  string // relative to the test's directory
		user  string
		inst  map[string]string
		files map[string][]string // file -> key lines
	}{
		{"every user in one file", "keys", "", inst, map[string][]string{"keys": {
			`expiry-time="20260102030405Z" ` + ka + " alice", kb + " bob", kp + " carol"}}},
		{"one user", "keys", "alice", inst, map[string][]string{"keys": {`expiry-time="20260102030405Z" ` + ka + " alice"}}},
		{"one file per user", "keys-%u", "", inst, map[string][]string{
			"keys-alice": {`expiry-time="20260102030405Z" ` + ka + " alice"},
			"keys-bob":   {kb + " bob"},
			"keys-carol": {kp + " carol"}}},
		{"per-user pattern for one user", "%u.keys", "bob", inst, map[string][]string{"bob.keys": {kb + " bob"}}},
		{"user without keys gets an empty file", "keys", "dave", inst, map[string][]string{"keys": nil}},
		{"blocked project keys", "keys", "", map[string]string{"ssh-keys": "bob:" + kb, "block-project-ssh-keys": "true"},
			map[string][]string{"keys": {kb + " bob"}}},
		{"unsafe login names get no file", "%u", "", map[string]string{"ssh-keys": "..:" + ka + "\n-x:" + kb},
			map[string][]string{"carol": {kp + " carol"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := &fakeSource{vms: []VM{{Key: "p/z/vm", Running: true, Instance: clone(tt.inst), Project: clone(proj)}}}
			a := New(src, Options{Delay: -1, Now: func() time.Time { return now },
				AuthorizedKeys: []AuthorizedKeysFile{{VM: "p/z/vm", Path: filepath.Join(dir, tt.file), User: tt.user}}})
			defer a.Close()
			ents, _ := os.ReadDir(dir)
			if len(ents) != len(tt.files) {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("files %v, want %d", names, len(tt.files))
			}
			for name, want := range tt.files {
				got := readKeys(t, filepath.Join(dir, name))
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				for _, l := range got {
					if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l)); err != nil {
						t.Errorf("%s: line %q does not parse as authorized_keys: %v", name, l, err)
					}
				}
			}
		})
	}
}

func TestAuthorizedKeysFileFollowsChangesAfterDelay(t *testing.T) {
	_, ka := newKey(t)
	_, kb := newKey(t)
	dir := t.TempDir()
	src := &fakeSource{vms: []VM{{Key: "p/z/vm", Running: true, Instance: map[string]string{}, Project: map[string]string{}}}}
	pattern := filepath.Join(dir, "%u")
	single := filepath.Join(dir, "all")
	a := New(src, Options{Delay: time.Millisecond, AuthorizedKeys: []AuthorizedKeysFile{
		{VM: "p/z/vm", Path: pattern}, {VM: "p/z/vm", Path: single}}})
	defer a.Close()
	if got := readKeys(t, single); len(got) != 0 {
		t.Fatalf("keys before any was published: %q", got)
	}
	src.setInstance(0, "ssh-keys", "alice:"+ka+"\nbob:"+kb)
	a.Changed()
	waitFor(t, func() bool { return len(readKeys(t, single)) == 2 })
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "bob"))
		return err == nil
	})
	// bob's key goes: his file is emptied rather than left with a stale key.
	src.setInstance(0, "ssh-keys", "alice:"+ka)
	a.Changed()
	waitFor(t, func() bool { return len(readKeys(t, filepath.Join(dir, "bob"))) == 0 })
	if got := readKeys(t, filepath.Join(dir, "alice")); len(got) != 1 || !strings.HasPrefix(got[0], ka) {
		t.Fatalf("alice's file: %q", got)
	}
	// A stopped VM accepts no key.
	src.mu.Lock()
	src.vms[0].Running = false
	src.mu.Unlock()
	a.Changed()
	waitFor(t, func() bool { return len(readKeys(t, single)) == 0 })
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestAuthorizedKeysFileWaitsForTheAgentDelay(t *testing.T) {
	_, ka := newKey(t)
	path := filepath.Join(t.TempDir(), "keys")
	src := &fakeSource{vms: []VM{{Key: "p/z/vm", Running: true, Instance: map[string]string{}, Project: map[string]string{}}}}
	// An hour-long delay: the change cannot have been applied when the
	// file is read right after.
	a := New(src, Options{Delay: time.Hour, AuthorizedKeys: []AuthorizedKeysFile{{VM: "p/z/vm", Path: path}}})
	defer a.Close()
	src.setInstance(0, "ssh-keys", "alice:"+ka)
	a.Changed()
	if got := readKeys(t, path); len(got) != 0 {
		t.Fatalf("the file changed before the agent's delay: %q", got)
	}
}

func TestAuthorizedKeysFileOSLogin(t *testing.T) {
	_, k := newKey(t)
	_, ksk := newKey(t)
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(k))
	path := filepath.Join(t.TempDir(), "keys")
	src := &fakeSource{
		vms: []VM{{Key: "p/z/vm", Running: true,
			Instance: map[string]string{"ssh-keys": "meta:" + ksk},
			Project:  map[string]string{"enable-oslogin": "TRUE"}}},
		osl: map[string][]Key{"p/z/vm": {{User: "alice_example_com", PublicKey: pub, Expires: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}}},
	}
	a := New(src, Options{Delay: -1, AuthorizedKeys: []AuthorizedKeysFile{{VM: "p/z/vm", Path: path}}})
	defer a.Close()
	want := `expiry-time="20300506070809Z" ` + k + " alice_example_com"
	if got := readKeys(t, path); len(got) != 1 || got[0] != want {
		t.Fatalf("OS Login file: %q, want %q", got, want)
	}
	// The account manager off: the file is left as it was.
	src.setInstance(0, "disable-account-manager", "true")
	src.setInstance(0, "enable-oslogin", "false")
	a.Changed()
	if got := readKeys(t, path); len(got) != 1 || got[0] != want {
		t.Fatalf("file changed with the account manager off: %q", got)
	}
}

func TestAuthorizedKeysFileCheck(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	tests := []struct {
		name string
		f    AuthorizedKeysFile
		want string // substring of the error; empty: valid
	}{
		{"valid", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "keys")}, ""},
		{"valid pattern", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "%u"), User: "alice"}, ""},
		{"bad vm", AuthorizedKeysFile{VM: "vm", Path: filepath.Join(dir, "keys")}, "PROJECT/ZONE/INSTANCE"},
		{"empty path", AuthorizedKeysFile{VM: "p/z/vm"}, "empty"},
		{"relative", AuthorizedKeysFile{VM: "p/z/vm", Path: "keys"}, "absolute"},
		{"token in directory", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "%u", "keys")}, "only in the file name"},
		{"missing directory", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "nope", "keys")}, "create it first"},
		{"a directory", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "sub")}, "not a regular file"},
		{"bad user", AuthorizedKeysFile{VM: "p/z/vm", Path: filepath.Join(dir, "keys"), User: "../root"}, "not a login name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Check()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
