package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// TCPRelayChecker checks that the relay's host accepts TCP connections,
// directly or through the HTTPS proxy the environment names. The WebSocket
// upgrade itself is exercised by the tunnel probe.
type TCPRelayChecker struct {
	// Relay is the relay root, e.g. wss://tunnel.cloudproxy.app or the
	// emulator's ws://127.0.0.1:PORT.
	Relay string
	// Proxy picks a proxy for a URL; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
}

// CheckRelay dials the relay host (or its proxy).
func (c TCPRelayChecker) CheckRelay(ctx context.Context) error {
	u, err := url.Parse(c.Relay)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the relay URL %q is not valid: check --endpoint / IAPTERM_ENDPOINT", c.Relay)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "ws" || u.Scheme == "http" {
			port = "80"
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	via := ""
	proxy := c.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	// Proxies are configured for http(s) URLs; ask as for the https form.
	hu := *u
	switch hu.Scheme {
	case "wss":
		hu.Scheme = "https"
	case "ws":
		hu.Scheme = "http"
	}
	if pu, err := proxy(&http.Request{URL: &hu}); err == nil && pu != nil {
		p := pu.Port()
		if p == "" {
			p = "80"
			if pu.Scheme == "https" {
				p = "443"
			}
		}
		addr = net.JoinHostPort(pu.Hostname(), p)
		via = " through proxy " + pu.Host
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot reach the relay %s%s: %w", u.Host, via, err)
	}
	return conn.Close()
}
