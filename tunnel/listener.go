package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ListenOptions tune a Listener.
type ListenOptions struct {
	// AllowNonLoopback permits binding an address other programs on the
	// network can reach. Off by default: tunnels bind loopback only.
	AllowNonLoopback bool
	// TestConnection opens and closes one relay session before Listen
	// returns, so a wrong target fails early.
	TestConnection bool
	// OnConnError is told when a local connection could not be relayed
	// (connect failed, or the session ended with an error).
	OnConnError func(error)
	// Logger; nil uses the Dialer's.
	Logger *slog.Logger
}

// ListenerStats are a listener's live counters.
type ListenerStats struct {
	ActiveConns int64
	TotalConns  int64
	BytesIn     int64 // from the VM to local clients
	BytesOut    int64 // from local clients to the VM
	// LastError is the last local connection's failure ("" if none), for
	// display next to the counters.
	LastError string
}

// Listener accepts local TCP connections and relays each over its own
// session to one target.
type Listener struct {
	d      *Dialer
	t      Target
	ln     net.Listener
	extra  net.Listener // ::1 on the same port when "localhost" was asked for
	opts   ListenOptions
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	active, total, bytesIn, bytesOut atomic.Int64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	lastErr string
}

// Listen binds addr ("localhost:0" picks a free port) and relays every
// connection accepted there to t. ctx bounds the optional connection test;
// the listener lives until Close.
func Listen(ctx context.Context, d *Dialer, t Target, addr string, opts ListenOptions) (*Listener, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	bind, port, err := bindAddr(addr, opts.AllowNonLoopback)
	if err != nil {
		return nil, err
	}
	network := "tcp"
	if h, _, _ := net.SplitHostPort(bind); net.ParseIP(h).To4() != nil {
		// "0.0.0.0" means IPv4 only; "tcp" would bind IPv6's [::] too.
		network = "tcp4"
	}
	ln, err := net.Listen(network, bind)
	if err != nil {
		if port != 0 {
			return nil, &PortNotAvailableError{Port: port, Err: err}
		}
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	var extra net.Listener
	if h, _, _ := net.SplitHostPort(addr); h == "" || h == "localhost" {
		// localhost is also ::1, which many clients try first and some
		// (Node.js, for one) try alone; gcloud listens on both too. No
		// IPv6, or ::1's port taken by someone else: IPv4 alone.
		p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		extra, _ = net.Listen("tcp6", net.JoinHostPort("::1", p))
	}
	if opts.TestConnection {
		if err := d.Probe(ctx, t); err != nil {
			ln.Close()
			if extra != nil {
				extra.Close()
			}
			return nil, fmt.Errorf("while checking if a connection can be made: %w", err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = d.logger()
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		d: d, t: t, ln: ln, extra: extra, opts: opts, ctx: lctx, cancel: cancel,
		log:   log.With("target", t.Key(), "listen", ln.Addr().String()),
		done:  make(chan struct{}),
		conns: map[net.Conn]struct{}{},
	}
	var accepting sync.WaitGroup
	for _, x := range []net.Listener{ln, extra} {
		if x != nil {
			accepting.Go(func() { l.accept(x) })
		}
	}
	go func() { accepting.Wait(); close(l.done) }()
	return l, nil
}

// bindAddr checks addr and returns what to bind and the explicit port.
func bindAddr(addr string, allowAny bool) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("local address %q is not HOST:PORT (for example localhost:0): %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("local port %q is not a number from 0 to 65535", portStr)
	}
	if host == "" || host == "localhost" {
		// As in gcloud, ":8080" means localhost, never every interface.
		host = "127.0.0.1"
	}
	if !allowAny {
		ip := net.ParseIP(host)
		if host == "" || ip == nil || !ip.IsLoopback() {
			return "", 0, fmt.Errorf("refusing to listen on %q: tunnels listen on loopback only (use localhost or 127.0.0.1), so only programs on this machine can use them", addr)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), port, nil
}

// CheckListenAddr reports whether Listen would accept addr with these
// options, without binding anything, so a bad value fails before any
// credentials or network are touched.
func CheckListenAddr(addr string, opts ListenOptions) error {
	_, _, err := bindAddr(addr, opts.AllowNonLoopback)
	return err
}

// Addr is the bound local address (the IPv4 one when "localhost" is bound
// on both 127.0.0.1 and ::1).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Port is the bound local port.
func (l *Listener) Port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// Target is where connections go.
func (l *Listener) Target() Target { return l.t }

// Stats returns the live counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	last := l.lastErr
	l.mu.Unlock()
	return ListenerStats{
		ActiveConns: l.active.Load(),
		TotalConns:  l.total.Load(),
		BytesIn:     l.bytesIn.Load(),
		BytesOut:    l.bytesOut.Load(),
		LastError:   last,
	}
}

// Done is closed when the listener has stopped accepting.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Close stops accepting, closes every active connection and waits for them.
// It returns how many connections were still active.
func (l *Listener) Close() (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		l.wg.Wait()
		return 0, nil
	}
	l.closed = true
	n := len(l.conns)
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	err := l.ln.Close()
	if l.extra != nil {
		l.extra.Close()
	}
	l.cancel()
	<-l.done
	l.wg.Wait()
	return n, err
}

func (l *Listener) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("accept failed", "error", err)
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-l.ctx.Done():
				return
			}
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		l.active.Add(1)
		l.total.Add(1)
		go l.handle(c)
	}
}

func (l *Listener) connError(err error) {
	l.log.Info("local connection failed", "error", err)
	if l.opts.OnConnError != nil {
		l.opts.OnConnError(err)
	}
	l.mu.Lock()
	l.lastErr = err.Error()
	l.mu.Unlock()
}

func (l *Listener) handle(c net.Conn) {
	defer func() {
		c.Close()
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		l.active.Add(-1)
		l.wg.Done()
	}()
	s, err := l.d.Dial(l.ctx, l.t)
	if err != nil {
		if l.ctx.Err() == nil {
			l.connError(err)
		}
		return
	}
	if err := Relay(c, s, &l.bytesOut, &l.bytesIn); err != nil && l.ctx.Err() == nil {
		l.connError(err)
	}
}

// lingerTime bounds how long a local connection is drained after the relay
// ended the session, so closing it does not reset data the client has yet
// to read.
const lingerTime = 5 * time.Second

// Relay pumps data both ways between a local connection and a session
// until both directions are done, then closes both. Local EOF flushes and
// closes the session (the relay has no half-close); the relay's end of
// stream half-closes the local side. The counters, when not nil, are
// advanced as bytes move. It returns the session's error, if any.
func Relay(local net.Conn, s *Session, out, in *atomic.Int64) error {
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		_, err := s.ReadFrom(countingReader{local, out})
		if err != nil && s.Err() != nil {
			// The session is over; drain the local side for a while.
			local.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, local)
		}
		s.Close()
	}()
	_, err := s.writeTo(local, in)
	if err == nil {
		if cw, ok := local.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			local.Close()
		}
	} else {
		local.Close()
	}
	<-upDone
	local.Close()
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = nil // closed from this side
	}
	if serr := s.Err(); serr != nil && serr != io.EOF && !errors.Is(serr, net.ErrClosed) {
		return serr
	}
	return err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n != nil && n > 0 {
		c.n.Add(int64(n))
	}
	return n, err
}
