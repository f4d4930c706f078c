// Package endpoint derives every Google endpoint the client talks to from one
// setting, IAPTERM_ENDPOINT (or --endpoint). Unset means the real Google
// hosts; an http(s)://host:port value sends everything to that address (the
// emulator).
package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Environment variables read by FromEnv.
const (
	EnvEndpoint = "IAPTERM_ENDPOINT"
	EnvCAFile   = "IAPTERM_CA_FILE"
)

// Endpoints holds the base URL of every service iapterm calls.
type Endpoints struct {
	// Override is the user's setting as given ("" for real Google).
	Override string
	// Relay is the relay's root, ending in "/v4/" (ws:// or wss://).
	Relay string
	// MTLSRelay is the relay root used when the client presents a device
	// certificate (Google serves mutual TLS on its own host).
	MTLSRelay string
	// Compute ends in "/compute/v1/", as google.golang.org/api expects.
	Compute         string
	ResourceManager string
	OSLogin         string
	IAP             string
	IAM             string
	OAuthAuthorize  string
	OAuthToken      string
	OAuthRevoke     string
	UserInfo        string
	// CAFile is an extra PEM bundle to trust besides the system roots.
	CAFile string
}

// Google returns the production endpoints.
func Google() Endpoints {
	return Endpoints{
		Relay:           "wss://tunnel.cloudproxy.app/v4/",
		MTLSRelay:       "wss://mtls.tunnel.cloudproxy.app/v4/",
		Compute:         "https://compute.googleapis.com/compute/v1/",
		ResourceManager: "https://cloudresourcemanager.googleapis.com/",
		OSLogin:         "https://oslogin.googleapis.com/",
		IAP:             "https://iap.googleapis.com/",
		IAM:             "https://iam.googleapis.com/",
		OAuthAuthorize:  "https://accounts.google.com/o/oauth2/v2/auth",
		OAuthToken:      "https://oauth2.googleapis.com/token",
		OAuthRevoke:     "https://oauth2.googleapis.com/revoke",
		UserInfo:        "https://www.googleapis.com/oauth2/v2/userinfo",
	}
}

// FromEnv resolves the endpoints from flagValue if set, else IAPTERM_ENDPOINT.
func FromEnv(flagValue string) (Endpoints, error) {
	v := flagValue
	if v == "" {
		v = os.Getenv(EnvEndpoint)
	}
	e, err := Parse(v)
	if err != nil {
		return Endpoints{}, err
	}
	e.CAFile = os.Getenv(EnvCAFile)
	return e, nil
}

// Parse resolves the endpoints for one override value ("" means Google).
// An override is http(s)://host[:port][/root]; every service lives under it,
// and the relay is ws(s)://host[:port][/root]/v4/.
func Parse(override string) (Endpoints, error) {
	override = strings.TrimSpace(override)
	if override == "" {
		return Google(), nil
	}
	u, err := url.Parse(override)
	if err != nil || u.Host == "" {
		return Endpoints{}, fmt.Errorf("endpoint %q is not a URL like http://127.0.0.1:8080: set %s or --endpoint to the emulator's address, or unset it for Google", override, EnvEndpoint)
	}
	if u.User != nil {
		// The value would show up in status lines and errors: do not echo it.
		return Endpoints{}, fmt.Errorf("the endpoint in %s or --endpoint holds a user name or password: remove them (an endpoint is just http(s)://host:port)", EnvEndpoint)
	}
	var wsScheme string
	switch u.Scheme {
	case "http", "ws":
		wsScheme, u.Scheme = "ws", "http"
	case "https", "wss":
		wsScheme, u.Scheme = "wss", "https"
	default:
		return Endpoints{}, fmt.Errorf("endpoint %q: scheme must be http or https", override)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Endpoints{}, fmt.Errorf("endpoint %q: must not have a query or fragment", override)
	}
	root := strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	relayRoot := strings.TrimSuffix(wsScheme+"://"+u.Host+u.Path, "/")
	return Endpoints{
		Override:        override,
		Relay:           relayRoot + "/v4/",
		MTLSRelay:       relayRoot + "/v4/",
		Compute:         root + "/compute/v1/",
		ResourceManager: root + "/",
		OSLogin:         root + "/",
		IAP:             root + "/",
		IAM:             root + "/",
		OAuthAuthorize:  root + "/o/oauth2/v2/auth",
		OAuthToken:      root + "/token",
		OAuthRevoke:     root + "/revoke",
		UserInfo:        root + "/oauth2/v2/userinfo",
	}, nil
}

// IsEmulator reports whether the endpoints point somewhere other than Google.
func (e Endpoints) IsEmulator() bool { return e.Override != "" }

// Describe names the endpoint for status lines.
func (e Endpoints) Describe() string {
	if e.IsEmulator() {
		return "emulator at " + e.Override
	}
	return "Google Cloud"
}

// TLSConfig returns a TLS configuration trusting the system roots plus CAFile.
// It returns nil when no extra CA is configured.
func (e Endpoints) TLSConfig() (*tls.Config, error) {
	if e.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", EnvCAFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s=%s holds no PEM certificate: point it at the CA file the emulator printed (IAPTERM_CA_FILE=...), or unset it", EnvCAFile, e.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// HTTPClient returns an HTTP client that trusts CAFile and honours the
// standard proxy variables. Callers add authentication on top.
func (e Endpoints) HTTPClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg, err := e.TLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr}, nil
}
