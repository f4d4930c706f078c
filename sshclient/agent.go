package sshclient

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

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
		signers, err := a.client.Signers()
		if err == nil {
			return signers, nil
		}
		a.conn.Close()
		a.conn, a.client = nil, nil
		if attempt > 0 {
			return nil, fmt.Errorf("reading the keys of the ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
	}
}
