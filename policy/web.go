package policy

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/idna"
)

// HTTPError is a request IAP refuses before any policy is evaluated.
type HTTPError struct {
	Status int
	Msg    string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg) }

// NormalizeHost is request.host as IAP's conditions see it: the port
// dropped, trailing dots removed, lowercased, internationalised names in
// punycode ("café.fr" becomes "xn--caf-dma.fr").
func NormalizeHost(host string) (string, error) {
	h := strings.TrimSpace(host)
	if hn, _, err := net.SplitHostPort(h); err == nil {
		h = hn
	}
	h = strings.TrimRight(h, ".")
	if h == "" {
		return "", fmt.Errorf("empty host name in %q", host)
	}
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(h))
	if err != nil {
		// Some valid-looking names fail strict lookup rules (underscores);
		// fall back to the punycode conversion alone.
		ascii, err = idna.Punycode.ToASCII(strings.ToLower(h))
		if err != nil {
			return "", fmt.Errorf("host %q is not a valid host name: %w", host, err)
		}
	}
	return strings.ToLower(ascii), nil
}

// NormalizePath is request.path as IAP normalises it: the query dropped,
// path parameters (from ";" to the next "/" or the end) removed, "." and
// ".." segments resolved. A segment starting with "..;" is rejected with
// HTTP 400, as IAP does, because servers disagree on what it means.
func NormalizePath(p string) (string, error) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "/", nil
	}
	segs := strings.Split(p, "/")
	var out []string
	trailing := false
	for i, s := range segs {
		if i == 0 && s == "" {
			continue
		}
		if strings.HasPrefix(s, "..;") {
			return "", &HTTPError{Status: 400, Msg: fmt.Sprintf("path %q has a segment starting with \"..;\"", p)}
		}
		if j := strings.IndexByte(s, ';'); j >= 0 {
			s = s[:j]
		}
		last := i == len(segs)-1
		switch s {
		case ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		case "":
			trailing = last
			if !last && len(out) > 0 {
				// Keep empty segments in the middle ("//"): IAP does not
				// merge slashes, and servers differ.
				out = append(out, "")
			}
		default:
			out = append(out, s)
			trailing = false
		}
	}
	res := "/" + strings.Join(out, "/")
	if trailing && !strings.HasSuffix(res, "/") {
		res += "/"
	}
	return res, nil
}

// webRequests returns the two requests IAP checks for a web request: the
// path as sent (without query or fragment) and the normalised path, both
// with the normalised host. Access needs both to pass. A URL IAP refuses
// gives a *HTTPError.
func webRequests(r Request) (sent, normalized Request, err error) {
	if r.Host != "" {
		h, err := NormalizeHost(r.Host)
		if err != nil {
			return r, r, &HTTPError{Status: 400, Msg: err.Error()}
		}
		r.Host = h
	}
	norm, err := NormalizePath(r.Path)
	if err != nil {
		return r, r, err
	}
	raw := r.Path
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" {
		raw = "/"
	}
	sent, normalized = r, r
	sent.Path, normalized.Path = raw, norm
	return sent, normalized, nil
}

// EvalWebCondition evaluates a condition on an IAP web resource the way
// IAP does: on the normalised host, and with both the path as sent and the
// normalised path; access needs both to pass. A path IAP refuses gives a
// *HTTPError.
func EvalWebCondition(expr string, r Request) (bool, error) {
	sent, norm, err := webRequests(r)
	if err != nil {
		return false, err
	}
	ok, err := EvalCondition(expr, sent)
	if err != nil || !ok {
		return false, err
	}
	return EvalCondition(expr, norm)
}

// SimulateWeb is SimulateWith for a request to an IAP web resource: it
// simulates both requests IAP checks and grants only when both pass. A URL
// IAP refuses before any policy is checked gives a *HTTPError.
func SimulateWeb(p *Policy, member, permission string, r Request, opt SimOptions) (Result, error) {
	sent, norm, err := webRequests(r)
	if err != nil {
		return Result{}, err
	}
	res := SimulateWith(p, member, permission, sent, opt)
	if res.Verdict != Granted || norm.Path == sent.Path {
		return res, nil
	}
	if res2 := SimulateWith(p, member, permission, norm, opt); res2.Verdict != Granted {
		res2.Summary += fmt.Sprintf(" (the path as sent passes, but its normalised form %q does not)", norm.Path)
		return res2, nil
	}
	return res, nil
}

// ParseURL splits an https URL into the host and path IAP would see.
func ParseURL(raw string) (host, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("%q has no host: give a URL like https://app.example.com/path", raw)
	}
	if s := strings.ToLower(u.Scheme); s != "https" && s != "http" {
		return "", "", fmt.Errorf("%q is not an http or https URL: IAP secures web apps only", raw)
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return u.Host, path, nil
}

var (
	hostEndsWith  = regexp.MustCompile(`request\.host\.endsWith\(\s*(?:"([^"]*)"|'([^']*)')\s*\)`)
	hostEquals    = regexp.MustCompile(`request\.host\s*==\s*(?:"([^"]*)"|'([^']*)')`)
	pathStarts    = regexp.MustCompile(`request\.path\.(startsWith|endsWith|contains)\(\s*(?:"([^"]*)"|'([^']*)')\s*\)`)
	needsEncoding = regexp.MustCompile(`[^A-Za-z0-9\-._~/!$&'()*+,;=:@%]`)
)

func lit(m []string, from int) string {
	if m[from] != "" {
		return m[from]
	}
	return m[from+1]
}

// LintCondition warns about conditions on IAP web resources that do not
// mean what they seem to.
func LintCondition(expr string) []string {
	var w []string
	for _, m := range hostEndsWith.FindAllStringSubmatch(expr, -1) {
		suffix := lit(m, 1)
		if suffix != "" && !strings.HasPrefix(suffix, ".") {
			w = append(w, fmt.Sprintf("request.host.endsWith(%q) also matches hosts like \"test%s\"; use endsWith(%q), which no longer matches %q itself (add `|| request.host == %q` if the apex should match)",
				suffix, suffix, "."+suffix, suffix, suffix))
		}
	}
	for _, m := range hostEquals.FindAllStringSubmatch(expr, -1) {
		h := lit(m, 1)
		if n, err := NormalizeHost(h); err == nil && n != h {
			w = append(w, fmt.Sprintf("request.host is normalised before the check, so request.host == %q never matches: compare with %q", h, n))
		}
	}
	for _, m := range pathStarts.FindAllStringSubmatch(expr, -1) {
		p := lit(m, 2)
		if needsEncoding.MatchString(p) {
			enc := (&url.URL{Path: p}).EscapedPath()
			w = append(w, fmt.Sprintf("request.path.%s(%q): browsers send such characters percent-encoded (%q), so the check can be bypassed or never match; test the encoded form too",
				m[1], p, enc))
		}
	}
	return w
}
