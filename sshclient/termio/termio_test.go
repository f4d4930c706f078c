package termio_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"iapterm/sshclient"
	"iapterm/sshclient/termio"
)

// TestRunWithoutTerminal runs a command whose input is a pipe and whose
// output is a file: no PTY, input forwarded and closed, exit status back.
func TestRunWithoutTerminal(t *testing.T) {
	c := connect(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	inR, inW, _ := os.Pipe()
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	go func() { inW.WriteString("hello through stdin"); inW.Close() }()
	var errBuf bytes.Buffer
	code, err := termio.Run(context.Background(), s, inR, out, &errBuf, termio.Options{Command: "cat", PTY: true})
	if err != nil || code != 3 {
		t.Fatalf("code %d err %v", code, err)
	}
	got, _ := os.ReadFile(out.Name())
	if string(got) != "hello through stdin" || errBuf.String() != "done\n" {
		t.Fatalf("stdout %q stderr %q", got, errBuf.String())
	}
}

// connect returns a client on a minimal server: "cat" copies stdin to
// stdout, writes "done" to stderr and exits 3; a PTY request fails the
// test, since none may be asked for without a terminal.
func connect(t *testing.T) *sshclient.Client {
	t.Helper()
	hostSigner := newSigner(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(hostSigner)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			c, creqs, _ := ch.Accept()
			go func() {
				for r := range creqs {
					switch r.Type {
					case "pty-req":
						t.Error("PTY requested without a terminal")
						r.Reply(false, nil)
					case "exec":
						r.Reply(true, nil)
						go func() {
							io.Copy(c, c)
							io.WriteString(c.Stderr(), "done\n")
							c.SendRequest("exit-status", false, []byte{0, 0, 0, 3})
							c.Close()
						}()
					default:
						r.Reply(false, nil)
					}
				}
			}()
		}
	}()
	key, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	conn := &sshclient.Connector{
		Dialer: sshclient.DialerFunc(func(ctx context.Context, _ sshclient.Target) (net.Conn, error) {
			return net.Dial("tcp", ln.Addr().String())
		}),
		Key:        key,
		User:       "u",
		KnownHosts: &sshclient.KnownHosts{Path: filepath.Join(t.TempDir(), "kh")},
		KeepAlive:  -1,
	}
	c, err := conn.Connect(context.Background(), sshclient.Target{Project: "p", Zone: "z", Instance: "vm", ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newSigner(t *testing.T) ssh.Signer {
	k, err := sshclient.KeyStore{Dir: t.TempDir()}.Key(sshclient.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	return k.Signer
}
