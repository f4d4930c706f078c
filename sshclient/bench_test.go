//go:build unix

package sshclient_test

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"iapterm/sshclient"
)

// Benchmarks against the in-process emulator (relay, guest agent and its
// SSH server with a real shell all in this process). Run with
//   go test -run '^$' -bench . -benchtime 20x ./sshclient/

func benchUser(b *testing.B) (*user, sshclient.Target) {
	e := startEmulator(b)
	u := e.user(b, "alice@example.com", "tok-alice")
	inst, err := u.cloud.Instance(context.Background(), "proj-meta", "us-central1-a", "vm-1")
	if err != nil {
		b.Fatal(err)
	}
	tg := sshclient.Target{Project: "proj-meta", Zone: "us-central1-a", Instance: "vm-1", ID: inst.ID, Metadata: inst.Metadata}
	// Publish once so iterations measure connecting, not the agent's delay.
	c, err := u.conn.Connect(context.Background(), tg)
	if err != nil {
		b.Fatal(err)
	}
	c.Close()
	return u, tg
}

func runTrue(b *testing.B, s *sshclient.Session) {
	if err := s.Start("true"); err != nil {
		b.Fatal(err)
	}
	go io.Copy(io.Discard, s.Stderr)
	io.Copy(io.Discard, s.Stdout)
	if code, err := s.Wait(); err != nil || code != 0 {
		b.Fatal(code, err)
	}
}

// BenchmarkSessionNewConnection: a session on a VM without an open
// connection (key already published): tunnel, handshake, auth, exec.
func BenchmarkSessionNewConnection(b *testing.B) {
	u, tg := benchUser(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := u.conn.Connect(context.Background(), tg)
		if err != nil {
			b.Fatal(err)
		}
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		runTrue(b, s)
		c.Close()
	}
}

// BenchmarkSessionMultiplexed: a further session to a VM whose connection
// is open: one new channel.
func BenchmarkSessionMultiplexed(b *testing.B) {
	u, tg := benchUser(b)
	m := &sshclient.Manager{Connector: u.conn, Linger: time.Hour}
	defer m.Close()
	l, err := m.Acquire(context.Background(), tg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := m.Session(context.Background(), tg)
		if err != nil {
			b.Fatal(err)
		}
		runTrue(b, s)
	}
}

// BenchmarkCat100MiB streams 100 MiB of command output through the tunnel
// and SSH; cpu-s/op is this process's CPU (client, relay and server).
func BenchmarkCat100MiB(b *testing.B) {
	const size = 100 << 20
	u, tg := benchUser(b)
	c, err := u.conn.Connect(context.Background(), tg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(size)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start("head -c 104857600 /dev/zero"); err != nil {
			b.Fatal(err)
		}
		go io.Copy(io.Discard, s.Stderr)
		n, _ := io.Copy(io.Discard, s.Stdout)
		if code, err := s.Wait(); err != nil || code != 0 || n != size {
			b.Fatal(code, err, n)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
