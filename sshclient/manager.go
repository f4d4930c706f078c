package sshclient

import (
	"context"
	"sync"
	"time"
)

// Manager shares one SSH connection per VM: further sessions and SFTP
// clients to a VM with an open connection become new channels on it (one
// tunnel, one key publication, one handshake). A connection closes Linger
// after its last channel ends.
type Manager struct {
	Connector *Connector
	// Linger keeps an idle connection open for reuse (10 s when 0;
	// negative closes at once).
	Linger time.Duration

	mu    sync.Mutex
	conns map[string]*managedConn
}

type managedConn struct {
	ready  chan struct{} // closed when dialing finished
	client *Client
	err    error
	refs   int
	timer  *time.Timer
}

// Lease is a reference to a managed connection; Release it when done.
type Lease struct {
	Client *Client
	once   sync.Once
	m      *Manager
	key    string
	mc     *managedConn
}

// Release gives the connection back; the last release starts the linger.
func (l *Lease) Release() { l.once.Do(func() { l.m.release(l.key, l.mc) }) }

func (m *Manager) linger() time.Duration {
	if m.Linger == 0 {
		return 10 * time.Second
	}
	return m.Linger
}

// Acquire returns a lease on the VM's connection, connecting when there is
// none. Concurrent callers for the same VM share one connection attempt.
func (m *Manager) Acquire(ctx context.Context, t Target) (*Lease, error) {
	key := t.Key()
	for {
		m.mu.Lock()
		if m.conns == nil {
			m.conns = make(map[string]*managedConn)
		}
		mc, ok := m.conns[key]
		if !ok {
			mc = &managedConn{ready: make(chan struct{}), refs: 1}
			m.conns[key] = mc
			m.mu.Unlock()
			client, err := m.Connector.Connect(ctx, t)
			m.mu.Lock()
			mc.client, mc.err = client, err
			if mc.err != nil {
				delete(m.conns, key)
			}
			close(mc.ready)
			m.mu.Unlock()
			if mc.err != nil {
				return nil, mc.err
			}
			go m.watch(key, mc)
			return &Lease{Client: mc.client, m: m, key: key, mc: mc}, nil
		}
		mc.refs++
		if mc.timer != nil {
			mc.timer.Stop()
			mc.timer = nil
		}
		m.mu.Unlock()
		select {
		case <-mc.ready:
		case <-ctx.Done():
			m.release(key, mc)
			return nil, ctx.Err()
		}
		if mc.err != nil {
			// The shared attempt failed (maybe with the other caller's
			// context): try on our own.
			m.mu.Lock()
			mc.refs--
			m.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		select {
		case <-mc.client.Done():
			// Died in the meantime; watch removes it. Try again.
			m.release(key, mc)
			m.forget(key, mc)
			continue
		default:
		}
		return &Lease{Client: mc.client, m: m, key: key, mc: mc}, nil
	}
}

// watch forgets a connection that ended on its own.
func (m *Manager) watch(key string, mc *managedConn) {
	<-mc.client.Done()
	m.forget(key, mc)
}

func (m *Manager) forget(key string, mc *managedConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns[key] == mc {
		delete(m.conns, key)
	}
}

func (m *Manager) release(key string, mc *managedConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc.refs--
	if mc.refs > 0 || mc.client == nil {
		return
	}
	d := m.linger()
	if d < 0 {
		d = 0
	}
	mc.timer = time.AfterFunc(d, func() {
		m.mu.Lock()
		idle := mc.refs == 0 && m.conns[key] == mc
		if idle {
			delete(m.conns, key)
		}
		m.mu.Unlock()
		if idle {
			mc.client.Close()
		}
	})
}

// Session opens a session on the VM's shared connection; closing or
// waiting for the session releases the connection.
func (m *Manager) Session(ctx context.Context, t Target) (*Session, error) {
	l, err := m.Acquire(ctx, t)
	if err != nil {
		return nil, err
	}
	s, err := newSession(l.Client, l.Release)
	if err != nil {
		l.Release()
		return nil, err
	}
	return s, nil
}

// SFTP opens an SFTP client on the VM's shared connection; Close releases
// the connection.
func (m *Manager) SFTP(ctx context.Context, t Target) (*SFTP, error) {
	l, err := m.Acquire(ctx, t)
	if err != nil {
		return nil, err
	}
	f, err := newSFTP(l.Client, l.Release)
	if err != nil {
		l.Release()
		return nil, err
	}
	return f, nil
}

// Open reports whether a connection to t is open or being opened.
func (m *Manager) Open(t Target) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.conns[t.Key()]
	return ok
}

// Close closes every connection at once.
func (m *Manager) Close() error {
	m.mu.Lock()
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	for _, mc := range conns {
		select {
		case <-mc.ready:
			if mc.client != nil {
				mc.client.Close()
			}
		default:
		}
	}
	return nil
}
