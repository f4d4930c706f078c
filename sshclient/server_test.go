package sshclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// testServer is a small in-process SSH server: public keys from a mutable
// authorized set, optional keyboard-interactive second factor, "exec" of a
// few built-in commands, PTY and window-change recording, and sftp.
type testServer struct {
	t        *testing.T
	hostKey  ssh.Signer
	ln       net.Listener
	sftpRoot string

	mu          sync.Mutex
	authorized  map[string]string // marshalled key -> user
	refuseFirst int               // refuse this many publickey attempts (guest agent lag)
	twoFactor   string            // code asked by keyboard-interactive when set
	kbdText     [3]string         // name, instruction and question of that prompt when set
	handshakes  int
	ptys        []string
	windows     []string
	keepalives  int
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hk, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, hostKey: hk, ln: ln, authorized: map[string]string{}, sftpRoot: t.TempDir()}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

func (s *testServer) authorize(user string, key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized[string(key.Marshal())] = user
}

func (s *testServer) DialSSH(_ context.Context, _ Target) (net.Conn, error) {
	return net.Dial("tcp", s.ln.Addr().String())
}

func (s *testServer) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.refuseFirst > 0 {
				s.refuseFirst--
				return nil, fmt.Errorf("not yet")
			}
			if u, ok := s.authorized[string(key.Marshal())]; ok && u == c.User() {
				if s.twoFactor != "" {
					return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{
						KeyboardInteractiveCallback: func(c ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
							name, instr, q := "", "Enter the code", "Enter your one-time password: "
							s.mu.Lock()
							if s.kbdText != [3]string{} {
								name, instr, q = s.kbdText[0], s.kbdText[1], s.kbdText[2]
							}
							s.mu.Unlock()
							ans, err := client(name, instr, []string{q}, []bool{false})
							if err != nil {
								return nil, err
							}
							s.mu.Lock()
							defer s.mu.Unlock()
							if len(ans) == 1 && ans[0] == s.twoFactor {
								return nil, nil
							}
							return nil, fmt.Errorf("wrong code")
						},
					}}
				}
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(s.hostKey)
	return cfg
}

func (s *testServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *testServer) handle(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config())
	if err != nil {
		c.Close()
		return
	}
	s.mu.Lock()
	s.handshakes++
	s.mu.Unlock()
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" {
				s.mu.Lock()
				s.keepalives++
				s.mu.Unlock()
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
	sc.Close()
}

func exitStatus(ch ssh.Channel, code uint32) {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, code)
	ch.SendRequest("exit-status", false, b)
	ch.Close()
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case "pty-req":
			var p struct {
				Term          string
				Cols, Rows    uint32
				Width, Height uint32
				Modes         string
			}
			ssh.Unmarshal(r.Payload, &p)
			s.mu.Lock()
			s.ptys = append(s.ptys, fmt.Sprintf("%s %dx%d", p.Term, p.Cols, p.Rows))
			s.mu.Unlock()
			r.Reply(true, nil)
		case "window-change":
			var p struct{ Cols, Rows, W, H uint32 }
			ssh.Unmarshal(r.Payload, &p)
			s.mu.Lock()
			s.windows = append(s.windows, fmt.Sprintf("%dx%d", p.Cols, p.Rows))
			s.mu.Unlock()
		case "exec":
			var p struct{ Cmd string }
			ssh.Unmarshal(r.Payload, &p)
			r.Reply(true, nil)
			go s.exec(ch, p.Cmd)
		case "shell":
			r.Reply(true, nil)
			go func() { // echo until EOF
				io.Copy(ch, ch)
				exitStatus(ch, 0)
			}()
		case "subsystem":
			var p struct{ Name string }
			ssh.Unmarshal(r.Payload, &p)
			if p.Name != "sftp" {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			go func() {
				srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.sftpRoot))
				if err == nil {
					srv.Serve()
					srv.Close()
				}
				ch.Close()
			}()
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
}

func (s *testServer) exec(ch ssh.Channel, cmd string) {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 2 && f[0] == "exit":
		var code uint32
		fmt.Sscan(f[1], &code)
		exitStatus(ch, code)
	case len(f) >= 1 && f[0] == "echo":
		fmt.Fprintln(ch, strings.Join(f[1:], " "))
		fmt.Fprintln(ch.Stderr(), "to stderr")
		exitStatus(ch, 0)
	case len(f) == 1 && f[0] == "cat":
		var b bytes.Buffer
		io.Copy(&b, ch)
		ch.Write(b.Bytes())
		exitStatus(ch, 0)
	default:
		fmt.Fprintf(ch.Stderr(), "unknown command %q\n", cmd)
		exitStatus(ch, 127)
	}
}
