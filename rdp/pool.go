package rdp

import (
	"context"

	"iapterm/tunnel"
)

// PoolForwarder returns a Forwarder that acquires the tunnel to target's
// instance from pool (target.Port is replaced by the RDP port Launch asks
// for) on localPort (0: the pool's choice) and releases it when the client
// exits. A tunnel the pool already holds for the same VM port is shared.
func PoolForwarder(pool *tunnel.Pool, target tunnel.Target, localPort int) Forwarder {
	return func(ctx context.Context, remotePort int) (string, func(), error) {
		t := target
		t.Port = remotePort
		tn, err := pool.Acquire(ctx, t, localPort)
		if err != nil {
			return "", nil, err
		}
		return LoopbackAddr(tn.Port()), tn.Release, nil
	}
}
