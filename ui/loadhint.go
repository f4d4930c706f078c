package ui

import (
	"context"
	"errors"
	"net"

	"iapterm/auth"
	"iapterm/projects"
)

// loadHint says what to do about a project that did not load, by why:
// the sign-in, a missing role, a project that does not exist, or the
// network; the general advice only when the kind is unknown.
func loadHint(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, auth.ErrNotSignedIn):
		return "Sign in with `iapterm auth login` (or set IAPTERM_ACCESS_TOKEN), then press r to retry."
	case errors.Is(err, auth.ErrSignInExpired):
		return "Your sign-in expired or was rejected: run `iapterm auth login` (or supply a fresh IAPTERM_ACCESS_TOKEN), then press r to retry."
	case errors.Is(err, projects.ErrPermissionDenied):
		return "Ask for the Compute Viewer role (roles/compute.viewer) in the project; press r to retry."
	case errors.Is(err, projects.ErrNotFound):
		return "Check the project ID (x removes the project from the explorer, a adds another); press r to retry."
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return "Check the network, any proxy in HTTPS_PROXY, and --endpoint or IAPTERM_ENDPOINT; press r to retry."
	}
	return "Check that the project exists and that you have the Compute Viewer role in it; press r to retry."
}
