package tunnel

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Range of deterministic and fallback local ports.
const (
	MinDefaultPort = 10000
	MaxDefaultPort = 49000
)

// DefaultLocalPort is a stable local port for t in [10000, 49000), so the
// same VM port gets the same local port every time (saved client settings
// keep working).
func DefaultLocalPort(t Target) int {
	h := fnv.New32a()
	for _, s := range []string{t.Project, t.Zone, t.Instance, strconv.Itoa(t.Port)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return MinDefaultPort + int(h.Sum32()%uint32(MaxDefaultPort-MinDefaultPort))
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithDefaultLocalPorts makes Acquire with local port 0 try
// DefaultLocalPort first, then random ports in the same range.
func WithDefaultLocalPorts() PoolOption { return func(p *Pool) { p.deterministic = true } }

// WithListenOptions sets the options of the pool's listeners.
func WithListenOptions(o ListenOptions) PoolOption { return func(p *Pool) { p.lopts = o } }

// Pool shares one reference-counted listener per target among callers.
type Pool struct {
	d             *Dialer
	deterministic bool
	lopts         ListenOptions

	mu      sync.Mutex
	entries map[string]*poolEntry
	closed  bool
}

type poolEntry struct {
	key    string
	t      Target
	ready  chan struct{}
	l      *Listener
	err    error
	refs   int
	opened time.Time
}

// Tunnel is one caller's handle on a shared listener.
type Tunnel struct {
	p        *Pool
	e        *poolEntry
	released atomic.Bool
}

// TunnelInfo describes a pooled tunnel for display.
type TunnelInfo struct {
	Key         string
	Target      Target
	LocalAddr   string
	BytesIn     int64 // VM to local
	BytesOut    int64 // local to VM
	ActiveConns int64
	TotalConns  int64
	Refs        int
	Opened      time.Time
	LastError   string // the last local connection's failure, if any
}

// NewPool returns an empty pool dialing with d.
func NewPool(d *Dialer, opts ...PoolOption) *Pool {
	p := &Pool{d: d, entries: map[string]*poolEntry{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Acquire returns a handle on the listener for t, opening one if needed.
// localPort 0 picks a port (see WithDefaultLocalPorts); a listener that is
// already open is shared whatever localPort says.
func (p *Pool) Acquire(ctx context.Context, t Target, localPort int) (*Tunnel, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	key := t.Key()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("tunnel pool: %w", net.ErrClosed)
	}
	if e, ok := p.entries[key]; ok {
		e.refs++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.release(e)
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		return &Tunnel{p: p, e: e}, nil
	}
	e := &poolEntry{key: key, t: t, ready: make(chan struct{}), refs: 1}
	p.entries[key] = e
	p.mu.Unlock()

	l, err := p.listen(ctx, t, localPort)
	p.mu.Lock()
	if err == nil && p.entries[key] != e {
		// Close or CloseTunnel took the entry while it opened; they close
		// l once ready is closed, so no handle may be given out on it.
		err = fmt.Errorf("tunnel to %s closed while it was opening: %w", t, net.ErrClosed)
	}
	e.l, e.err, e.opened = l, err, time.Now()
	if err != nil && p.entries[key] == e {
		delete(p.entries, key)
	}
	p.mu.Unlock()
	close(e.ready)
	if err != nil {
		return nil, err
	}
	return &Tunnel{p: p, e: e}, nil
}

func (p *Pool) listen(ctx context.Context, t Target, port int) (*Listener, error) {
	if port != 0 || !p.deterministic {
		return Listen(ctx, p.d, t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), p.lopts)
	}
	candidates := []int{DefaultLocalPort(t)}
	for range 8 {
		candidates = append(candidates, MinDefaultPort+rand.IntN(MaxDefaultPort-MinDefaultPort))
	}
	candidates = append(candidates, 0)
	var err error
	for _, c := range candidates {
		var l *Listener
		l, err = Listen(ctx, p.d, t, net.JoinHostPort("127.0.0.1", strconv.Itoa(c)), p.lopts)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrPortNotAvailable) {
			return nil, err
		}
	}
	return nil, err
}

// Release drops the handle; the listener closes with its last handle
// (Release then waits for its connections to finish).
func (p *Pool) Release(tn *Tunnel) {
	if tn == nil || !tn.released.CompareAndSwap(false, true) {
		return
	}
	p.release(tn.e)
}

func (p *Pool) release(e *poolEntry) {
	p.mu.Lock()
	e.refs--
	last := e.refs == 0 && p.entries[e.key] == e
	if last {
		delete(p.entries, e.key)
	}
	p.mu.Unlock()
	if last {
		<-e.ready
		if e.l != nil {
			e.l.Close()
		}
	}
}

// List describes the open tunnels, ordered by key.
func (p *Pool) List() []TunnelInfo {
	p.mu.Lock()
	var out []TunnelInfo
	for _, e := range p.entries {
		select {
		case <-e.ready:
		default:
			continue
		}
		if e.l == nil {
			continue
		}
		st := e.l.Stats()
		out = append(out, TunnelInfo{
			Key: e.key, Target: e.t, LocalAddr: e.l.Addr().String(),
			BytesIn: st.BytesIn, BytesOut: st.BytesOut,
			ActiveConns: st.ActiveConns, TotalConns: st.TotalConns,
			Refs: e.refs, Opened: e.opened, LastError: st.LastError,
		})
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// CloseTunnel force-closes the tunnel with key (TunnelInfo.Key), whoever
// holds it.
func (p *Pool) CloseTunnel(key string) error {
	p.mu.Lock()
	e, ok := p.entries[key]
	if ok {
		delete(p.entries, key)
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no open tunnel %s", key)
	}
	<-e.ready
	if e.l != nil {
		_, err := e.l.Close()
		return err
	}
	return nil
}

// Close closes every tunnel; Acquire fails afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	entries := p.entries
	p.entries = map[string]*poolEntry{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-e.ready
			if e.l != nil {
				e.l.Close()
			}
		}()
	}
	wg.Wait()
	return nil
}

// Target is the tunnel's destination.
func (tn *Tunnel) Target() Target { return tn.e.t }

// LocalAddr is where local programs connect.
func (tn *Tunnel) LocalAddr() net.Addr { return tn.e.l.Addr() }

// Port is the local port.
func (tn *Tunnel) Port() int { return tn.e.l.Port() }

// Stats are the shared listener's live counters.
func (tn *Tunnel) Stats() ListenerStats { return tn.e.l.Stats() }

// Release drops this handle (same as Pool.Release).
func (tn *Tunnel) Release() { tn.p.Release(tn) }
