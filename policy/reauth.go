package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Reauthentication methods, weakest first.
const (
	ReauthLogin                 = "LOGIN"
	ReauthEnrolledSecondFactors = "ENROLLED_SECOND_FACTORS"
	ReauthSecureKey             = "SECURE_KEY"
)

// Reauth policy types.
const (
	ReauthMinimum = "MINIMUM"
	ReauthDefault = "DEFAULT"
)

// MinReauthMaxAge is the shortest maxAge IAP accepts.
const MinReauthMaxAge = 300 * time.Second

// ReauthExemptions is what users must know about where reauth applies.
const ReauthExemptions = "IAP TCP forwarding and service accounts are exempt from reauthentication: these settings affect IAP-secured web apps only."

var methodStrength = map[string]int{ReauthLogin: 1, ReauthEnrolledSecondFactors: 2, ReauthSecureKey: 3}

// ReauthSettings is one level's accessSettings.reauthSettings. Level names
// the organisation, folder or service for messages.
type ReauthSettings struct {
	Level      string `json:"-" yaml:"-"`
	Method     string `json:"method,omitempty" yaml:"method,omitempty"`
	MaxAge     string `json:"maxAge,omitempty" yaml:"maxAge,omitempty"` // "3600s"
	PolicyType string `json:"policyType,omitempty" yaml:"policyType,omitempty"`
}

// Effective is the reauth policy in force at one level of the hierarchy.
type Effective struct {
	Level      string        `json:"level"`
	Method     string        `json:"method,omitempty"`
	MaxAge     time.Duration `json:"-"`
	MaxAgeText string        `json:"maxAge,omitempty"`
	PolicyType string        `json:"policyType,omitempty"`
	// From says which levels' settings made this result.
	From string `json:"from,omitempty"`
}

func (e Effective) String() string {
	if e.Method == "" {
		return fmt.Sprintf("%s: no reauthentication", e.Level)
	}
	return fmt.Sprintf("%s: %s every %s (%s, from %s)", e.Level, e.Method, e.MaxAgeText, e.PolicyType, e.From)
}

type parsedReauth struct {
	set        bool
	method     string
	maxAge     time.Duration
	policyType string
}

func parseReauthLevel(s ReauthSettings) (parsedReauth, error) {
	name := s.Level
	if name == "" {
		name = "settings"
	}
	if s.Method == "" && s.MaxAge == "" && s.PolicyType == "" {
		return parsedReauth{}, nil
	}
	p := parsedReauth{set: true, method: strings.ToUpper(strings.TrimSpace(s.Method)), policyType: strings.ToUpper(strings.TrimSpace(s.PolicyType))}
	if _, ok := methodStrength[p.method]; !ok {
		return p, fmt.Errorf("%s: method %q is not LOGIN, ENROLLED_SECOND_FACTORS or SECURE_KEY", name, s.Method)
	}
	switch p.policyType {
	case "":
		p.policyType = ReauthDefault
	case ReauthMinimum, ReauthDefault:
	default:
		return p, fmt.Errorf("%s: policyType %q is not MINIMUM or DEFAULT", name, s.PolicyType)
	}
	d, err := parseProtoDuration(s.MaxAge)
	if err != nil {
		return p, fmt.Errorf("%s: maxAge: %w", name, err)
	}
	if d < MinReauthMaxAge {
		return p, fmt.Errorf("%s: maxAge %s is shorter than the minimum of 300s", name, s.MaxAge)
	}
	p.maxAge = d
	return p, nil
}

// parseProtoDuration reads a protobuf JSON duration ("3600s", "1.5s"), and
// also Go durations ("1h") and bare seconds.
func parseProtoDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing: give it in seconds, like \"3600s\"")
	}
	if n, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64); err == nil {
		if n < 0 || n > 1e9 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like \"3600s\"", s)
	}
	return d, nil
}

