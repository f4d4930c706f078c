package projects

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/oauth2"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iap/v1"
	"google.golang.org/api/option"
	"google.golang.org/api/oslogin/v1"

	"iapterm/auth"
	"iapterm/endpoint"
)

// DefaultConcurrency bounds how many projects an inventory lists at once.
const DefaultConcurrency = 8

// Client calls the Google APIs iapterm needs, all derived from one endpoint
// setting and one token source.
type Client struct {
	// Concurrency bounds parallel per-project calls in Inventory.
	Concurrency int
	// PageSize is maxResults/pageSize for list calls (500 when 0, the
	// largest Compute allows).
	PageSize int

	compute *compute.Service
	crm     *cloudresourcemanager.Service
	oslogin *oslogin.Service
	iap     *iap.Service
	calls   atomic.Int64
}

// NewClient builds the API clients for the endpoints, authenticating every
// request with ts (nil sends no credentials).
func NewClient(ctx context.Context, e endpoint.Endpoints, ts oauth2.TokenSource) (*Client, error) {
	base, err := e.HTTPClient()
	if err != nil {
		return nil, err
	}
	c := &Client{Concurrency: DefaultConcurrency}
	var rt http.RoundTripper = base.Transport
	if ts != nil {
		rt = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, ts), Base: rt}
	}
	hc := &http.Client{Transport: counter{next: rt, n: &c.calls}}
	opts := func(ep string) []option.ClientOption {
		return []option.ClientOption{option.WithHTTPClient(hc), option.WithEndpoint(ep)}
	}
	if c.compute, err = compute.NewService(ctx, opts(e.Compute)...); err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	if c.crm, err = cloudresourcemanager.NewService(ctx, opts(e.ResourceManager)...); err != nil {
		return nil, fmt.Errorf("resource manager client: %w", err)
	}
	if c.oslogin, err = oslogin.NewService(ctx, opts(e.OSLogin)...); err != nil {
		return nil, fmt.Errorf("OS Login client: %w", err)
	}
	if c.iap, err = iap.NewService(ctx, opts(e.IAP)...); err != nil {
		return nil, fmt.Errorf("IAP client: %w", err)
	}
	return c, nil
}

func (c *Client) pageSize() int64 {
	if c.PageSize <= 0 || c.PageSize > 500 {
		return 500
	}
	return int64(c.PageSize)
}

// Calls returns how many HTTP requests the client has sent.
func (c *Client) Calls() int64 { return c.calls.Load() }

// counter counts requests, for benchmarks and the doctor.
type counter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t counter) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// Error kinds callers test with errors.Is.
var (
	ErrNotFound         = errors.New("not found")
	ErrPermissionDenied = errors.New("permission denied")
	ErrConflict         = errors.New("changed concurrently")
)

// Error is an API failure rephrased as what the user can do about it.
type Error struct {
	// Code is the HTTP status (0 when the request never got an answer).
	Code int
	// Reason is the API's machine-readable reason, e.g. "notFound".
	Reason string
	msg    string
	// maybeMissing is the note that a 403 on a project may also mean
	// that it does not exist.
	maybeMissing string
	err          error
}

func (e *Error) Error() string { return e.msg + e.maybeMissing }

// ForKnownProject is the message for a caller that has seen the project
// exist: without the note that the project ID may be wrong.
func (e *Error) ForKnownProject() string { return e.msg }
func (e *Error) Unwrap() error           { return e.err }

// Is matches the error kinds and auth.ErrSignInExpired for 401s.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrPermissionDenied:
		return e.Code == http.StatusForbidden || e.Reason == "SERVICE_ACCOUNT_ACCESS_DENIED"
	case ErrConflict:
		return e.Code == http.StatusPreconditionFailed
	case auth.ErrSignInExpired:
		return e.Code == http.StatusUnauthorized
	}
	return false
}

// op describes a call for error messages: what it touches, which
// permission it needs and which predefined role grants it.
type op struct {
	what     string // "instance web-1 in project p zone z"
	notFound string // full 404 text; defaults to what + " not found"
	perm     string
	role     string
	// hidden403 notes that Google answers 403, not 404, for projects the
	// caller cannot see, so a 403 may also mean a mistyped ID.
	hidden403 bool
}

