package rdp

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// URLScheme is the scheme of IAP Desktop's connection links.
const URLScheme = "iap-rdp"

// URL is a parsed iap-rdp:///PROJECT/ZONE/INSTANCE?PARAMS link.
type URL struct {
	Project, Zone, Instance string
	// Params holds the parameters given, by canonical name, with their
	// values normalised (enumerations as IAP Desktop's numbers).
	Params map[string]string
	// Ignored lists parameters that are valid for IAP Desktop but have no
	// effect with an external client (ConnectionBar, RdpHookWindowsKeys,
	// RdpRedirectPort, RdpRedirectDevice).
	Ignored []string
}

type paramKind int

const (
	kindString paramKind = iota
	kindPort
	kindEnum
)

type urlParam struct {
	name   string
	kind   paramKind
	values []string // enumeration names; the index is IAP Desktop's number
	// apply sets the parameter on s; nil means accepted but without effect.
	apply func(s *Settings, n int, v string)
	help  string
}

func boolish(set func(s *Settings, on bool)) func(*Settings, int, string) {
	return func(s *Settings, n int, _ string) { set(s, n == 1) }
}

var disabledEnabled = []string{"Disabled", "Enabled"}

// urlParams are IAP Desktop's documented iap-rdp parameters.
var urlParams = []urlParam{
	{name: "Username", kind: kindString, apply: func(s *Settings, _ int, v string) { s.Username = v }, help: "a Windows username (SAM format)"},
	{name: "Domain", kind: kindString, apply: func(s *Settings, _ int, v string) { s.Domain = v }, help: "a NetBIOS domain"},
	{name: "RdpPort", kind: kindPort, apply: func(s *Settings, n int, _ string) { s.Port = n }, help: "a TCP port 1-65535"},
	{name: "ConnectionBar", kind: kindEnum, values: []string{"AutoHide", "Pinned", "Off"}},
	{name: "DesktopSize", kind: kindEnum, values: []string{"ClientSize", "ScreenSize", "AutoAdjust"},
		apply: func(s *Settings, n int, _ string) { s.DesktopSize = DesktopSize(n) }},
	{name: "ColorDepth", kind: kindEnum, values: []string{"HighColor", "TrueColor", "DeepColor"},
		apply: func(s *Settings, n int, _ string) { s.ColorDepth = ColorDepth(n) }},
	{name: "AudioMode", kind: kindEnum, values: []string{"PlayLocally", "PlayOnServer", "DoNotPlay"},
		apply: func(s *Settings, n int, _ string) { s.AudioMode = AudioMode(n) }},
	{name: "RedirectClipboard", kind: kindEnum, values: disabledEnabled,
		apply: boolish(func(s *Settings, on bool) { s.RedirectClipboard = on })},
	{name: "RdpRedirectPrinter", kind: kindEnum, values: disabledEnabled,
		apply: boolish(func(s *Settings, on bool) { s.RedirectPrinters = on })},
	{name: "RdpRedirectSmartCard", kind: kindEnum, values: disabledEnabled,
		apply: boolish(func(s *Settings, on bool) { s.RedirectSmartCards = on })},
	{name: "RdpRedirectPort", kind: kindEnum, values: disabledEnabled},
	{name: "RdpRedirectDrive", kind: kindEnum, values: disabledEnabled,
		apply: boolish(func(s *Settings, on bool) { s.RedirectDrives = on })},
	{name: "RdpRedirectDevice", kind: kindEnum, values: disabledEnabled},
	{name: "RdpHookWindowsKeys", kind: kindEnum, values: []string{"Never", "Always", "FullScreenOnly"}},
	{name: "CredentialGenerationBehavior", kind: kindEnum, values: []string{"Allow", "AllowIfNoCredentialsFound", "Disallow", "Force"},
		apply: func(s *Settings, n int, _ string) { s.CredentialGeneration = CredentialGeneration(n) }},
}

func lookupParam(name string) (urlParam, bool) {
	for _, p := range urlParams {
		if strings.EqualFold(p.name, name) {
			return p, true
		}
	}
	return urlParam{}, false
}

// URLParamNames lists the parameters ParseURL accepts, in IAP Desktop's
// spelling.
func URLParamNames() []string {
	names := make([]string, len(urlParams))
	for i, p := range urlParams {
		names[i] = p.name
	}
	return names
}

