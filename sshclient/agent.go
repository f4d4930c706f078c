package sshclient

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AgentSigners returns the keys of the ssh-agent at $SSH_AUTH_SOCK, for
// Connector.AgentSigners. Each call opens a fresh agent connection.
func AgentSigners() ([]ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, errors.New("no ssh-agent: SSH_AUTH_SOCK is not set")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("connecting to the ssh-agent at SSH_AUTH_SOCK: %w", err)
	}
	// The signers keep using the connection, so it stays open: agent
	// sockets are cheap and closed with the process.
	return agent.NewClient(conn).Signers()
}
