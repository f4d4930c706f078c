package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Authorizer decides public-key logins; *Agent implements it.
type Authorizer interface {
	Authorize(vmKey, user string, key ssh.PublicKey) (ok bool, secondFactor string)
}

// OneTimeCodePrompt is the keyboard-interactive prompt of 2-step
// verification.
const OneTimeCodePrompt = "Enter your one-time code: "

// SSHServer is the SSH server of every "builtin-ssh" VM: one loopback
// listener and one Ed25519 host key per VM, public-key authentication
// against what the guest agent accepts, and sessions that run a real shell
// in a PTY, exec requests and SFTP.
type SSHServer struct {
	auth Authorizer
	dir  string

	mu     sync.Mutex
	vms    map[string]*vmSSH
	closed bool
	wg     sync.WaitGroup
}

type vmSSH struct {
	key    string
	signer ssh.Signer
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

// NewSSHServer returns a server whose VMs keep their home directories
// under a new temporary directory, removed by Close.
func NewSSHServer(auth Authorizer) (*SSHServer, error) {
	dir, err := os.MkdirTemp("", "iapterm-vms-")
	if err != nil {
		return nil, fmt.Errorf("creating the VMs' home directories: %w", err)
	}
	return &SSHServer{auth: auth, dir: dir, vms: map[string]*vmSSH{}}, nil
}

func (s *SSHServer) vm(vmKey string) (*vmSSH, error) {
	if s.closed {
		return nil, errors.New("ssh server closed")
	}
	if v := s.vms[vmKey]; v != nil {
		return v, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generating a host key: %w", err)
	}
	v := &vmSSH{key: vmKey, signer: signer, conns: map[net.Conn]struct{}{}}
	s.vms[vmKey] = v
	return v, nil
}

// HostKey returns the VM's host key (created on first use).
func (s *SSHServer) HostKey(vmKey string) (ssh.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.vm(vmKey)
	if err != nil {
		return nil, err
	}
	return v.signer.PublicKey(), nil
}

// Addr returns the loopback address of the VM's SSH server, starting it on
// first use.
func (s *SSHServer) Addr(vmKey string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.vm(vmKey)
	if err != nil {
		return "", err
	}
	if v.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("starting the SSH server of %s: %w", vmKey, err)
		}
		v.ln = ln
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(v)
		}()
	}
	return v.ln.Addr().String(), nil
}

// Close stops every listener and connection and removes the home
// directories.
func (s *SSHServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, v := range s.vms {
		if v.ln != nil {
			v.ln.Close()
		}
		for c := range v.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return os.RemoveAll(s.dir)
}

func (s *SSHServer) config(v *vmSSH) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			ok, code := s.auth.Authorize(v.key, c.User(), key)
			if !ok {
				return nil, fmt.Errorf("key not accepted for %q", c.User())
			}
			return &ssh.Permissions{Extensions: map[string]string{"2fa": code}}, nil
		},
		VerifiedPublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey, p *ssh.Permissions, _ string) (*ssh.Permissions, error) {
			code := p.Extensions["2fa"]
			if code == "" {
				return p, nil
			}
			return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{
				KeyboardInteractiveCallback: func(c ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
					ans, err := ch("", "", []string{OneTimeCodePrompt}, []bool{true})
					if err != nil {
						return nil, err
					}
					if len(ans) != 1 || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(ans[0])), []byte(code)) != 1 {
						return nil, errors.New("wrong one-time code")
					}
					return &ssh.Permissions{}, nil
				},
			}}
		},
		ServerVersion: "SSH-2.0-OpenSSH_9.6 iapterm-emulator",
	}
	cfg.AddHostKey(v.signer)
	return cfg
}

