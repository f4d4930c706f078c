package agent

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

type fixedAuth struct {
	user string
	key  ssh.PublicKey
	code string
}

func (f fixedAuth) Authorize(vm, user string, key ssh.PublicKey) (bool, string) {
	if vm != "p/z/vm" || user != f.user || !bytes.Equal(key.Marshal(), f.key.Marshal()) {
		return false, ""
	}
	return true, f.code
}

func dialVM(t *testing.T, srv *SSHServer, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	t.Helper()
	addr, err := srv.Addr("p/z/vm")
	if err != nil {
		t.Fatal(err)
	}
	hk, err := srv.HostKey("p/z/vm")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HostKeyCallback = ssh.FixedHostKey(hk)
	return ssh.Dial("tcp", addr, cfg)
}

// newAliceServer starts an SSH server that lets alice in with the
// returned key.
func newAliceServer(t *testing.T) (*SSHServer, ssh.Signer) {
	t.Helper()
	signer, _ := newKey(t)
	srv, err := NewSSHServer(fixedAuth{user: "alice", key: signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, signer
}

// dialAlice logs in to srv's VM as alice with signer; the client closes
// when the test ends.
func dialAlice(t *testing.T, srv *SSHServer, signer ssh.Signer) *ssh.Client {
	t.Helper()
	c, err := dialVM(t, srv, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSSHServerExecAndShell(t *testing.T) {
	srv, signer := newAliceServer(t)
	c := dialAlice(t, srv, signer)

	// exec with output and exit status
	s, _ := c.NewSession()
	out, err := s.Output("echo hello; echo $USER")
	if err != nil || string(out) != "hello\nalice\n" {
		t.Fatalf("output %q, err %v", out, err)
	}
	s, _ = c.NewSession()
	err = s.Run("exit 7")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 7 {
		t.Fatalf("Run(exit 7) = %v, want exit status 7", err)
	}

	// interactive shell in a PTY
	s, _ = c.NewSession()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.Stdout = &buf
	s.Stdin = strings.NewReader("stty size; tty -s && echo TTY=yes; exit 3\n")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.WindowChange(30, 100); err != nil {
		t.Fatal(err)
	}
	err = s.Wait()
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("shell exit = %v (output %q)", err, buf.String())
	}
	if !strings.Contains(buf.String(), "TTY=yes") {
		t.Fatalf("shell output %q has no TTY=yes", buf.String())
	}

	// keepalive
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || !ok {
		t.Fatalf("keepalive = %v, %v", ok, err)
	}

	// sftp in the user's home
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sc.Create("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hi"))
	f.Close()
	s, _ = c.NewSession()
	out, _ = s.Output("cat $HOME/hello.txt")
	if string(out) != "hi" {
		t.Fatalf("file written over sftp reads %q", out)
	}
	sc.Close()
}

func TestSSHServerRejectsUnknownKey(t *testing.T) {
	srv, signer := newAliceServer(t)
	other, _ := newKey(t)
	for _, tc := range []struct {
		user string
		key  ssh.Signer
	}{{"alice", other}, {"bob", signer}} {
		c, err := dialVM(t, srv, &ssh.ClientConfig{User: tc.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(tc.key)}})
		if err == nil {
			c.Close()
			t.Fatalf("login as %s succeeded", tc.user)
		}
	}
	// Password authentication is off.
	c, err := dialVM(t, srv, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.Password("x")}})
	if err == nil {
		c.Close()
		t.Fatal("password login succeeded")
	}
}

func TestSSHServerTwoFactor(t *testing.T) {
	signer, _ := newKey(t)
	srv, err := NewSSHServer(fixedAuth{user: "alice", key: signer.PublicKey(), code: "424242"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		answer string
		ok     bool
	}{{"424242", true}, {"000000", false}} {
		var prompts []string
		ki := ssh.KeyboardInteractive(func(name, instr string, questions []string, echos []bool) ([]string, error) {
			prompts = append(prompts, questions...)
			return []string{tc.answer}, nil
		})
		c, err := dialVM(t, srv, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer), ki}})
		if (err == nil) != tc.ok {
			t.Fatalf("answer %s: err = %v", tc.answer, err)
		}
		if len(prompts) == 0 || prompts[0] != OneTimeCodePrompt {
			t.Fatalf("prompts = %q", prompts)
		}
		if c != nil {
			c.Close()
		}
	}
	// Public key alone is not enough.
	c, err := dialVM(t, srv, &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}})
	if err == nil {
		c.Close()
		t.Fatal("login without the second factor succeeded")
	}
}

func TestSSHServerForwardsToLoopbackOnly(t *testing.T) {
	srv, signer := newAliceServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("pong"))
		c.Close()
	}()
	c := dialAlice(t, srv, signer)
	conn, err := c.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "pong" {
		t.Fatalf("forwarded read %q", b)
	}
	if conn, err := c.Dial("tcp", "192.0.2.1:80"); err == nil {
		conn.Close()
		t.Fatal("forward to a non-loopback address allowed")
	}
}
