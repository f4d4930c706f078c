package sshclient

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sharedAgent is the process's one connection to the ssh-agent. The
// signers it hands out keep using it, so it is never closed while it
// works; a new connection per call (per connection attempt, and several
// while a published key propagates) left one open socket behind each.
var sharedAgent struct {
	mu     sync.Mutex
	sock   string
	conn   net.Conn
	client agent.ExtendedAgent
}

// agentListTimeout bounds the agent's answer to a request for its keys.
var agentListTimeout = 10 * time.Second

// AgentSigners returns the keys of the ssh-agent at $SSH_AUTH_SOCK, for
// Connector.AgentSigners. One connection to the agent is shared by every
// call; it is opened again when SSH_AUTH_SOCK changes or the agent went
// away (restarted, say).
func AgentSigners() ([]ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("no ssh-agent: SSH_AUTH_SOCK is not set")
	}
	a := &sharedAgent
	a.mu.Lock()
	defer a.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if a.client == nil || a.sock != sock {
			if a.conn != nil {
				a.conn.Close()
			}
			a.conn, a.client = nil, nil
			conn, err := net.Dial("unix", sock)
			if err != nil {
				return nil, fmt.Errorf("connecting to the ssh-agent at SSH_AUTH_SOCK: %w", err)
			}
			a.sock, a.conn, a.client = sock, conn, agent.NewClient(conn)
		}
		// Listing keys needs no confirmation from the user, so an agent
		// that does not answer is stuck: give up rather than hang every
		// connection. (Signing may wait for a confirmation; it has no
		// deadline.)
		deadline := time.Now().Add(agentListTimeout)
		a.conn.SetDeadline(deadline)
		signers, err := a.client.Signers()
		a.conn.SetDeadline(time.Time{})
		if err == nil {
			return signers, nil
		}
		a.conn.Close()
		a.conn, a.client = nil, nil
		// The agent package does not wrap the read error: the clock says
		// whether the deadline ended the wait.
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("the ssh-agent at SSH_AUTH_SOCK did not list its keys within %s", agentListTimeout)
		}
		if attempt > 0 {
			return nil, fmt.Errorf("reading the keys of the ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
	}
}