func (s *SSHServer) serve(v *vmSSH) {
	cfg := s.config(v)
	for {
		c, err := v.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		v.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handleConn(v, cfg, c)
			s.mu.Lock()
			delete(v.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *SSHServer) handleConn(v *vmSSH, cfg *ssh.ServerConfig, c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		slog.Debug("builtin ssh: handshake failed", "vm", v.key, "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	go func() {
		for r := range reqs {
			// keepalive@openssh.com and friends get an answer so clients
			// that probe liveness see the server alive.
			if r.WantReply {
				r.Reply(strings.HasPrefix(r.Type, "keepalive@"), nil)
			}
		}
	}()
	home := filepath.Join(s.dir, sanitize(v.key), sanitize(sc.User()))
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() == "direct-tcpip" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				forwardLocal(nc)
			}()
			continue
		}
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session and direct-tcpip channels are supported")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := &session{vm: v.key, user: sc.User(), home: home, ch: ch}
			sess.serve(creqs)
		}()
	}
	wg.Wait()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, s)
}

// session is one SSH session channel.
type session struct {
	vm, user, home string
	ch             ssh.Channel

	mu      sync.Mutex
	env     []string
	term    string
	size    *pty.Winsize
	ptmx    *os.File
	cmd     *exec.Cmd
	started bool
}

// kill ends the session's process when the client went away before it
// exited, so no shell waits forever on a closed channel.
func (s *session) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
}

func (s *session) serve(reqs <-chan *ssh.Request) {
	defer s.ch.Close()
	done := make(chan exitInfo, 1)
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				s.kill()
				return
			}
			s.request(r, done)
		case res := <-done:
			if res.signal != "" {
				s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Message    string
					Lang       string
				}{Signal: res.signal}))
			} else {
				s.ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, res.status))
			}
			s.ch.CloseWrite()
			// Requests that race with the close must still be read, or
			// the connection stalls.
			go ssh.DiscardRequests(reqs)
			return
		}
	}
}

// exitInfo is how a session's command ended: an exit status, or the
// signal that killed it.
type exitInfo struct {
	status uint32
	signal string
}

func (s *session) request(r *ssh.Request, done chan<- exitInfo) {
	reply := func(ok bool) {
		if r.WantReply {
			r.Reply(ok, nil)
		}
	}
	switch r.Type {
	case "pty-req":
		var p struct {
			Term          string
			Cols, Rows    uint32
			Width, Height uint32
			Modes         string
		}
		if ssh.Unmarshal(r.Payload, &p) != nil {
			reply(false)
			return
		}
		s.mu.Lock()
		s.term = p.Term
		s.size = &pty.Winsize{Cols: uint16(p.Cols), Rows: uint16(p.Rows)}
		s.mu.Unlock()
		reply(true)
	case "window-change":
		var p struct{ Cols, Rows, Width, Height uint32 }
		if ssh.Unmarshal(r.Payload, &p) != nil {
			reply(false)
			return
		}
		s.mu.Lock()
		s.size = &pty.Winsize{Cols: uint16(p.Cols), Rows: uint16(p.Rows)}
		if s.ptmx != nil {
			pty.Setsize(s.ptmx, s.size)
		}
		s.mu.Unlock()
		reply(true)
	case "env":
		var p struct{ Name, Value string }
		if ssh.Unmarshal(r.Payload, &p) == nil && (p.Name == "LANG" || strings.HasPrefix(p.Name, "LC_")) {
			s.mu.Lock()
			s.env = append(s.env, p.Name+"="+p.Value)
			s.mu.Unlock()
		}
		reply(true)
	case "shell", "exec", "subsystem":
		s.mu.Lock()
		started := s.started
		s.started = true
		s.mu.Unlock()
		if started {
			reply(false)
			return
		}
		var arg struct{ Value string }
		if r.Type != "shell" && ssh.Unmarshal(r.Payload, &arg) != nil {
			reply(false)
			return
		}
		if r.Type == "subsystem" && arg.Value != "sftp" {
			reply(false)
			return
		}
		if err := os.MkdirAll(s.home, 0o700); err != nil {
			reply(false)
			return
		}
		reply(true)
		go func() {
			switch r.Type {
			case "subsystem":
				done <- exitInfo{status: s.sftp()}
			default:
				done <- s.run(arg.Value)
			}
		}()
	case "keepalive@openssh.com":
		reply(true)
	case "signal":
		var p struct{ Signal string }
		sig, ok := os.Signal(nil), false
		if ssh.Unmarshal(r.Payload, &p) == nil {
			sig, ok = signalByName(p.Signal)
		}
		s.mu.Lock()
		if ok && s.cmd != nil && s.cmd.Process != nil {
			ok = s.cmd.Process.Signal(sig) == nil
		} else {
			ok = false
		}
		s.mu.Unlock()
		reply(ok)
	default:
		reply(false)
	}
}

