package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"

	"iapterm/endpoint"
)

// Environment variables that configure where sign-ins are stored.
const (
	// EnvKeyring set to "file" stores sign-ins in the credentials file even
	// when an OS keyring is available (tests and headless machines).
	EnvKeyring = "IAPTERM_KEYRING"
	// KeyringService is the service name of iapterm's keyring entries.
	KeyringService = "iapterm"
)

// SignIn is one stored sign-in: the long-lived refresh token and who it
// belongs to. It never leaves the store except to build a token source.
type SignIn struct {
	Email        string    `json:"email"`
	RefreshToken string    `json:"refreshToken"`
	ClientID     string    `json:"clientID"`
	ClientSecret string    `json:"clientSecret,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	Created      time.Time `json:"created"`
}

// Store keeps sign-ins in the OS keyring (service "iapterm"), or in a 0600
// JSON file under the user's config directory when no keyring is available.
// Entries are keyed per endpoint, so a sign-in to an emulator never shadows
// the Google one.
type Store struct {
	// File is the fallback credentials file.
	File string
	// FileOnly skips the keyring entirely.
	FileOnly bool
	// keyring is swappable for tests.
	keyring keyringAPI
	mu      sync.Mutex
}

type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (osKeyring) Set(s, u, v string) error        { return keyring.Set(s, u, v) }
func (osKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// DefaultStore returns the store in os.UserConfigDir()/iapterm, honouring
// IAPTERM_KEYRING=file.
func DefaultStore() (*Store, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("finding the config directory for stored sign-ins: %w", err)
	}
	return &Store{
		File:     filepath.Join(dir, "iapterm", "credentials.json"),
		FileOnly: strings.EqualFold(os.Getenv(EnvKeyring), "file"),
		keyring:  osKeyring{},
	}, nil
}

// NewFileStore returns a store that only uses the given file (for tests).
func NewFileStore(path string) *Store { return &Store{File: path, FileOnly: true} }

// StoreKey names the entry for one endpoint setting.
func StoreKey(e endpoint.Endpoints) string {
	if !e.IsEmulator() {
		return "google"
	}
	return "endpoint " + strings.TrimSuffix(e.Override, "/")
}

// Load returns the sign-in stored for key and where it was found ("OS
// keyring" or the file path). A missing sign-in is (nil, "", nil).
func (s *Store) Load(key string) (*SignIn, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.FileOnly && s.keyring != nil {
		v, err := s.keyring.Get(KeyringService, key)
		switch {
		case err == nil:
			var si SignIn
			if err := json.Unmarshal([]byte(v), &si); err != nil || si.RefreshToken == "" {
				return nil, "", fmt.Errorf("the sign-in stored in the OS keyring (service %q, account %q) is unreadable: run `iapterm auth logout` then `iapterm auth login`", KeyringService, key)
			}
			return &si, "OS keyring", nil
		case errors.Is(err, keyring.ErrNotFound):
		default:
			slog.Debug("keyring unavailable, using the credentials file", "err", err)
		}
	}
	f, err := s.readFile()
	if err != nil {
		return nil, "", err
	}
	si, ok := f.Accounts[key]
	if !ok || si.RefreshToken == "" {
		return nil, "", nil
	}
	return &si, s.File, nil
}

// Save stores si for key, in the keyring when possible, else in the file.
// It returns where the sign-in went.
func (s *Store) Save(key string, si SignIn) (string, error) {
	data, err := json.Marshal(si)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.FileOnly && s.keyring != nil {
		err := s.keyring.Set(KeyringService, key, string(data))
		if err == nil {
			// A stale file entry would confuse a later fallback read.
			_ = s.removeFromFile(key)
			return "OS keyring", nil
		}
		slog.Debug("keyring unavailable, storing the sign-in in the credentials file", "err", err)
	}
	f, err := s.readFile()
	if err != nil {
		return "", err
	}
	f.Accounts[key] = si
	if err := s.writeFile(f); err != nil {
		return "", err
	}
	return s.File, nil
}

// Delete removes the sign-in for key from the keyring and the file. A
// sign-in the keyring holds but would not delete is an error.
func (s *Store) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kerr error
	if !s.FileOnly && s.keyring != nil {
		if err := s.keyring.Delete(KeyringService, key); err != nil && !errors.Is(err, keyring.ErrNotFound) {
			if _, gerr := s.keyring.Get(KeyringService, key); gerr == nil {
				kerr = fmt.Errorf("the sign-in is still in the OS keyring (service %q, account %q), which refused to delete it (%v): delete that entry with your keyring's tool", KeyringService, key, err)
			} else {
				slog.Debug("keyring unavailable while deleting", "err", err)
			}
		}
	}
	if err := s.removeFromFile(key); err != nil {
		return err
	}
	return kerr
}

type credentialsFile struct {
	Version  int               `json:"version"`
	Accounts map[string]SignIn `json:"accounts"`
}

func (s *Store) readFile() (*credentialsFile, error) {
	f := &credentialsFile{Version: 1, Accounts: map[string]SignIn{}}
	data, err := os.ReadFile(s.File)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading stored sign-ins: %w", err)
	}
	// Refresh tokens are for the user alone: a file others can read (copied
	// from a backup, say) is made private, as OpenSSH insists for keys.
	if st, err := os.Stat(s.File); err == nil && st.Mode().Perm()&0o077 != 0 && !isWindows() {
		if err := os.Chmod(s.File, 0o600); err != nil {
			return nil, fmt.Errorf("the stored sign-ins in %s are readable by others and cannot be made private: %w", s.File, err)
		}
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("stored sign-ins in %s are unreadable (%v): delete the file and run `iapterm auth login`", s.File, err)
	}
	if f.Accounts == nil {
		f.Accounts = map[string]SignIn{}
	}
	return f, nil
}

func (s *Store) removeFromFile(key string) error {
	f, err := s.readFile()
	if err != nil {
		return err
	}
	if _, ok := f.Accounts[key]; !ok {
		return nil
	}
	delete(f.Accounts, key)
	return s.writeFile(f)
}

// writeFile replaces the file atomically with mode 0600.
func (s *Store) writeFile(f *credentialsFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.File, append(data, '\n'), 0o600)
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// into place, so readers never see a partial file. The directory is created
// with mode 0700.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil && !isWindows() {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
