// Package emulator runs a local Google Cloud on one loopback address: OAuth,
// Resource Manager, Compute, OS Login, IAP's IAM methods and the IAP relay,
// over a world file's projects and VMs. Tests and `iapterm --demo` point the
// client at Server.Endpoint through IAPTERM_ENDPOINT.
package emulator

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"iapterm/emulator/agent"
	"iapterm/emulator/api"
	"iapterm/emulator/cloud"
	"iapterm/emulator/relay"
	"iapterm/emulator/world"
)

// Options configure the emulator. The zero value serves plain HTTP on a
// free loopback port.
type Options struct {
	// Listen is the address to serve on (127.0.0.1:0 when empty).
	Listen string
	// TLS serves HTTPS and WSS with a certificate made at start for
	// 127.0.0.1, ::1 and localhost (see Server.CAFile).
	TLS bool
	// TokenTTL is the lifetime of issued access tokens (1 h when 0).
	TokenTTL time.Duration
	// Backends add to or override the world's backends:
	// "PROJECT/ZONE/INSTANCE:PORT" -> "HOST:PORT" (or "builtin-ssh").
	Backends map[string]string
	// Relay fault injection and tuning (see relay.Options).
	DropEvery   int64
	InjectClose int
	Window      int
	Latency     time.Duration
	// DenyBeforeUpgrade answers relay IAM denials with HTTP 403 instead
	// of close 4033.
	DenyBeforeUpgrade bool
	// AgentDelay is how long the simulated guest agent takes to apply
	// metadata changes (the agent's default when 0; negative: at once).
	AgentDelay time.Duration
	// AuthorizedKeys are authorized_keys files the simulated guest agent
	// keeps for VMs whose SSH server is an external program; they add to
	// the world file's authorizedKeysFile entries.
	AuthorizedKeys []agent.AuthorizedKeysFile
	// Transition is how long VM lifecycle operations take (see
	// api.Options.Transition).
	Transition time.Duration
	// OperationDelay keeps metadata write operations RUNNING this long.
	OperationDelay time.Duration
	// ForbidUserSSHKeys simulates an organisation policy that forbids
	// user-managed OS Login keys.
	ForbidUserSSHKeys bool
	// Logger receives the emulator's logs (discarded when nil). Tokens are
	// never logged.
	Logger *slog.Logger
}

// shutdownGrace bounds how long Close lets HTTP requests in flight finish.
const shutdownGrace = 500 * time.Millisecond

// Server is a running emulator.
type Server struct {
	cloud    *cloud.Cloud
	mux      *http.ServeMux
	relay    *relay.Handler
	api      *api.API
	http     *http.Server
	ln       net.Listener
	endpoint string
	caFile   string
	token    string
	log      *slog.Logger

	closeOnce sync.Once
	served    chan struct{}
}

