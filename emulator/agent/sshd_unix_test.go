//go:build unix

package agent

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// A client that goes away must not leave its shell running.
func TestSSHServerKillsProcessesOfClosedSessions(t *testing.T) {
	srv, signer := newAliceServer(t)
	c := dialAlice(t, srv, signer)
	s, _ := c.NewSession()
	out, _ := s.StdoutPipe()
	if err := s.Start("echo $$; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("pid line %q", line)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the session's process outlived its client")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSSHServerReportsExitSignal(t *testing.T) {
	srv, signer := newAliceServer(t)
	c := dialAlice(t, srv, signer)
	s, _ := c.NewSession()
	err := s.Run("kill -TERM $$")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("Run = %v, want exit signal TERM", err)
	}
}

func TestSSHServerForwardsSignals(t *testing.T) {
	srv, signer := newAliceServer(t)
	c := dialAlice(t, srv, signer)
	s, _ := c.NewSession()
	out, _ := s.StdoutPipe()
	if err := s.Start("echo started; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(ssh.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := s.Wait()
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "INT" {
		t.Fatalf("Wait = %v, want exit signal INT", err)
	}
}
