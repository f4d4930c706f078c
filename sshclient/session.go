package sshclient

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Session is one channel on a Client: a shell or a command, optionally with
// a PTY. Stdin, Stdout and Stderr are ready to use; read Stdout and Stderr
// continuously (or they fill and stall the channel).
type Session struct {
	Stdin  io.WriteCloser
	Stdout io.Reader
	Stderr io.Reader

	s        *ssh.Session
	release  func()
	finished sync.Once
}

// NewSession opens a session channel with its pipes.
func (c *Client) NewSession() (*Session, error) {
	return newSession(c, nil)
}

func newSession(c *Client, release func()) (*Session, error) {
	s, err := c.ssh.NewSession()
	if err != nil {
		return nil, fmt.Errorf("opening an SSH session on %s: %w", c.Target.Instance, err)
	}
	sess := &Session{s: s, release: release}
	if sess.Stdin, err = s.StdinPipe(); err == nil {
		if sess.Stdout, err = s.StdoutPipe(); err == nil {
			sess.Stderr, err = s.StderrPipe()
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return sess, nil
}

// NewSessionWithIO opens a session whose output goes straight to stdout
// and stderr and whose input comes from stdin (nil: none); Stdin, Stdout
// and Stderr of the result are nil. This avoids a copy for bulk output.
func (c *Client) NewSessionWithIO(stdin io.Reader, stdout, stderr io.Writer) (*Session, error) {
	s, err := c.ssh.NewSession()
	if err != nil {
		return nil, fmt.Errorf("opening an SSH session on %s: %w", c.Target.Instance, err)
	}
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr
	return &Session{s: s}, nil
}

// PTY modes: echo on, 14400 baud like OpenSSH sends.
var ptyModes = ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 14400, ssh.TTY_OP_OSPEED: 14400}

// RequestPTY asks for a terminal of the given type and size (columns,
// rows); term "" means xterm-256color.
func (s *Session) RequestPTY(term string, cols, rows int) error {
	if term == "" {
		term = "xterm-256color"
	}
	if err := s.s.RequestPty(term, rows, cols, ptyModes); err != nil {
		return fmt.Errorf("requesting a terminal: %w", err)
	}
	return nil
}

// WindowChange tells the remote side the terminal's new size.
func (s *Session) WindowChange(cols, rows int) error { return s.s.WindowChange(rows, cols) }

// Setenv asks the server to set an environment variable (sshd accepts only
// those in its AcceptEnv).
func (s *Session) Setenv(name, value string) error { return s.s.Setenv(name, value) }

// Shell starts the login shell.
func (s *Session) Shell() error { return s.s.Shell() }

// Start runs cmd.
func (s *Session) Start(cmd string) error { return s.s.Start(cmd) }

// Signal sends a signal (ssh.SIGINT, ...) to the remote process.
func (s *Session) Signal(sig ssh.Signal) error { return s.s.Signal(sig) }

// Wait waits for the remote shell or command to end and returns its exit
// status. A process killed by a signal gives 128+signal like a shell; a
// session closed without a status gives -1 and an error.
func (s *Session) Wait() (int, error) {
	err := s.s.Wait()
	s.finish()
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.Signal() != "" && ee.ExitStatus() == 0 {
			return 128 + signalNumber(ee.Signal()), nil
		}
		return ee.ExitStatus(), nil
	}
	var em *ssh.ExitMissingError
	if errors.As(err, &em) {
		return -1, errors.New("the connection closed without an exit status: the VM may have stopped, or the tunnel to it dropped")
	}
	return -1, err
}

// Close ends the session.
func (s *Session) Close() error {
	err := s.s.Close()
	s.finish()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

func (s *Session) finish() {
	s.finished.Do(func() {
		if s.release != nil {
			s.release()
		}
	})
}

func signalNumber(sig string) int {
	switch sig {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return 9
	case "PIPE":
		return 13
	case "ALRM":
		return 14
	case "TERM":
		return 15
	}
	return 0
}