// Start builds the live cloud from w (filling in its defaults) and serves
// it until Close.
func Start(w *world.World, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	c, err := cloud.New(w, cloud.Options{TokenTTL: o.TokenTTL, Backends: o.Backends})
	if err != nil {
		return nil, err
	}
	s := &Server{cloud: c, mux: http.NewServeMux(), log: o.Logger, served: make(chan struct{})}

	def := c.DefaultUser()
	if def.Token != "" {
		s.token = def.Token
	} else {
		t, err := c.IssueToken(def.Email, 0)
		if err != nil {
			return nil, err
		}
		s.token = t.Value
	}

	s.relay = relay.New(relay.Options{
		Cloud: c, Window: o.Window, DropEvery: o.DropEvery, InjectClose: o.InjectClose,
		Latency: o.Latency, DenyBeforeUpgrade: o.DenyBeforeUpgrade, Logger: o.Logger,
	})
	s.relay.Register(s.mux)

	// The control plane (Compute, Resource Manager, OS Login, IAP, OAuth,
	// guest agent and the builtin-ssh server) plugs in here.
	s.api, err = api.New(c, api.Options{
		AgentDelay: o.AgentDelay, Transition: o.Transition, OperationDelay: o.OperationDelay,
		ForbidUserSSHKeys: o.ForbidUserSSHKeys,
		AuthorizedKeys:    append(worldAuthorizedKeys(w), o.AuthorizedKeys...), Logger: o.Logger,
	})
	if err != nil {
		s.relay.Close()
		return nil, fmt.Errorf("starting the emulated control plane: %w", err)
	}
	s.api.Register(s.mux)

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		s.relay.Close()
		s.api.Close()
		return nil, fmt.Errorf("emulator cannot listen on %s: %w", o.Listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		o.Logger.Warn("the emulator listens beyond loopback: anyone who can reach this address and knows a token can use it", "addr", addr.String())
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if o.TLS {
		cert, caFile, err := selfSigned()
		if err != nil {
			ln.Close()
			s.relay.Close()
			s.api.Close()
			return nil, err
		}
		s.caFile = caFile
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// WebSockets need HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		})
		scheme = "https"
	}
	s.ln = ln
	s.endpoint = scheme + "://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
	s.http = &http.Server{
		Handler:           s.logRequests(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("emulator stopped serving", "err", err)
		}
	}()
	o.Logger.Info("emulator serving", "endpoint", s.endpoint, "projects", len(c.Projects()), "instances", len(c.AllInstances()), "default_user", def.Email)
	return s, nil
}

// worldAuthorizedKeys lists the world's authorizedKeysFile entries.
func worldAuthorizedKeys(w *world.World) []agent.AuthorizedKeysFile {
	var out []agent.AuthorizedKeysFile
	for _, p := range w.Projects {
		for _, in := range p.Instances {
			if in.AuthorizedKeysFile != "" {
				out = append(out, agent.AuthorizedKeysFile{
					VM: p.ID + "/" + in.Zone + "/" + in.Name, Path: in.AuthorizedKeysFile, User: in.AuthorizedKeysUser,
				})
			}
		}
	}
	return out
}

// logRequests logs each request's method, path and answer (the status,
// or 101 for a WebSocket): never its query or headers, which may hold
// tokens. The status is what tells a user debugging a client why a call
// failed.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		switch {
		case sw.hijacked:
			status = http.StatusSwitchingProtocols
		case status == 0:
			status = http.StatusOK
		}
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status)
	})
}

// statusWriter records the status a handler answers with; it keeps
// Hijack (WebSocket upgrades) and Flush working.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("the connection cannot be taken over")
	}
	c, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Endpoint is the base URL for IAPTERM_ENDPOINT ("http://127.0.0.1:PORT",
// or https with TLS).
func (s *Server) Endpoint() string { return s.endpoint }

// CAFile is the PEM file of the TLS certificate (empty without TLS): what
// IAPTERM_CA_FILE must name.
func (s *Server) CAFile() string { return s.caFile }

// Token is an access token of the world's default (first) user: its fixed
// token when the world sets one, else one issued at start that lives
// Options.TokenTTL.
func (s *Server) Token() string { return s.token }

// TokenFor issues a fresh access token for a user of the world.
func (s *Server) TokenFor(email string) (string, error) {
	t, err := s.cloud.IssueToken(email, 0)
	if err != nil {
		return "", err
	}
	return t.Value, nil
}

// Cloud is the live state, for tests that change it while clients run.
func (s *Server) Cloud() *cloud.Cloud { return s.cloud }

// API is the control plane (guest agent, builtin SSH server).
func (s *Server) API() *api.API { return s.api }

// Relay is the IAP relay handler.
func (s *Server) Relay() *relay.Handler { return s.relay }

// Close stops serving, ends every tunnel session and removes the CA file.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// A short grace: requests in flight finish, but a connection that
		// never sends a request (which Shutdown would wait 5 s for) does
		// not hold the emulator up.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		// Hijacked WebSockets are not tracked by Shutdown: the relay ends
		// them itself.
		s.relay.Close()
		err = s.http.Shutdown(ctx)
		if err != nil {
			s.http.Close()
		}
		<-s.served
		if e := s.api.Close(); err == nil {
			err = e
		}
		if s.caFile != "" {
			os.Remove(s.caFile)
		}
	})
	return err
}

// selfSigned makes a certificate for the loopback names and writes it as
// PEM to a temporary file.
func selfSigned() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "iapterm emulator", Organization: []string{"iapterm emulator"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	f, err := os.CreateTemp("", "iapterm-emulator-ca-*.pem")
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("writing the emulator's CA file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return tls.Certificate{}, "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return tls.Certificate{}, "", err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: nil}, f.Name(), nil
}
