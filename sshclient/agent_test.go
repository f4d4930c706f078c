package sshclient

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"
)

// TestAgentSignersShareOneConnection: asking the agent for its keys on
// every connection attempt reuses one socket instead of leaving a new one
// open each time, and reconnects once the agent went away.
func TestAgentSignersShareOneConnection(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go agent.ServeAgent(kr, c)
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	for i := 0; i < 5; i++ {
		s, err := AgentSigners()
		if err != nil || len(s) != 1 {
			t.Fatalf("call %d: %d signers, %v", i, len(s), err)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("5 calls opened %d connections to the agent, want 1", n)
	}
	// The agent drops the connection (restarted): the next call reconnects.
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	if s, err := AgentSigners(); err != nil || len(s) != 1 {
		t.Fatalf("after the agent dropped the connection: %d signers, %v", len(s), err)
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("%d connections after a reconnect, want 2", n)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := AgentSigners(); err == nil {
		t.Fatal("no error without SSH_AUTH_SOCK")
	}
}

// TestAgentSignersStuckAgent: an agent that takes the request for its keys
// and does not answer is given up on with a message, instead of hanging
// the connection (and, through the shared connection, every other one).
// The fake agent hangs up when the test ends.
func TestAgentSignersStuckAgent(t *testing.T) {
	old := agentListTimeout
	agentListTimeout = 50 * time.Millisecond
	t.Cleanup(func() { agentListTimeout = old })
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, io.LimitReader(c, 1)) // take the request
				<-ended
				c.Close()
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	_, err = AgentSigners()
	if err == nil || !strings.Contains(err.Error(), "did not list its keys") {
		t.Fatalf("err = %v, want the agent reported as not answering", err)
	}
}