func durationText(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// MergeReauth computes the reauth policy in force at each level of a
// hierarchy given top-down (organisation, folders, service). A MINIMUM
// policy binds everything below it: a child's own setting is merged into
// it (the stronger method, the shorter maxAge) and the result stays
// MINIMUM. Under a DEFAULT policy a child's own setting, when it has one,
// replaces the inherited one.
func MergeReauth(levels []ReauthSettings) ([]Effective, error) {
	var out []Effective
	var cur parsedReauth
	from := ""
	for i, l := range levels {
		if l.Level == "" {
			l.Level = fmt.Sprintf("level %d", i+1)
		}
		own, err := parseReauthLevel(l)
		if err != nil {
			return nil, err
		}
		switch {
		case !own.set:
			// Nothing here: inherit.
		case cur.set && cur.policyType == ReauthMinimum:
			if methodStrength[own.method] > methodStrength[cur.method] {
				cur.method = own.method
			}
			cur.maxAge = min(cur.maxAge, own.maxAge)
			from += " + " + l.Level
		default:
			cur = own
			from = l.Level
		}
		e := Effective{Level: l.Level}
		if cur.set {
			e.Method, e.MaxAge, e.MaxAgeText, e.PolicyType, e.From = cur.method, cur.maxAge, durationText(cur.maxAge), cur.policyType, from
		}
		out = append(out, e)
	}
	return out, nil
}

type reauthFile struct {
	AccessSettings *struct {
		ReauthSettings *ReauthSettings `json:"reauthSettings" yaml:"reauthSettings"`
	} `json:"accessSettings" yaml:"accessSettings"`
	ReauthSettings *ReauthSettings `json:"reauthSettings" yaml:"reauthSettings"`
	Method         string          `json:"method" yaml:"method"`
	MaxAge         string          `json:"maxAge" yaml:"maxAge"`
	PolicyType     string          `json:"policyType" yaml:"policyType"`
}

// ParseReauth reads reauth settings from an IAP settings file (YAML or
// JSON): accessSettings.reauthSettings, a bare reauthSettings object, or
// its fields at the top level. A file without any is a level that sets
// nothing.
func ParseReauth(data []byte) (ReauthSettings, error) {
	var f reauthFile
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(data, &f); err != nil {
			return ReauthSettings{}, jsonError(data, err)
		}
	} else if len(trimmed) > 0 {
		if err := yaml.Unmarshal(data, &f); err != nil {
			return ReauthSettings{}, yamlError(err)
		}
	}
	if len(trimmed) > 0 {
		if err := checkReauthKeys(data); err != nil {
			return ReauthSettings{}, err
		}
	}
	switch {
	case f.AccessSettings != nil && f.AccessSettings.ReauthSettings != nil:
		return *f.AccessSettings.ReauthSettings, nil
	case f.ReauthSettings != nil:
		return *f.ReauthSettings, nil
	}
	return ReauthSettings{Method: f.Method, MaxAge: f.MaxAge, PolicyType: f.PolicyType}, nil
}

// reauthFields are the keys of a reauthSettings object.
var reauthFields = []string{"method", "maxAge", "policyType"}

// checkReauthKeys rejects keys that look like reauthentication settings but
// are not spelt as IAP spells them: they would be ignored, and the level
// would silently set nothing. Other keys (the rest of IAP's settings) are
// left alone.
func checkReauthKeys(data []byte) error {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil // the typed decoding reports syntax errors
	}
	misspelt := func(where string, m map[string]any, want ...string) error {
		for k := range m {
			for _, w := range want {
				lk, lw := strings.ToLower(k), strings.ToLower(w)
				near := lk == lw || (w == "reauthSettings" && strings.Contains(lk, "reauth"))
				if near && k != w {
					return &ParseError{Msg: fmt.Sprintf("unknown key %q%s: IAP spells it %q", k, where, w)}
				}
			}
		}
		return nil
	}
	object := func(where string, v any) error {
		if v == nil {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return &ParseError{Msg: fmt.Sprintf("%s must be a mapping with %s", where, strings.Join(reauthFields, ", "))}
		}
		for k := range m {
			if !slices.Contains(reauthFields, k) {
				return &ParseError{Msg: fmt.Sprintf("unknown key %q in %s: it has %s", k, where, strings.Join(reauthFields, ", "))}
			}
		}
		return nil
	}
	if err := misspelt("", doc, append([]string{"reauthSettings", "accessSettings"}, reauthFields...)...); err != nil {
		return err
	}
	if v, ok := doc["reauthSettings"]; ok {
		if err := object("reauthSettings", v); err != nil {
			return err
		}
	}
	if as, ok := doc["accessSettings"].(map[string]any); ok {
		if err := misspelt(" in accessSettings", as, "reauthSettings"); err != nil {
			return err
		}
		if v, ok := as["reauthSettings"]; ok {
			if err := object("accessSettings.reauthSettings", v); err != nil {
				return err
			}
		}
	}
	return nil
}
