package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"iapterm/endpoint"
)

type fakeKeyring struct {
	m      map[string]string
	err    error // returned by every call when set (no keyring available)
	delErr error // returned by Delete when set (a locked or read-only keyring)
}

func (f *fakeKeyring) Get(s, u string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	v, ok := f.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Set(s, u, v string) error {
	if f.err != nil {
		return f.err
	}
	f.m[s+"/"+u] = v
	return nil
}

func (f *fakeKeyring) Delete(s, u string) error {
	if f.err != nil {
		return f.err
	}
	if f.delErr != nil {
		return f.delErr
	}
	if _, ok := f.m[s+"/"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.m, s+"/"+u)
	return nil
}

func TestStoreKeyring(t *testing.T) {
	kr := &fakeKeyring{m: map[string]string{}}
	file := filepath.Join(t.TempDir(), "iapterm", "credentials.json")
	s := &Store{File: file, keyring: kr}
	si := SignIn{Email: "alice@example.com", RefreshToken: "rt-1", ClientID: "cid"}
	where, err := s.Save("google", si)
	if err != nil || where != "OS keyring" {
		t.Fatalf("Save = %q, %v; want OS keyring", where, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file written although the keyring worked: %v", err)
	}
	got, where, err := s.Load("google")
	if err != nil || got == nil || got.RefreshToken != "rt-1" || where != "OS keyring" {
		t.Fatalf("Load = %+v, %q, %v", got, where, err)
	}
	if err := s.Delete("google"); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Load("google"); got != nil || err != nil {
		t.Fatalf("after Delete: %+v, %v", got, err)
	}
}

func TestStoreFallsBackToFile(t *testing.T) {
	kr := &fakeKeyring{m: map[string]string{}, err: errors.New("no D-Bus session")}
	file := filepath.Join(t.TempDir(), "cfg", "iapterm", "credentials.json")
	s := &Store{File: file, keyring: kr}
	e, _ := endpoint.Parse("http://127.0.0.1:9999")
	keyEmu, keyGoogle := StoreKey(e), StoreKey(endpoint.Google())
	if keyEmu == keyGoogle {
		t.Fatal("emulator and Google share a store key")
	}
	if where, err := s.Save(keyEmu, SignIn{Email: "a@x", RefreshToken: "emu"}); err != nil || where != file {
		t.Fatalf("Save = %q, %v", where, err)
	}
	if _, err := s.Save(keyGoogle, SignIn{Email: "b@x", RefreshToken: "goog"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	got, _, err := s.Load(keyEmu)
	if err != nil || got.RefreshToken != "emu" {
		t.Fatalf("Load emulator = %+v, %v", got, err)
	}
	got, _, err = s.Load(keyGoogle)
	if err != nil || got.RefreshToken != "goog" {
		t.Fatalf("Load google = %+v, %v", got, err)
	}
	if err := s.Delete(keyEmu); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Load(keyEmu); got != nil {
		t.Fatal("emulator sign-in survived Delete")
	}
	if got, _, _ := s.Load(keyGoogle); got == nil {
		t.Fatal("Delete of one endpoint removed the other")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*.tmp"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestStoreCorruptFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewFileStore(file)
	if _, _, err := s.Load("google"); err == nil {
		t.Fatal("corrupt credentials file loaded without error")
	}
	if _, err := s.Save("google", SignIn{RefreshToken: "x"}); err == nil {
		t.Fatal("Save overwrote a corrupt credentials file")
	}
	data, _ := os.ReadFile(file)
	if string(data) != "{not json" {
		t.Fatalf("corrupt file was rewritten: %q", data)
	}
}

func TestDefaultStoreHonoursEnv(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(EnvKeyring, "file")
	s, err := DefaultStore()
	if err != nil {
		t.Fatal(err)
	}
	if !s.FileOnly || filepath.Base(s.File) != "credentials.json" || filepath.Base(filepath.Dir(s.File)) != "iapterm" {
		t.Fatalf("DefaultStore = %+v", s)
	}
}

func FuzzStoreFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"accounts":{"google":{"email":"a@x","refreshToken":"r"}}}`))
	f.Add([]byte(`{"accounts":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "credentials.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := NewFileStore(file)
		si, _, err := s.Load("google")
		if err == nil && si != nil && si.RefreshToken == "" {
			t.Fatal("loaded a sign-in without a refresh token")
		}
		if err != nil {
			// An unreadable file is never overwritten.
			if _, serr := s.Save("google", SignIn{RefreshToken: "x"}); serr == nil {
				t.Fatal("saved over an unreadable credentials file")
			}
		}
	})
}

// TestLogoutKeyringRefusesDelete: when the keyring keeps the sign-in,
// logout says so instead of reporting it deleted; a keyring that is not
// there at all is no error.
func TestLogoutKeyringRefusesDelete(t *testing.T) {
	_, e := newFakeOAuth(t)
	kr := &fakeKeyring{m: map[string]string{}}
	s := &Store{File: filepath.Join(t.TempDir(), "credentials.json"), keyring: kr}
	if _, err := s.Save(StoreKey(e), SignIn{Email: "alice@example.com", RefreshToken: "rt-1", ClientID: "c"}); err != nil {
		t.Fatal(err)
	}
	kr.delErr = errors.New("the collection is locked")
	who, err := Logout(context.Background(), e, s)
	if who != "alice@example.com" || err == nil || !strings.Contains(err.Error(), "still in the OS keyring") || strings.Contains(err.Error(), "rt-1") {
		t.Fatalf("Logout = %q, %v; want an error saying the keyring kept it", who, err)
	}
	if si, where, _ := s.Load(StoreKey(e)); si == nil || where != "OS keyring" {
		t.Fatalf("the fake keyring lost the entry: %+v", si)
	}
	kr.err = errors.New("no D-Bus session")
	if err := s.Delete(StoreKey(e)); err != nil {
		t.Fatalf("Delete without a keyring: %v", err)
	}
}

// TestStoreFileMadePrivate: a credentials file others can read is made
// 0600 when it is read, not only when it is next written.
func TestStoreFileMadePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		return // no POSIX modes
	}
	file := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"accounts":{"google":{"email":"a@example.com","refreshToken":"rt","clientID":"c"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	si, _, err := NewFileStore(file).Load("google")
	if err != nil || si == nil || si.RefreshToken != "rt" {
		t.Fatalf("Load = %+v, %v", si, err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after reading: %v, %v; want 0600", st.Mode(), err)
	}
}