func (s *session) sftp() uint32 {
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(s.home))
	if err != nil {
		return 1
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		return 1
	}
	return 0
}

// shellPath is the real shell sessions run, with the flag that runs a
// command and the arguments of an interactive shell (bash skips the host's
// rc files so the prompt shows the VM's name).
func shellPath() (sh string, cmdFlag []string, interactive []string) {
	if runtime.GOOS == "windows" {
		if c := os.Getenv("COMSPEC"); c != "" {
			return c, []string{"/c"}, nil
		}
		return "cmd.exe", []string{"/c"}, nil
	}
	if p, err := exec.LookPath("bash"); err == nil {
		return p, []string{"-c"}, []string{"--norc", "--noprofile"}
	}
	return "/bin/sh", []string{"-c"}, nil
}

func (s *session) run(command string) exitInfo {
	sh, flag, interactive := shellPath()
	var cmd *exec.Cmd
	if command == "" {
		cmd = exec.Command(sh, interactive...)
	} else {
		cmd = exec.Command(sh, append(flag, command)...)
	}
	cmd.Dir = s.home
	s.mu.Lock()
	term, size := s.term, s.size
	cmd.Env = append(os.Environ(),
		"HOME="+s.home, "USER="+s.user, "LOGNAME="+s.user, "SHELL="+sh,
		"PS1="+s.user+"@"+vmName(s.vm)+":\\w\\$ ")
	cmd.Env = append(cmd.Env, s.env...)
	if term != "" {
		cmd.Env = append(cmd.Env, "TERM="+term)
	}
	s.cmd = cmd
	s.mu.Unlock()

	if size != nil {
		ptmx, err := pty.StartWithSize(cmd, size)
		if err == nil {
			s.mu.Lock()
			s.ptmx = ptmx
			s.mu.Unlock()
			go io.Copy(ptmx, s.ch)
			io.Copy(s.ch, ptmx) // ends with EIO once the shell and its children exit
			res := exitOf(cmd.Wait())
			s.mu.Lock()
			ptmx.Close()
			s.ptmx = nil
			s.mu.Unlock()
			return res
		}
		if !errors.Is(err, pty.ErrUnsupported) {
			fmt.Fprintf(s.ch.Stderr(), "cannot start a terminal: %v\r\n", err)
			return exitInfo{status: 255}
		}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return exitInfo{status: 255}
	}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(s.ch.Stderr(), "cannot start %s: %v\n", sh, err)
		return exitInfo{status: 127}
	}
	go func() {
		io.Copy(stdin, s.ch)
		stdin.Close()
	}()
	return exitOf(cmd.Wait())
}

func exitOf(err error) exitInfo {
	if sig, ok := exitSignal(err); ok {
		return exitInfo{signal: sig}
	}
	return exitInfo{status: exitStatus(err)}
}

func exitStatus(err error) uint32 {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if c := ee.ExitCode(); c >= 0 {
			return uint32(c)
		}
	}
	return 255
}

func vmName(key string) string {
	return key[strings.LastIndexByte(key, '/')+1:]
}

// forwardLocal serves a direct-tcpip channel (ssh -L, VS Code Remote-SSH)
// to a port of the VM itself: the emulated VM is this machine, so only
// loopback destinations are allowed.
func forwardLocal(nc ssh.NewChannel) {
	var req struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil {
		nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	ip := net.ParseIP(req.Host)
	if req.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		nc.Reject(ssh.Prohibited, "the emulated VM forwards only to its own loopback addresses")
		return
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(req.Host, fmt.Sprint(req.Port)), 10*time.Second)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer c.Close()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(ch, c)
		ch.CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, ch)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}
