package tunnel

import (
	"errors"
	"fmt"
)

// Relay close codes (iap-relay-protocol section 5).
const (
	CloseNormal                   = 1000
	CloseAbnormal                 = 1006
	CloseErrorUnknown             = 4000
	CloseSIDUnknown               = 4001
	CloseSIDInUse                 = 4002
	CloseFailedToConnectToBackend = 4003
	CloseReauthenticationRequired = 4004
	CloseBadAck                   = 4005
	CloseInvalidAck               = 4006
	CloseInvalidWebSocketOpcode   = 4007
	CloseInvalidTag               = 4008
	CloseDestinationWriteFailed   = 4009
	CloseDestinationReadFailed    = 4010
	CloseInvalidData              = 4013
	CloseNotAuthorized            = 4033
	CloseLookupFailed             = 4047
	CloseLookupFailedReconnect    = 4051
	CloseFailedToRewind           = 4074
)

// Sentinel errors, usable with errors.Is on any error a Session, Dialer,
// Listener or Pool returns.
var (
	// ErrNotAuthorized: close 4033 or HTTP 403 on the WebSocket upgrade.
	ErrNotAuthorized = errors.New("not authorized to tunnel to this instance")
	// ErrBackendUnreachable: close 4003, the relay could not reach the VM port.
	ErrBackendUnreachable = errors.New("relay could not connect to the backend")
	// ErrInstanceNotFound: close 4047 or HTTP 404.
	ErrInstanceNotFound = errors.New("instance not found")
	// ErrTokenRejected: HTTP 401, the access token expired or is invalid.
	ErrTokenRejected = errors.New("access token rejected")
	// ErrSessionLost: the relay forgot the session (4001, 4002, 4051, 4074)
	// or reconnecting did not succeed within the allowed time.
	ErrSessionLost = errors.New("relay session lost")
	// ErrConnectTimeout: no CONNECT_SUCCESS_SID within the connect timeout.
	ErrConnectTimeout = errors.New("timed out waiting for the relay")
	// ErrProtocol: the relay broke the protocol (bad ACK, DATA before SID...).
	ErrProtocol = errors.New("relay protocol violation")
	// ErrPortNotAvailable: the local port to listen on is in use.
	ErrPortNotAvailable = errors.New("local port is not available")
)

// CloseError is a WebSocket close from the relay that ended a session (or a
// connect attempt). Its message says what the user can do about it.
type CloseError struct {
	Code   int
	Reason string
	Target Target
}

func (e *CloseError) Error() string {
	t := e.Target
	head := fmt.Sprintf("relay closed the connection [%d: '%s']", e.Code, e.Reason)
	switch e.Code {
	case CloseNotAuthorized:
		return fmt.Sprintf("%s: not authorized to connect to port %d of instance %s (project %s, zone %s): "+
			"you need the role roles/iap.tunnelResourceAccessor (IAP-secured Tunnel User) on instance %s, "+
			"or an IAM condition on that role excludes port %d (right after an instance is recreated this can also take a minute to settle)",
			head, t.Port, t.Instance, t.Project, t.Zone, t.Instance, t.Port)
	case CloseFailedToConnectToBackend:
		return fmt.Sprintf("%s: IAP could not connect to port %d of instance %s (project %s, zone %s). "+
			"The VM may still be booting or nothing listens on port %d; if a firewall rule blocks IAP, allow it with:\n"+
			"  gcloud compute firewall-rules create allow-ingress-from-iap --direction=INGRESS --action=allow --rules=tcp:%d --source-ranges=35.235.240.0/20",
			head, t.Port, t.Instance, t.Project, t.Zone, t.Port, t.Port)
	case CloseLookupFailed:
		return fmt.Sprintf("%s: instance %s not found in project %s, zone %s: check the project, zone and instance name (a VM that is being created can also take a moment to appear)",
			head, t.Instance, t.Project, t.Zone)
	case CloseSIDUnknown, CloseSIDInUse, CloseLookupFailedReconnect, CloseFailedToRewind:
		return fmt.Sprintf("%s: the relay could not resume the tunnel session to %s; open a new connection", head, t)
	}
	return fmt.Sprintf("%s while connected to %s", head, t)
}

// Is maps close codes to the package's sentinel errors.
func (e *CloseError) Is(target error) bool {
	switch target {
	case ErrNotAuthorized:
		return e.Code == CloseNotAuthorized
	case ErrBackendUnreachable:
		return e.Code == CloseFailedToConnectToBackend
	case ErrInstanceNotFound:
		return e.Code == CloseLookupFailed
	case ErrSessionLost:
		switch e.Code {
		case CloseSIDUnknown, CloseSIDInUse, CloseLookupFailedReconnect, CloseFailedToRewind:
			return true
		}
	}
	return false
}

// HandshakeError is an HTTP answer other than 101 to the WebSocket upgrade.
type HandshakeError struct {
	Status int
	Target Target
}

func (e *HandshakeError) Error() string {
	t := e.Target
	switch e.Status {
	case 401:
		return fmt.Sprintf("the relay rejected the access token (HTTP 401) while connecting to %s: it expired or is invalid; sign in again or supply a fresh token", t)
	case 403:
		return fmt.Sprintf("the relay refused the connection to %s (HTTP 403): you may lack the role roles/iap.tunnelResourceAccessor (IAP-secured Tunnel User) on instance %s, "+
			"or a proxy between you and Google blocks WebSockets", t, t.Instance)
	case 404:
		return fmt.Sprintf("the relay found no such target (HTTP 404) for %s: check the project, zone and instance name", t)
	}
	return fmt.Sprintf("the relay answered HTTP %d to the WebSocket upgrade for %s (may be due to missing permissions or a proxy)", e.Status, t)
}

// Is maps HTTP statuses to the package's sentinel errors.
func (e *HandshakeError) Is(target error) bool {
	switch target {
	case ErrTokenRejected:
		return e.Status == 401
	case ErrNotAuthorized:
		return e.Status == 403
	case ErrInstanceNotFound:
		return e.Status == 404
	}
	return false
}

// PortNotAvailableError reports a busy local port in gcloud's words.
type PortNotAvailableError struct {
	Port int
	Err  error
}

func (e *PortNotAvailableError) Error() string {
	return fmt.Sprintf("Local port [%d] is not available.", e.Port)
}

func (e *PortNotAvailableError) Unwrap() []error { return []error{ErrPortNotAvailable, e.Err} }

// closeKind says what a close code means for a session.
type closeKind int

const (
	closeResumable closeKind = iota
	closeEndOfStream
	closeFatal
)

func classifyClose(code int) closeKind {
	switch code {
	case CloseNormal, CloseDestinationWriteFailed, CloseDestinationReadFailed:
		return closeEndOfStream
	case CloseSIDUnknown, CloseSIDInUse, CloseFailedToConnectToBackend, CloseNotAuthorized,
		CloseLookupFailed, CloseLookupFailedReconnect, CloseFailedToRewind:
		return closeFatal
	}
	// 1006, 4000, 4004-4008, 4013 and anything unknown: resume.
	return closeResumable
}
