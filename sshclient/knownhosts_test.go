package sshclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKnownHostsTOFU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iapterm", "known_hosts")
	kh := &KnownHosts{Path: path}
	target := Target{Project: "p", Zone: "z", Instance: "vm", ID: "123"}
	alias := HostKeyAlias(target)
	if alias != "compute.123" {
		t.Fatalf("alias %q", alias)
	}
	k1, k2 := newHostKey(t), newHostKey(t)
	if err := kh.Check("vm", alias, k1); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if runtime.GOOS != "windows" {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("known_hosts mode: %v %v", st, err)
		}
	}
	if err := kh.Check("vm", alias, k1); err != nil {
		t.Fatalf("same key: %v", err)
	}
	err := kh.Check("vm", alias, k2)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("changed key accepted: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{path, ssh.FingerprintSHA256(k1), ssh.FingerprintSHA256(k2), "compute.123", "refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	// Another instance is independent.
	if err := kh.Check("vm2", "compute.456", k2); err != nil {
		t.Fatal(err)
	}
	keys, _ := kh.Lookup(alias)
	if len(keys) != 1 || !containsKey(keys, k1) {
		t.Fatalf("lookup: %v", keys)
	}
}

func TestKnownHostsKeepsForeignLinesAndReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	foreign := "# comment\n|1|hashed|entry ssh-ed25519 AAAA\n@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcuXjJ2m1mh1cR4Sx+Sh8tW6mKRm4kD8t6p6zY0Hq3B\n"
	os.WriteFile(path, []byte(foreign), 0o600)
	kh := &KnownHosts{Path: path}
	k1, k2, k3 := newHostKey(t), newHostKey(t), newHostKey(t)
	if err := kh.Check("vm", "compute.1", k1); err != nil {
		t.Fatal(err)
	}
	if err := kh.Replace("compute.1", []ssh.PublicKey{k2, k3}); err != nil {
		t.Fatal(err)
	}
	keys, _ := kh.Lookup("compute.1")
	if len(keys) != 2 || !containsKey(keys, k2) || !containsKey(keys, k3) {
		t.Fatalf("after replace: %d keys", len(keys))
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), foreign) {
		t.Errorf("foreign lines changed:\n%s", data)
	}
	// A replace with the same keys writes nothing.
	st1, _ := os.Stat(path)
	if err := kh.Replace("compute.1", []ssh.PublicKey{k3, k2}); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(path)
	if !st1.ModTime().Equal(st2.ModTime()) || st1.Size() != st2.Size() {
		t.Error("an unchanged replace rewrote the file")
	}
}

func TestKnownHostsUnreadable(t *testing.T) {
	dir := t.TempDir()
	kh := &KnownHosts{Path: dir} // a directory cannot be read as a file
	if err := kh.Check("vm", "compute.1", newHostKey(t)); err == nil {
		t.Fatal("no error for an unreadable known_hosts")
	}
}

func FuzzKnownHosts(f *testing.F) {
	f.Add("compute.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcuXjJ2m1mh1cR4Sx+Sh8tW6mKRm4kD8t6p6zY0Hq3B\n# c\n")
	f.Add("|1|x|y ssh-rsa AAAA\n@revoked * ssh-ed25519 AAAA\n\n\n")
	f.Add("compute.1,compute.2 ssh-ed25519 !!!")
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		kh := &KnownHosts{Path: path}
		if _, err := kh.Lookup("compute.1"); err != nil {
			t.Fatal(err)
		}
		key := newHostKey(t)
		err := kh.Check("vm", "compute.fuzz", key)
		if err != nil {
			t.Fatalf("a new alias was refused: %v", err)
		}
		// Every non-blank line that was there is still there.
		data, _ := os.ReadFile(path)
		for _, line := range strings.Split(content, "\n") {
			if strings.TrimSpace(line) != "" && !strings.Contains(string(data), line) {
				t.Fatalf("line %q lost", line)
			}
		}
		if keys, _ := kh.Lookup("compute.fuzz"); len(keys) != 1 {
			t.Fatalf("recorded key not found: %d", len(keys))
		}
	})
}

// TestKnownHostsRevoked: a key marked "@revoked" (for the alias or for
// every host) is refused, as OpenSSH refuses it, both on first use and
// when the VM's guest agent publishes it; the line is kept.
func TestKnownHostsRevoked(t *testing.T) {
	e := newEnv(t)
	hk := e.srv.hostKey.PublicKey()
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hk)))
	for _, hosts := range []string{"compute.42", "compute.7,compute.42", "*"} {
		t.Run(hosts, func(t *testing.T) {
			revoked := "@revoked " + hosts + " " + line + "\n"
			if err := os.WriteFile(e.conn.KnownHosts.Path, []byte(revoked), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, published := range []bool{false, true} {
				e.conn.HostKeys = nil
				if published {
					e.conn.HostKeys = hostKeysFunc(func() []string { return []string{line} })
				}
				c, err := e.conn.Connect(context.Background(), vm)
				if err == nil {
					c.Close()
				}
				var re *HostKeyRevokedError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), "@revoked") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(hk)) {
					t.Fatalf("published %v: err = %v, want the key refused as revoked", published, err)
				}
				if data, _ := os.ReadFile(e.conn.KnownHosts.Path); !strings.Contains(string(data), revoked) {
					t.Fatalf("the @revoked line was lost: %q", data)
				}
			}
		})
	}
	// A revoked key of another host does not matter here.
	os.WriteFile(e.conn.KnownHosts.Path, []byte("@revoked compute.7 "+line+"\n"), 0o600)
	c, err := e.conn.Connect(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestKnownHostsSymlinkKept: recording a key in a known_hosts that is a
// symbolic link writes the file it names and keeps the link.
func TestKnownHostsSymlinkKept(t *testing.T) {
	if runtime.GOOS == "windows" {
		return // symbolic links need privileges there
	}
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared_known_hosts")
	os.WriteFile(shared, []byte("other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600)
	link := filepath.Join(dir, "known_hosts")
	if err := os.Symlink(shared, link); err != nil {
		t.Fatal(err)
	}
	k := &KnownHosts{Path: link}
	if err := k.Check("vm", "compute.1", newHostKey(t)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("known_hosts is no longer a link: %v %v", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(shared); !strings.Contains(string(data), "other.example ") || !strings.Contains(string(data), "compute.1 ") {
		t.Fatalf("the linked file holds %q", data)
	}
}
