package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// UserToken in AuthorizedKeysFile.Path stands for the login name, as in
// sshd's AuthorizedKeysFile: the agent writes one file per user.
const UserToken = "%u"

// AuthorizedKeysFile makes the agent keep an OpenSSH authorized_keys file
// for a VM whose SSH server is an external program (sshd behind a backend
// address), as the real guest agent keeps ~USER/.ssh/authorized_keys. The
// file holds the keys the agent has applied to the VM (metadata keys, or
// OS Login keys when enable-oslogin is on) and is rewritten, atomically and
// 0600, when they change.
type AuthorizedKeysFile struct {
	// VM is "PROJECT/ZONE/NAME".
	VM string
	// Path is an absolute file name. With "%u" in its last element the
	// agent writes one file per login name (point sshd's
	// AuthorizedKeysFile at the same pattern); without it, one file.
	Path string
	// User keeps only the keys of this login name; empty keeps every
	// user's keys (in one file, any of them then logs in as the account
	// sshd runs for).
	User string
}

// usernameRe is what the agent accepts as a login name in a file name: no
// path separators, no leading dot or dash.
var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

// ValidUsername reports whether name can be a login name in an
// authorized keys file name.
func ValidUsername(name string) bool { return usernameRe.MatchString(name) }

// CheckPattern says what is wrong with a Path and User, without touching
// the file system.
func CheckPattern(path, user string) error {
	if path == "" {
		return errors.New("the authorized keys file path is empty")
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("authorized keys file %q must be an absolute path", path)
	}
	dir, base := filepath.Split(path)
	if strings.Contains(dir, UserToken) {
		return fmt.Errorf("authorized keys file %q: %s may appear only in the file name, not in a directory", path, UserToken)
	}
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("authorized keys file %q must name a file", path)
	}
	if user != "" && !ValidUsername(user) {
		return fmt.Errorf("user %q is not a login name (letters, digits, _ . -, at most 32, not starting with . or -)", user)
	}
	return nil
}

// Check validates f and its directory: the directory must exist and be
// writable, and the file (when it exists) must be a regular file.
func (f AuthorizedKeysFile) Check() error {
	if strings.Count(f.VM, "/") != 2 || slices.Contains(strings.Split(f.VM, "/"), "") {
		return fmt.Errorf("authorized keys file for %q: the VM must be PROJECT/ZONE/INSTANCE", f.VM)
	}
	if err := CheckPattern(f.Path, f.User); err != nil {
		return fmt.Errorf("%s: %w", f.VM, err)
	}
	dir := filepath.Dir(f.Path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: authorized keys directory: %w (create it first)", f.VM, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", f.VM, dir)
	}
	if !strings.Contains(filepath.Base(f.Path), UserToken) {
		if st, err := os.Lstat(f.Path); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%s: %s exists and is not a regular file", f.VM, f.Path)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", f.VM, err)
		}
	}
	probe, err := os.CreateTemp(dir, ".iapterm-agent-probe-*")
	if err != nil {
		return fmt.Errorf("%s: the agent cannot write to %s: %w", f.VM, dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// render returns the content of every file f stands for, given the keys
// the VM accepts: one entry for a single file, one per login name for a
// "%u" pattern.
func (f AuthorizedKeysFile) render(vm string, keys []Key, now time.Time) map[string][]byte {
	perUser := strings.Contains(filepath.Base(f.Path), UserToken)
	out := map[string][]byte{}
	header := func(user string) *bytes.Buffer { return bytes.NewBuffer(fileHeader(vm, user)) }
	bufs := map[string]*bytes.Buffer{}
	if !perUser {
		bufs[f.Path] = header(f.User)
	} else if f.User != "" {
		bufs[f.filePath(f.User)] = header(f.User)
	}
	for _, k := range keys {
		if k.expired(now) || (f.User != "" && k.User != f.User) {
			continue
		}
		path := f.Path
		if perUser {
			if !ValidUsername(k.User) {
				continue // never a file name from an unsafe login name
			}
			path = f.filePath(k.User)
			if bufs[path] == nil {
				bufs[path] = header(k.User)
			}
		}
		b := bufs[path]
		if !k.Expires.IsZero() {
			// sshd refuses the key itself once it expires, even before
			// the agent's next rewrite.
			fmt.Fprintf(b, "expiry-time=%q ", k.Expires.UTC().Format("20060102150405")+"Z")
		}
		b.Write(bytes.TrimSpace(ssh.MarshalAuthorizedKey(k.PublicKey)))
		if ValidUsername(k.User) {
			// The login name as comment, when it cannot break the line.
			fmt.Fprintf(b, " %s", k.User)
		}
		b.WriteByte('\n')
	}
	for p, b := range bufs {
		out[p] = b.Bytes()
	}
	return out
}

// fileHeader is the comment that starts every file, so whoever opens one
// knows it is rewritten.
func fileHeader(vm, user string) []byte {
	h := "# Keys the emulated guest agent applied to " + vm
	if user != "" {
		h += " for " + user
	}
	return []byte(h + "; rewritten on every change.\n")
}

func (f AuthorizedKeysFile) filePath(user string) string {
	dir, base := filepath.Split(f.Path)
	return filepath.Join(dir, strings.ReplaceAll(base, UserToken, user))
}

// writeFileAtomic replaces path with data, mode 0600, through a temporary
// file in the same directory, so sshd never reads a half-written file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if e := tmp.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// fileWrite is one VM's new key set, to be written to its files.
type fileWrite struct {
	vm   string
	keys []Key
}

// writeFiles brings the authorized keys files of the VMs in ws up to date.
// Files of a "%u" pattern whose user lost every key are emptied, not
// removed, so sshd finds no stale key. A write older than the last one
// done is dropped.
func (a *Agent) writeFiles(seq uint64, ws []fileWrite, now time.Time) {
	if len(ws) == 0 {
		return
	}
	a.fileMu.Lock()
	defer a.fileMu.Unlock()
	if seq < a.fileSeq {
		return
	}
	a.fileSeq = seq
	for _, w := range ws {
		for _, f := range a.files[w.vm] {
			want := f.render(w.vm, w.keys, now)
			for p := range a.written {
				if _, ok := want[p]; !ok && a.writtenBy[p] == f.Path {
					want[p] = fileHeader(w.vm, "")
				}
			}
			for p, data := range want {
				if old, ok := a.written[p]; ok && bytes.Equal(old, data) {
					continue
				}
				if err := writeFileAtomic(p, data); err != nil {
					a.log.Warn("the guest agent could not write an authorized keys file", "vm", w.vm, "path", p, "err", err)
					continue
				}
				a.written[p] = data
				a.writtenBy[p] = f.Path
				a.log.Debug("the guest agent wrote an authorized keys file", "vm", w.vm, "path", p)
			}
		}
	}
}
