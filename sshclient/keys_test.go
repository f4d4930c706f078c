package sshclient

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestKeyStoreCreatesAndReloads(t *testing.T) {
	store := KeyStore{Dir: filepath.Join(t.TempDir(), "iapterm", "keys")}
	wantType := map[KeyType]string{
		KeyEd25519:   ssh.KeyAlgoED25519,
		KeyECDSAP256: ssh.KeyAlgoECDSA256,
		KeyECDSAP384: ssh.KeyAlgoECDSA384,
		KeyRSA3072:   ssh.KeyAlgoRSA,
	}
	for _, kt := range KeyTypes {
		k, err := store.Key(kt)
		if err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if got := k.PublicKey().Type(); got != wantType[kt] {
			t.Errorf("%s: public key type %s, want %s", kt, got, wantType[kt])
		}
		if runtime.GOOS != "windows" {
			st, err := os.Stat(k.Path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: key file mode %v, want 0600", kt, st.Mode().Perm())
			}
			dst, _ := os.Stat(store.Dir)
			if dst.Mode().Perm() != 0o700 {
				t.Errorf("key dir mode %v, want 0700", dst.Mode().Perm())
			}
		}
		data, _ := os.ReadFile(k.Path)
		if _, err := ssh.ParsePrivateKey(data); err != nil {
			t.Errorf("%s: stored key is not OpenSSH-readable: %v", kt, err)
		}
		again, err := store.Key(kt)
		if err != nil {
			t.Fatal(err)
		}
		if again.AuthorizedKey() != k.AuthorizedKey() {
			t.Errorf("%s: reloading gave a different key", kt)
		}
	}
	if kt := KeyRSA3072; true {
		k, _ := store.Key(kt)
		if n := k.PublicKey().(ssh.CryptoPublicKey).CryptoPublicKey(); n == nil {
			t.Fatal("no crypto key")
		}
	}
}

func TestKeyStoreTightensPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		return // POSIX modes only
	}
	store := KeyStore{Dir: t.TempDir()}
	k, err := store.Key(KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(k.Path, 0o644)
	if _, err := store.Key(KeyEd25519); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(k.Path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after reload, want 0600", st.Mode().Perm())
	}
}

func TestKeyStoreCorruptKey(t *testing.T) {
	store := KeyStore{Dir: t.TempDir()}
	os.WriteFile(store.Path(KeyEd25519), []byte("garbage"), 0o600)
	if _, err := store.Key(KeyEd25519); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
	if data, _ := os.ReadFile(store.Path(KeyEd25519)); string(data) != "garbage" {
		t.Error("a corrupt key file was overwritten")
	}
}

func TestParseKeyType(t *testing.T) {
	for in, want := range map[string]KeyType{"": KeyEd25519, "ED25519": KeyEd25519, "ecdsa": KeyECDSAP256, "ecdsa-p384": KeyECDSAP384, "rsa": KeyRSA3072} {
		got, err := ParseKeyType(in)
		if err != nil || got != want {
			t.Errorf("ParseKeyType(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseKeyType("dsa"); err == nil {
		t.Error("dsa accepted")
	}
}

func TestExportKey(t *testing.T) {
	store := KeyStore{Dir: t.TempDir()}
	k, err := store.Key(KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	sshDir := filepath.Join(t.TempDir(), ".ssh")
	priv, pub, err := ExportKey(k, sshDir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(priv) != "iapterm_ecdsa_p256" || pub != priv+".pub" {
		t.Errorf("paths %s %s", priv, pub)
	}
	data, _ := os.ReadFile(priv)
	s, err := ssh.ParsePrivateKey(data)
	if err != nil || string(s.PublicKey().Marshal()) != string(k.PublicKey().Marshal()) {
		t.Fatalf("exported key differs: %v", err)
	}
	pubData, _ := os.ReadFile(pub)
	if pk, _, _, _, err := ssh.ParseAuthorizedKey(pubData); err != nil || string(pk.Marshal()) != string(k.PublicKey().Marshal()) {
		t.Fatalf("exported public key differs: %v", err)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
			t.Errorf("exported key mode %v", st.Mode().Perm())
		}
	}
	// Again: identical files are fine, and a private key made readable by
	// others since (which OpenSSH refuses to use) is private again.
	os.Chmod(priv, 0o644)
	if _, _, err := ExportKey(k, sshDir); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
			t.Errorf("exported again over a 0644 copy: mode %v", st.Mode().Perm())
		}
	}
	// A different file in the way is not overwritten.
	os.WriteFile(pub, []byte("someone else's\n"), 0o644)
	if _, _, err := ExportKey(k, sshDir); err == nil {
		t.Fatal("overwrote a different file")
	}
	if data, _ := os.ReadFile(pub); string(data) != "someone else's\n" {
		t.Error("file was changed")
	}
}

// TestKeyStoreConcurrentCreation: iapterm processes creating the same key
// at once end up with one key, the one on disk, instead of each going on
// with its own while the last one written replaces the others.
func TestKeyStoreConcurrentCreation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	const n = 8
	keys := make([]*Key, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys[i], errs[i] = KeyStore{Dir: dir}.Key(KeyEd25519)
		}()
	}
	close(start)
	wg.Wait()
	onDisk, err := KeyStore{Dir: dir}.Key(KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if keys[i].AuthorizedKey() != onDisk.AuthorizedKey() {
			t.Fatalf("caller %d got a key that is not the one on disk", i)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left in the key directory: %v", entries)
	}
}
