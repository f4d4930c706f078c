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
			return ReauthSettings{}, yamlErrorFor(err, "valid IAP settings YAML")
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

// The other keys IAP's settings hold at the top and in accessSettings;
// they are not reauthentication settings and pass unchecked.
var (
	iapTopKeys    = []string{"name", "applicationSettings"}
	iapAccessKeys = []string{"allowedDomainsSettings", "corsSettings", "gcipSettings", "identitySources", "oauthSettings", "policyDelegationSettings", "workforceIdentitySettings"}
)

// checkReauthKeys rejects keys that look like reauthentication settings but
// are not spelt as IAP spells them (other case, _ or -, a typo): they would
// be ignored, and the level would silently set nothing. It also rejects a
// reauthSettings that is not a mapping or has other keys, and a file that
// gives the settings in more than one place (only one would be read). Every
// problem is reported, in the order of the keys, so the message is the
// same on every run.
func checkReauthKeys(data []byte) error {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil // the typed decoding reports syntax errors
	}
	var problems []string
	// misspelt reports the keys of m, other than known, that are near one
	// of want.
	misspelt := func(where string, m map[string]any, known []string, want ...string) {
		for _, k := range sortedMapKeys(m) {
			if slices.Contains(known, k) || slices.Contains(want, k) {
				continue
			}
			if w, ok := nearKey(k, want); ok {
				problems = append(problems, fmt.Sprintf("unknown key %q%s: IAP spells it %q", k, where, w))
			}
		}
	}
	object := func(where string, v any) {
		if v == nil {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s must be a mapping with %s", where, strings.Join(reauthFields, ", ")))
			return
		}
		for _, k := range sortedMapKeys(m) {
			if slices.Contains(reauthFields, k) {
				continue
			}
			if w, ok := nearKey(k, reauthFields); ok {
				problems = append(problems, fmt.Sprintf("unknown key %q in %s: IAP spells it %q", k, where, w))
			} else {
				problems = append(problems, fmt.Sprintf("unknown key %q in %s: it has %s", k, where, strings.Join(reauthFields, ", ")))
			}
		}
	}
	misspelt("", doc, iapTopKeys, append([]string{"reauthSettings", "accessSettings"}, reauthFields...)...)
	var places []string
	if v, ok := doc["reauthSettings"]; ok {
		object("reauthSettings", v)
		places = append(places, "reauthSettings")
	}
	switch as := doc["accessSettings"].(type) {
	case nil:
	case map[string]any:
		misspelt(" in accessSettings", as, iapAccessKeys, "reauthSettings")
		if v, ok := as["reauthSettings"]; ok {
			object("accessSettings.reauthSettings", v)
			places = append(places, "accessSettings.reauthSettings")
		}
	default:
		problems = append(problems, "accessSettings must be a mapping (with reauthSettings)")
	}
	for _, f := range reauthFields {
		if _, ok := doc[f]; ok {
			places = append(places, "top-level "+strings.Join(presentKeys(doc, reauthFields), ", "))
			break
		}
	}
	if len(places) > 1 {
		problems = append(problems, fmt.Sprintf("reauthentication settings are given in %s: keep one (IAP's own files use accessSettings.reauthSettings)", strings.Join(places, " and ")))
	}
	if len(problems) == 0 {
		return nil
	}
	return &ParseError{Msg: strings.Join(problems, "; ")}
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func presentKeys(m map[string]any, keys []string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// nearKey returns the key of want that k is a misspelling of: the same
// but for case, "_" and "-", a typo of at most two edits (one for short
// keys), or any key with "reauth" in it for reauthSettings.
func nearKey(k string, want []string) (string, bool) {
	fold := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	fk := fold(k)
	for _, w := range want {
		fw := fold(w)
		limit := 1
		if len(fw) >= 6 {
			limit = 2
		}
		if fk == fw || editDistance(fk, fw) <= limit || (w == "reauthSettings" && strings.Contains(fk, "reauth")) {
			return w, true
		}
	}
	return "", false
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// neighbours that turn a into b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
