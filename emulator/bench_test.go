package emulator

import (
	"context"
	"io"
	"testing"
	"time"

	"iapterm/tunnel"
)

// BenchmarkTunnelEcho measures one tunnel through the relay to a loopback
// echo server, with the real tunnel client: each operation writes 1 MiB and
// reads it back.
func BenchmarkTunnelEcho(b *testing.B) {
	benchEcho(b, Options{})
}

// BenchmarkTunnelEchoDrops is the same with the connection cut every MiB.
func BenchmarkTunnelEchoDrops(b *testing.B) {
	benchEcho(b, Options{DropEvery: 1 << 20})
}

func benchEcho(b *testing.B, o Options) {
	o.Backends = map[string]string{"acme-dev/us-east1-b/dev-alice:7": echoServer(b)}
	o.AgentDelay = -1
	s, err := Start(demoWorld(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ep := endpointsOf(b, s)
	target := tunnel.Target{Project: "acme-dev", Zone: "us-east1-b", Instance: "dev-alice", Port: 7}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sess, err := dialer(ep, s.Token()).Dial(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	data := make([]byte, 1<<20)
	got := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		errc := make(chan error, 1)
		go func() { _, err := sess.Write(data); errc <- err }()
		if _, err := io.ReadFull(sess, got); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}
