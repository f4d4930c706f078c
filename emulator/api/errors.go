package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"iapterm/emulator/cloud"
)

// apiError is Google's JSON error: {"error":{code, message, errors, status}}.
type apiError struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Errors  []errorDetail `json:"errors,omitempty"`
	Status  string        `json:"status,omitempty"`
}

type errorDetail struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
	501: "UNIMPLEMENTED",
}

// newError builds an error in the given style: Compute errors carry a
// reason and no status; the other APIs carry the canonical status.
func newError(code int, reason, message string, withStatus bool) *apiError {
	e := &apiError{Code: code, Message: message, Errors: []errorDetail{{Message: message, Domain: "global", Reason: reason}}}
	if withStatus {
		e.Status = statusNames[code]
	}
	return e
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	}
	writeJSON(w, e.Code, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	if _, compact := w.(compactWriter); !compact {
		enc.SetIndent("", "  ")
	}
	enc.Encode(v)
}

// compactWriter marks responses to requests with prettyPrint=false (what
// the Go clients send): no indentation, as Google does.
type compactWriter struct{ http.ResponseWriter }

// computeErr maps cloud errors to Compute's: 404 notFound, 412
// conditionNotMet, else 400.
func computeErr(err error) *apiError {
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		return newError(404, "notFound", nf.Error(), false)
	}
	if errors.Is(err, cloud.ErrFingerprintMismatch) {
		return newError(412, "conditionNotMet", cloud.ErrFingerprintMismatch.Error(), false)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return newError(400, "invalid", err.Error(), false)
}

func computeForbidden(permission, resource string) *apiError {
	return newError(403, "forbidden", "Required '"+permission+"' permission for '"+resource+"'", false)
}

// permissionDenied is the CRM v3 / OS Login / IAP style 403.
func permissionDenied(permission, resource string) *apiError {
	msg := "Permission '" + permission + "' denied on resource '" + resource + "' (or it may not exist)."
	return newError(403, "forbidden", msg, true)
}

func badRequest(msg string, withStatus bool) *apiError {
	return newError(400, "badRequest", msg, withStatus)
}

// caller is the authenticated user of a request.
type caller struct {
	email string
}

type handler func(w http.ResponseWriter, r *http.Request, who caller)

// authed checks the bearer token before calling h; a missing, unknown or
// expired token gets 401 with Google's envelope.
func (a *API) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		t, err := a.c.Authenticate(tok)
		if err != nil {
			e := newError(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", true)
			e.Errors[0].Message = "Invalid Credentials"
			e.Errors[0].Location = "Authorization"
			e.Errors[0].LocationType = "header"
			if errors.Is(err, cloud.ErrTokenExpired) {
				e.Message = "Request had invalid authentication credentials: the access token expired. Sign in again or refresh the token."
			}
			writeError(w, e)
			return
		}
		if r.URL.Query().Get("prettyPrint") == "false" {
			w = compactWriter{w}
		}
		h(w, r, caller{email: t.Email})
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return r.URL.Query().Get("access_token")
}

// decodeBody reads a JSON request body into v; an empty body is allowed.
func decodeBody(r *http.Request, v any) error { return decodeBodyOpts(r, v, false) }

// decodeStrictBody is decodeBody for a request whose schema the emulator
// models whole: an unknown field is refused, as Google's JSON parser does.
// Ignoring it would be worse than for most calls: a metadata write with
// "item" for "items" would replace the whole set with nothing.
func decodeStrictBody(r *http.Request, v any) error { return decodeBodyOpts(r, v, true) }

func decodeBodyOpts(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 2<<20))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err != nil && strict {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("Unknown name %s: Cannot find field.", name)
		}
	}
	var te *json.UnmarshalTypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &te):
		// Name the field as the client sent it, not Go's struct field.
		return fmt.Errorf("invalid value at '%s' (expected %s): found a JSON %s", te.Field, jsonKind(te.Type.Kind()), te.Value)
	}
	return err
}

// jsonKind names what JSON a field of kind k takes.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "a number"
}

// int64JSON is a proto int64 field: Google sends it as a string and
// accepts a string or a number.
type int64JSON string

func (n *int64JSON) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = int64JSON(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return &json.UnmarshalTypeError{Value: "value " + string(b), Type: reflect.TypeFor[string]()}
	}
	*n = int64JSON(num.String())
	return nil
}