func (o op) translate(err error) error {
	if err == nil {
		return nil
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		// Token failures already say what to run; drop the URL wrapper.
		var ue *url.Error
		var ne net.Error
		switch {
		case !errors.As(err, &ue), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("%s: %w", o.what, err)
		case errors.Is(err, auth.ErrSignInExpired):
			return ue.Err
		case !errors.As(ue.Err, &ne):
			// Not the network: a token that could not be refreshed, say.
			return fmt.Errorf("%s: %w", o.what, ue.Err)
		}
		// The server, not the whole request URL: the cause is the network.
		// When getting a token failed, the unreachable one is the token
		// server, named by the inner error.
		server := ue.URL
		var inner *url.Error
		if errors.As(ue.Err, &inner) {
			server = inner.URL
		}
		if u, perr := url.Parse(server); perr == nil {
			server = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("%s: cannot reach %s (check the network, any proxy in HTTPS_PROXY, and --endpoint or IAPTERM_ENDPOINT): %w", o.what, server, ue.Err)
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
		if reason == "" && ge.Errors[0].Message == "SERVICE_ACCOUNT_ACCESS_DENIED" {
			reason = "SERVICE_ACCOUNT_ACCESS_DENIED"
		}
	}
	if strings.Contains(ge.Message, "SERVICE_ACCOUNT_ACCESS_DENIED") {
		reason = "SERVICE_ACCOUNT_ACCESS_DENIED"
	}
	e := &Error{Code: ge.Code, Reason: reason, err: err}
	detail := ge.Message
	switch {
	case ge.Code == http.StatusUnauthorized:
		e.msg = fmt.Sprintf("sign in again: the credentials were rejected while reading %s (run `iapterm auth login`, or refresh IAPTERM_ACCESS_TOKEN)", o.what)
	case reason == "SERVICE_ACCOUNT_ACCESS_DENIED":
		e.msg = fmt.Sprintf("%s runs as a service account you may not act as: you lack permission iam.serviceAccounts.actAs on it; ask for role roles/iam.serviceAccountUser", o.what)
	case ge.Code == http.StatusNotFound:
		e.msg = o.notFound
		if e.msg == "" {
			e.msg = o.what + " not found"
		}
	case ge.Code == http.StatusForbidden && (reason == "accessNotConfigured" || strings.Contains(detail, "has not been used") || strings.Contains(detail, "is disabled")):
		e.msg = fmt.Sprintf("the API needed for %s is not enabled: enable it in the project (%s)", o.what, detail)
	case ge.Code == http.StatusForbidden:
		perm, role := o.perm, o.role
		if perm == "" {
			perm = "the required permission"
		}
		e.msg = fmt.Sprintf("you lack permission %s on %s", perm, o.what)
		if role != "" {
			e.msg += "; ask for role " + role
		}
		if o.hidden403 {
			e.maybeMissing = " (or the project ID is wrong: Google answers the same for projects that do not exist)"
		}
	case ge.Code == http.StatusPreconditionFailed:
		e.msg = fmt.Sprintf("%s changed while iapterm was updating it; try again", o.what)
	default:
		if detail == "" {
			detail = http.StatusText(ge.Code)
		}
		e.msg = fmt.Sprintf("%s: %s (HTTP %d)", o.what, detail, ge.Code)
	}
	return e
}

// instanceOp builds the op for a call on one instance.
func instanceOp(project, zone, name, perm, role string) op {
	return op{
		what:     fmt.Sprintf("instance %s in project %s zone %s", name, project, zone),
		notFound: fmt.Sprintf("instance %s not found in project %s zone %s", name, project, zone),
		perm:     perm,
		role:     role,
	}
}

func projectOp(project, perm, role string) op {
	return op{
		what:      "project " + project,
		notFound:  fmt.Sprintf("project %s not found (or you cannot see it)", project),
		perm:      perm,
		role:      role,
		hidden403: true,
	}
}
