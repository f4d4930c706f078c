package sshclient

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KeyType names a supported key algorithm.
type KeyType string

const (
	KeyEd25519   KeyType = "ed25519"
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyECDSAP384 KeyType = "ecdsa-p384"
	KeyRSA3072   KeyType = "rsa-3072"
)

// DefaultKeyType is used when nothing is configured.
const DefaultKeyType = KeyEd25519

// KeyTypes lists the supported key types, default first.
var KeyTypes = []KeyType{KeyEd25519, KeyECDSAP256, KeyECDSAP384, KeyRSA3072}

// ParseKeyType accepts a key type name ("" means the default) and a few
// common spellings ("ecdsa" is P-256, "rsa" is RSA-3072).
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "ed25519", "ssh-ed25519":
		return KeyEd25519, nil
	case "ecdsa", "ecdsa-p256", "p256", "p-256", "ecdsa-sha2-nistp256":
		return KeyECDSAP256, nil
	case "ecdsa-p384", "p384", "p-384", "ecdsa-sha2-nistp384":
		return KeyECDSAP384, nil
	case "rsa", "rsa-3072", "rsa3072", "ssh-rsa":
		return KeyRSA3072, nil
	}
	return "", fmt.Errorf("unknown key type %q: use one of ed25519, ecdsa-p256, ecdsa-p384, rsa-3072", s)
}

// fileName is the base name of the private key file for t.
func (t KeyType) fileName() string { return "id_" + strings.ReplaceAll(string(t), "-", "_") }

// Key is a private key iapterm authenticates with.
type Key struct {
	Type   KeyType
	Signer ssh.Signer
	// Path is the private key file (OpenSSH format), empty for keys that
	// live only in memory or in an agent.
	Path string
}

// PublicKey returns the public half.
func (k *Key) PublicKey() ssh.PublicKey { return k.Signer.PublicKey() }

// AuthorizedKey is the public key in authorized_keys form without a newline:
// "ssh-ed25519 AAAA...".
func (k *Key) AuthorizedKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Signer.PublicKey())))
}

// Fingerprint is the SHA256 fingerprint OpenSSH prints.
func (k *Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Signer.PublicKey()) }

// KeyStore keeps iapterm's private keys in one directory (0700), one file
// per key type (0600), created on first use.
type KeyStore struct {
	Dir string
}

// DefaultKeyDir is os.UserConfigDir()/iapterm/keys.
func DefaultKeyDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the configuration directory for SSH keys: %w", err)
	}
	return filepath.Join(d, "iapterm", "keys"), nil
}

// DefaultKeyStore is the key store in DefaultKeyDir.
func DefaultKeyStore() (KeyStore, error) {
	d, err := DefaultKeyDir()
	return KeyStore{Dir: d}, err
}

// Path is the private key file for t.
func (s KeyStore) Path(t KeyType) string { return filepath.Join(s.Dir, t.fileName()) }

// Key loads the key of type t, creating and storing it on first use.
func (s KeyStore) Key(t KeyType) (*Key, error) {
	if s.Dir == "" {
		return nil, errors.New("no key directory configured")
	}
	if _, err := ParseKeyType(string(t)); err != nil || t == "" {
		return nil, fmt.Errorf("unknown key type %q: use one of ed25519, ecdsa-p256, ecdsa-p384, rsa-3072", t)
	}
	path := s.Path(t)
	data, err := os.ReadFile(path)
	if err == nil {
		return parseKeyFile(t, path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading SSH key: %w", err)
	}
	priv, err := generateKey(t)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "iapterm")
	if err != nil {
		return nil, fmt.Errorf("encoding the new %s key: %w", t, err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the key directory: %w", err)
	}
	// MkdirAll keeps an existing directory's mode; tighten it.
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("securing the key directory: %w", err)
	}
	// Another iapterm may be creating the key at the same moment: the
	// first file wins and both use it (replacing it would leave the other
	// process with a key that is no longer on disk).
	if err := writeFileNew(path, pem.EncodeToMemory(block), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if data, rerr := os.ReadFile(path); rerr == nil {
				return parseKeyFile(t, path, data)
			}
		}
		return nil, fmt.Errorf("saving the new %s key: %w", t, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return &Key{Type: t, Signer: signer, Path: path}, nil
}

func parseKeyFile(t KeyType, path string, data []byte) (*Key, error) {
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("the SSH key %s cannot be read (%v); move it away and iapterm creates a new one", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		// Others could read it: fix rather than refuse, the file is ours.
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("the SSH key %s is readable by others and cannot be made private: %w", path, err)
		}
	}
	return &Key{Type: t, Signer: signer, Path: path}, nil
}

func generateKey(t KeyType) (crypto.PrivateKey, error) {
	switch t {
	case KeyEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("unknown key type %q", t)
}

// ExportKey copies the key's files to dir (normally ~/.ssh) as
// iapterm_<type> and iapterm_<type>.pub so OpenSSH can use them. An existing
// file with a different key is not overwritten.
func ExportKey(k *Key, dir string) (privPath, pubPath string, err error) {
	if k.Path == "" {
		return "", "", errors.New("this key has no file to export")
	}
	priv, err := os.ReadFile(k.Path)
	if err != nil {
		return "", "", fmt.Errorf("reading the key to export: %w", err)
	}
	base := "iapterm_" + strings.ReplaceAll(string(k.Type), "-", "_")
	privPath = filepath.Join(dir, base)
	pubPath = privPath + ".pub"
	pub := []byte(k.AuthorizedKey() + " iapterm\n")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{privPath, priv, 0o600}, {pubPath, pub, 0o644}} {
		old, err := os.ReadFile(f.path)
		if err == nil {
			if bytes.Equal(old, f.data) {
				// Exported before, perhaps made readable since: OpenSSH
				// refuses a private key others can read.
				if st, err := os.Stat(f.path); err == nil && st.Mode().Perm()&^f.mode != 0 {
					if err := os.Chmod(f.path, f.mode); err != nil {
						return "", "", fmt.Errorf("%s is readable by others and cannot be made private: %w", f.path, err)
					}
				}
				continue
			}
			return "", "", fmt.Errorf("%s already exists with other contents; remove it to export iapterm's key there", f.path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		if err := writeFileAtomic(f.path, f.data, f.mode); err != nil {
			return "", "", fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return privPath, pubPath, nil
}

// writeFileNew writes path complete or not at all, like writeFileAtomic,
// but never replaces an existing file: that is an fs.ErrExist error.
func writeFileNew(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links on this file system: a rename, which replaces, after
	// a check (a narrow window instead of none).
	if _, serr := os.Lstat(path); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, path)
}

// writeFileAtomic writes through a temporary file in the same directory and
// renames it over path, so readers never see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// writeTemp writes data, synced and with mode from the start, to a new
// temporary file beside path and returns its name; on error it leaves none.
func writeTemp(path string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