var (
	projectRE  = regexp.MustCompile(`^(?:(?:[-a-z0-9]{1,63}\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?):)?(?:[0-9]{1,19}|[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)$`)
	zoneRE     = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$`)
	instanceRE = regexp.MustCompile(`^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|[1-9][0-9]{0,19})$`)
)

// ParseURL parses an iap-rdp:///PROJECT/ZONE/INSTANCE?PARAMS link the way
// IAP Desktop does: one or three slashes, parameter names in any case,
// enumeration values as IAP Desktop's numbers or names (any case), empty
// values meaning "not set". Unlike IAP Desktop it refuses, with an error
// naming the parameter and its allowed values, unknown parameters, bad
// values, repeated parameters and anything that looks like a password.
func ParseURL(raw string) (*URL, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a valid iap-rdp link: %w", err)
	}
	if !strings.EqualFold(u.Scheme, URLScheme) {
		return nil, fmt.Errorf("not an iap-rdp link (scheme %q): use iap-rdp:///PROJECT/ZONE/INSTANCE", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("iap-rdp link %q has no path: use iap-rdp:///PROJECT/ZONE/INSTANCE", raw)
	}
	if u.Host != "" || u.User != nil {
		return nil, fmt.Errorf("iap-rdp link has a host part %q: use three slashes, iap-rdp:///PROJECT/ZONE/INSTANCE", u.Host)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("iap-rdp link has a #fragment, which is not allowed")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if !strings.HasPrefix(u.Path, "/") || len(parts) != 3 {
		return nil, fmt.Errorf("iap-rdp link path %q is not PROJECT/ZONE/INSTANCE", u.Path)
	}
	out := &URL{Project: parts[0], Zone: parts[1], Instance: parts[2], Params: map[string]string{}}
	if !projectRE.MatchString(out.Project) {
		return nil, fmt.Errorf("iap-rdp link: %q is not a valid project ID", out.Project)
	}
	if !zoneRE.MatchString(out.Zone) {
		return nil, fmt.Errorf("iap-rdp link: %q is not a valid zone (like us-central1-a)", out.Zone)
	}
	if !instanceRE.MatchString(out.Instance) {
		return nil, fmt.Errorf("iap-rdp link: %q is not a valid instance name", out.Instance)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("iap-rdp link has a malformed query: %w", err)
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, k := range keys {
		if strings.Contains(strings.ToLower(k), "password") {
			return nil, fmt.Errorf("iap-rdp link has parameter %q: links must never carry passwords; iapterm asks for the password, reads it from the keyring or generates one", k)
		}
		if strings.EqualFold(k, "CredentialCallbackUrl") {
			return nil, fmt.Errorf("iap-rdp link has parameter CredentialCallbackUrl, which iapterm does not support: remove it, and use a saved or generated password")
		}
		p, ok := lookupParam(k)
		if !ok {
			return nil, fmt.Errorf("iap-rdp link has unknown parameter %q: allowed are %s", k, strings.Join(URLParamNames(), ", "))
		}
		if prev, dup := seen[p.name]; dup || len(query[k]) > 1 {
			if prev == "" {
				prev = k
			}
			return nil, fmt.Errorf("iap-rdp link gives parameter %s more than once (%s)", p.name, prev)
		}
		seen[p.name] = k
		v := strings.TrimSpace(query[k][0])
		if v == "" {
			continue // IAP Desktop treats an empty value as not set
		}
		norm, err := p.normalise(v)
		if err != nil {
			return nil, err
		}
		out.Params[p.name] = norm
		if p.apply == nil {
			out.Ignored = append(out.Ignored, p.name)
		}
	}
	return out, nil
}

func (p urlParam) normalise(v string) (string, error) {
	switch p.kind {
	case kindString:
		if strings.ContainsAny(v, "\x00\r\n") {
			return "", fmt.Errorf("iap-rdp link parameter %s has a control character", p.name)
		}
		if p.name == "Username" {
			if err := ValidateUsername(v); err != nil {
				return "", fmt.Errorf("iap-rdp link parameter Username: %w", err)
			}
		}
		if p.name == "Domain" && strings.ContainsAny(v, "\"/\\[]:;|=,+*?<>") {
			return "", fmt.Errorf("iap-rdp link parameter Domain %q has a character a NetBIOS domain cannot have", v)
		}
		return v, nil
	case kindPort:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("iap-rdp link parameter %s=%q is not %s", p.name, v, p.help)
		}
		return strconv.Itoa(n), nil
	default:
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(p.values) {
			return strconv.Itoa(n), nil
		}
		for i, name := range p.values {
			if strings.EqualFold(name, v) {
				return strconv.Itoa(i), nil
			}
		}
		allowed := make([]string, len(p.values))
		for i, name := range p.values {
			allowed[i] = fmt.Sprintf("%d (%s)", i, name)
		}
		return "", fmt.Errorf("iap-rdp link parameter %s=%q is not allowed: use one of %s", p.name, v, strings.Join(allowed, ", "))
	}
}

// Apply sets the parameters the link gave on s; the others are left as
// they are, so a link can be layered over saved settings.
func (u *URL) Apply(s *Settings) {
	for _, p := range urlParams {
		v, ok := u.Params[p.name]
		if !ok || p.apply == nil {
			continue
		}
		n, _ := strconv.Atoi(v)
		p.apply(s, n, v)
	}
}

// Settings returns DefaultSettings with the link's parameters applied.
func (u *URL) Settings() Settings {
	s := DefaultSettings()
	u.Apply(&s)
	return s
}

// String formats the link with its parameters in IAP Desktop's spelling
// and numbers, which every IAP Desktop version reads.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString(URLScheme + ":///" + u.Project + "/" + u.Zone + "/" + u.Instance)
	sep := "?"
	for _, p := range urlParams {
		v, ok := u.Params[p.name]
		if !ok {
			continue
		}
		b.WriteString(sep + p.name + "=" + url.QueryEscape(v))
		sep = "&"
	}
	return b.String()
}
